/**
 * The interop tasks end to end: verify-backbones (its output contract and exit status), import of a golden
 * checkpoint into a run folder that embed (and, where the kit finds real LFW, eval) takes, and import's refusals
 * (unsafe pickle, wrong flags) leaving nothing behind.
 */
import { expect } from "expect";
import { decodeNpy } from "../../lib/data/npy.ts";
import { GOLDEN, lastLine, lfwPath, lfwTest, runDeno } from "../shared.ts";

const golden = JSON.parse(await Deno.readTextFile(`${GOLDEN}backbones.json`));

Deno.test("verify-backbones: one line per case, `backbones: N passed, M failed`, status 1 on a failure", async () => {
  const ok = await runDeno(["tasks/verify_backbones.ts", "--backend", "cpu"]);
  expect(ok.code).toBe(0);
  const n = golden.cases.length;
  expect(lastLine(ok.stdout)).toBe(`backbones: ${n} passed, 0 failed`);
  expect(ok.stdout.split("\n").filter((l) => l.startsWith("PASS ")).length).toBe(n);
  // A copy with one case's embedding moved far outside its tolerance, paths made absolute.
  const tmp = await Deno.makeTempDir();
  try {
    const c = structuredClone(golden.cases[0]);
    c.checkpoint = `${GOLDEN}${c.checkpoint}`;
    c.images = c.images.map((p: string) => `${GOLDEN}${p}`);
    c.embedding[0][0] += 1;
    await Deno.writeTextFile(`${tmp}/bad.json`, JSON.stringify({ format: golden.format, cases: [c] }));
    const bad = await runDeno(["tasks/verify_backbones.ts", `${tmp}/bad.json`, "--backend", "cpu"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`^FAIL ${c.name} `, "m"));
    expect(lastLine(bad.stdout)).toBe("backbones: 0 passed, 1 failed");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("import -> run folder -> embed .npy reproduces the official embeddings", async () => {
  const c = golden.cases.find((x: { name: string }) => x.name === "os_main_sfnet20bn_w0.125_e32");
  const tmp = await Deno.makeTempDir();
  try {
    const imp = await runDeno([
      "tasks/import.ts",
      `${GOLDEN}${c.checkpoint}`,
      "--source",
      "opensphere",
      "--out",
      `${tmp}/run`,
    ]);
    expect(imp.code).toBe(0);
    const summary = JSON.parse(lastLine(imp.stdout));
    expect(summary).toMatchObject({ source: "opensphere", format: "zip", head: { numClasses: 10 } });
    expect(summary.config).toMatchObject(c.kit_equivalent);
    const run = JSON.parse(await Deno.readTextFile(`${tmp}/run/run.json`));
    expect(run.preprocess).toMatchObject({ channelOrder: "RGB", mean: 127.5, std: 127.5 });
    expect(run.imported.sha256).toBe(c.checkpoint_sha256);
    await Deno.writeTextFile(`${tmp}/list.txt`, c.images.map((p: string) => `${GOLDEN}${p}`).join("\n") + "\n");
    const raw = await runDeno([
      "tasks/embed.ts",
      `${tmp}/run`,
      "--images",
      `${tmp}/list.txt`,
      "--out",
      `${tmp}/raw.npy`,
      "--raw",
      "--backend",
      "cpu",
    ]);
    expect(raw.code).toBe(0);
    const e = decodeNpy(await Deno.readFile(`${tmp}/raw.npy`), "raw.npy");
    expect(e.shape).toEqual([3, 32]);
    const ref = c.embedding.flat() as number[];
    ref.forEach((v, i) =>
      expect(Math.abs(e.data[i] - v)).toBeLessThanOrEqual(c.tolerance.abs + c.tolerance.rel * Math.abs(v))
    );
    const flip = await runDeno([
      "tasks/embed.ts",
      `${tmp}/run`,
      "--images",
      `${tmp}/list.txt`,
      "--out",
      `${tmp}/flip.npy`,
      "--flip",
      "--backend",
      "cpu",
    ]);
    expect(flip.code).toBe(0);
    const f = decodeNpy(await Deno.readFile(`${tmp}/flip.npy`), "flip.npy");
    for (let i = 0; i < 3; i++) {
      const row = f.data.subarray(i * 32, i * 32 + 32);
      expect(Math.abs(Math.hypot(...row) - 1)).toBeLessThan(1e-5);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

lfwTest("import -> run folder -> eval on LFW View 2 takes the imported model", async () => {
  const c = golden.cases.find((x: { name: string }) => x.name === "os_main_sfnet20bn_w0.125_e32");
  const tmp = await Deno.makeTempDir();
  try {
    const imp = await runDeno([
      "tasks/import.ts",
      `${GOLDEN}${c.checkpoint}`,
      "--source",
      "opensphere",
      "--out",
      `${tmp}/run`,
    ]);
    expect(imp.code).toBe(0);
    const summary = JSON.parse(lastLine(imp.stdout));
    const ev = await runDeno([
      "tasks/eval.ts",
      `${tmp}/run`,
      "--data",
      lfwPath(),
      "--limit",
      "1",
      "--out",
      `${tmp}/eval`,
      "--backend",
      "cpu",
    ]);
    expect(ev.code).toBe(0);
    const metrics = JSON.parse(await Deno.readTextFile(`${tmp}/eval/metrics.json`));
    expect(metrics.model).toBe(`${summary.name}@0`);
    expect(metrics.metrics.view2.pairs).toBe(20);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("import: an unsafe pickle, a missing flag or a bad --model leave no run folder behind", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const evil = new URL("./fixtures/evil_reduce.pth", import.meta.url).pathname;
    const r = await runDeno(["tasks/import.ts", evil, "--source", "opensphere", "--out", `${tmp}/run`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/evil_reduce\.pth: evil_reduce\/data\.pkl: refused: .*names posix\.system/);
    const noSource = await runDeno(["tasks/import.ts", evil, "--out", `${tmp}/run`]);
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toMatch(/--source is required/);
    const file = `${GOLDEN}${golden.cases[0].checkpoint}`;
    const badModel = await runDeno([
      "tasks/import.ts",
      file,
      "--source",
      "opensphere",
      "--model",
      '{"depth":64}',
      "--out",
      `${tmp}/run`,
    ]);
    expect(badModel.code).toBe(1);
    expect(badModel.stderr).toMatch(/does not fit SFNet-64.*missing \d+: layer1\.1\.conv1\.weight/);
    expect([...Deno.readDirSync(tmp)]).toEqual([]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("import, embed, verify-backbones: --help prints usage and exits 0", async () => {
  for (const task of ["import", "embed", "verify_backbones"]) {
    const r = await runDeno([`tasks/${task}.ts`, "--help"]);
    expect([task, r.code]).toEqual([task, 0]);
    expect(r.stdout).toMatch(new RegExp(`deno task ${task.replace("_", "-")} `));
  }
});
