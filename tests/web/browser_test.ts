/**
 * The web site in a real browser: Debian's Chromium (`/usr/bin/chromium`, or `$CHROMIUM`) driven by playwright-core
 * (never a downloaded browser). One site is built for all tests, with a tiny SphereFace2 run trained here. Screenshots
 * go to a temp folder printed at the end (`$SF2_TEST_OUT` to choose it). Without Chromium every test is ignored, saying
 * why; the LFW comparisons are ignored, saying so, where the kit finds no real LFW (tests/shared.ts `lfwTest`).
 */
import { expect } from "expect";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { sphereface2Params } from "../../lib/analysis/loss_terms.ts";
import { initialBias } from "../../lib/losses/sphereface2.ts";
import { buildSite, serveSite } from "../../lib/web/site.ts";
import { lastLine, LFW_DIR, lfwTest, runDeno } from "../shared.ts";
import { tinyRaw } from "../train/tiny.ts";

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const hasChromium = await exists(CHROMIUM);
if (!hasChromium) console.error(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
const LFW = LFW_DIR ?? "";
const ignore = !hasChromium;

/** The fixture: a trained tiny run, the built site, a server, a browser; made on first use. */
let fixture: Promise<{ runDir: string; site: string; base: string; browser: Browser; out: string }> | null = null;
function setup() {
  fixture ??= (async () => {
    const tmp = await Deno.makeTempDir({ prefix: "sf2-web-" });
    const config = join(tmp, "tiny.json");
    await Deno.writeTextFile(
      config,
      JSON.stringify(tinyRaw({
        name: "web-test",
        model: { type: "sfnet", depth: 4, width: 0.0625, inputSize: 32, featDim: 16, bn: true },
        data: { kind: "toy", classes: 6, perClass: 8, size: 32, valClasses: 3, valPerClass: 3 },
        train: { steps: 8, batchSize: 8, lr: 0.05, milestones: [6] },
      })),
    );
    const runDir = join(tmp, "run");
    const r = await runDeno(["tasks/train.ts", config, "--out", runDir, "--backend", "cpu", "--quiet"]);
    if (r.code !== 0) throw new Error(`training the test model failed: ${r.stderr}`);
    const site = join(tmp, "site");
    await buildSite({ outDir: site, runDir, minify: false });
    const server = serveSite(site, 0);
    const out = Deno.env.get("SF2_TEST_OUT") ?? join(tmp, "screenshots");
    await Deno.mkdir(out, { recursive: true });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    cleanup = async () => {
      await browser.close();
      await server.shutdown();
      console.error(`browser tests: screenshots in ${out}`);
    };
    return { runDir, site, base: `http://127.0.0.1:${server.addr.port}/`, browser, out };
  })();
  return fixture;
}
let cleanup: () => Promise<void> = async () => {};

/** Opens a page, recording console errors and uncaught exceptions. */
async function open(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  await page.goto(url);
  return { page, errors };
}

/** The verify page's idle state (no ?a/?b): models loaded, waiting for photos. */
const READY = `document.querySelector("#status")?.textContent === "choose two photos"`;

const resultAttrs = (page: Page) =>
  page.evaluate(
    `Object.fromEntries([...document.querySelector("#result").attributes].map((a) => [a.name, a.value]))`,
  ) as Promise<Record<string, string>>;

Deno.test({
  name: "web: explorer.html loads without console errors; its b₀ equals initialBias at the controls' values",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { base, browser, out } = await setup();
    const { page, errors } = await open(browser, `${base}explorer.html`);
    await page.waitForSelector("#b0[data-b0]");
    const paper = initialBias(sphereface2Params({ variant: "C" }), 8631);
    expect(Number(await page.getAttribute("#b0", "data-b0"))).toBeCloseTo(paper, 12);
    // Move the controls as a user would: variant A, λ 0.5, r 30, t 2, K 1000 (m snaps to A's paper margin 0.5).
    await page.selectOption("#variant", "A");
    for (const [id, value] of [["lambda", "0.5"], ["r", "30"], ["t", "2"], ["numClasses", "1000"]]) {
      await page.$eval(`#${id}`, (el, v) => {
        (el as unknown as { value: string }).value = v;
        (el as unknown as EventTarget).dispatchEvent(new Event("input"));
      }, value);
    }
    const expected = initialBias(sphereface2Params({ variant: "A", lambda: 0.5, r: 30, m: 0.5, t: 2 }), 1000);
    expect(Number(await page.getAttribute("#b0", "data-b0"))).toBeCloseTo(expected, 12);
    expect(await page.$$eval("svg", (s) => s.length)).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: join(out, "explorer.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  },
});

Deno.test({
  name: "web: index.html loads without console errors and shows the backend and the model's threshold",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { base, browser, out } = await setup();
    const { page, errors } = await open(browser, `${base}index.html`);
    await page.waitForFunction(READY, null, {
      timeout: 120_000,
    });
    expect(await page.textContent("#backend")).toMatch(/^backend: (webgpu|webgl|wasm|cpu)/);
    expect(await page.textContent("#model")).toContain("threshold cos*");
    await page.screenshot({ path: join(out, "index-empty.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  },
});

lfwTest({
  name: "web: the page's cosine on two LFW images equals `deno task compare` on the same files (1e-3)",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { base, browser, out, site, runDir } = await setup();
    // The page fetches ?a=/?b= relative to the site: copy the two photos in (the site is a temp folder).
    const pairs = [["Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0004.jpg"], [
      "Abel_Pacheco/Abel_Pacheco_0001.jpg",
      "Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg",
    ]];
    await Deno.mkdir(join(site, "lfw"), { recursive: true });
    for (const [k, [a, b]] of pairs.entries()) {
      for (const f of [a, b]) await Deno.copyFile(`${LFW}/images/${f}`, join(site, "lfw", f.split("/")[1]));
      const names = [a, b].map((f) => `lfw/${f.split("/")[1]}`);
      // wasm: the backend compare uses, and much faster than webgl on a software rasteriser (the automatic choice is
      // covered by the test above).
      const { page, errors } = await open(browser, `${base}index.html?a=${names[0]}&b=${names[1]}&backend=wasm`);
      await page.waitForSelector("#result[data-cosine], #result[data-error]", { timeout: 180_000 });
      const attrs = await resultAttrs(page);
      expect(attrs["data-error"]).toBeUndefined();
      await page.screenshot({ path: join(out, `index-pair${k + 1}.png`), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
      const r = await runDeno(["tasks/compare.ts", runDir, `${LFW}/images/${a}`, `${LFW}/images/${b}`]);
      expect({ code: r.code, stderr: r.code ? r.stderr : "" }).toEqual({ code: 0, stderr: "" });
      const task = JSON.parse(lastLine(r.stdout));
      const delta = Math.abs(Number(attrs["data-cosine"]) - task.cosine);
      console.error(
        `pair ${k + 1}: page cosine ${attrs["data-cosine"]}, compare ${task.cosine}, |Δ| ${delta.toExponential(1)}`,
      );
      expect(delta).toBeLessThan(1e-3);
      expect(Number(attrs["data-threshold"])).toBeCloseTo(task.threshold, 12);
      expect(attrs["data-same"]).toBe(String(task.same));
    }
  },
});

lfwTest({
  name: "web: the page on WebGPU (Chromium's SwiftShader adapter) agrees with `deno task compare` (1e-3)",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { base, site, runDir } = await setup();
    const files = ["Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0004.jpg"];
    await Deno.mkdir(join(site, "lfw"), { recursive: true });
    for (const f of files) await Deno.copyFile(`${LFW}/images/${f}`, join(site, "lfw", f.split("/")[1]));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--enable-unsafe-webgpu",
        "--use-angle=swiftshader",
        "--enable-features=Vulkan",
        "--use-vulkan=swiftshader",
        "--no-sandbox",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const names = files.map((f) => `lfw/${f.split("/")[1]}`);
      const { page, errors } = await open(browser, `${base}index.html?a=${names[0]}&b=${names[1]}`);
      await page.waitForSelector("#result[data-cosine], #result[data-error]", { timeout: 180_000 });
      const line = await page.textContent("#backend");
      if (!line?.startsWith("backend: webgpu")) {
        console.error(`WebGPU comparison not made: this Chromium offers no WebGPU adapter (${line})`);
        return;
      }
      const attrs = await resultAttrs(page);
      expect(attrs["data-error"]).toBeUndefined();
      expect(errors).toEqual([]);
      await page.close();
      const r = await runDeno(["tasks/compare.ts", runDir, ...files.map((f) => `${LFW}/images/${f}`)]);
      expect(r.code).toBe(0);
      const task = JSON.parse(lastLine(r.stdout));
      const delta = Math.abs(Number(attrs["data-cosine"]) - task.cosine);
      console.error(
        `${line}: page cosine ${attrs["data-cosine"]}, compare ${task.cosine}, |Δ| ${delta.toExponential(1)}`,
      );
      expect(delta).toBeLessThan(1e-3);
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name: "web: both pages work from a plain static server too (python3 -m http.server)",
  ignore: ignore || !(await exists("/usr/bin/python3")),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { site, browser } = await setup();
    const port = 20_000 + (Deno.pid % 20_000);
    const server = new Deno.Command("/usr/bin/python3", {
      args: ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", site],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const base = `http://127.0.0.1:${port}/`;
      for (let i = 0; i < 50; i++) {
        if (await fetch(base).then((r) => (r.body?.cancel(), r.ok), () => false)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const explorer = await open(browser, `${base}explorer.html`);
      await explorer.page.waitForSelector("#b0[data-b0]");
      expect(explorer.errors).toEqual([]);
      await explorer.page.close();
      const index = await open(browser, `${base}index.html`);
      await index.page.waitForFunction(
        READY,
        null,
        {
          timeout: 120_000,
        },
      );
      expect(index.errors).toEqual([]);
      await index.page.close();
    } finally {
      server.kill("SIGTERM");
      await server.status;
    }
  },
});

Deno.test({
  name: "web: close the browser and the server",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (fixture) await cleanup();
  },
});
