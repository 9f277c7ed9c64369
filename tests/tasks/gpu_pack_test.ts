/**
 * `deno task gpu-pack`: the plan (which kit files and npm packages go in) is checked on every run, cheaply; the
 * whole build → unpack into an empty folder → `run.sh` offline on WebGPU is slow (xz -9 of ~190 MiB: about three
 * minutes of one core) and runs only with SF2_TEST_GPU_PACK=1.
 * @module
 */
import { expect } from "expect";
import {
  DYNAMIC_NPM_IMPORTS,
  PACK_LIMIT_BYTES,
  PACK_ROOT,
  planFromInfo,
  planGpuPack,
  TORCH_TWIN_FILES,
} from "../../lib/bench/gpu_pack.ts";
import { lastLine, REPO, runDeno } from "../shared.ts";

Deno.test("gpu-pack plan: the step's kit modules, the twin's scripts, its npm packages and nothing else", async () => {
  const plan = await planGpuPack();
  for (const f of ["tasks/gpu_check.ts", "lib/bench/train.ts", "lib/backend/select.ts", ...TORCH_TWIN_FILES]) {
    expect(plan.files).toContain(f);
  }
  expect(plan.files.filter((f) => f.startsWith("tasks/") && f.endsWith(".ts"))).toEqual(["tasks/gpu_check.ts"]);
  const names = new Set(plan.packages.map((p) => p.name));
  for (const n of ["@tensorflow/tfjs", "@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-webgpu", "zod"]) {
    expect(names.has(n)).toBe(true);
  }
  for (const n of ["sharp", "playwright-core", "@vladmandic/face-api", "linkedom", "deno", "@observablehq/plot"]) {
    expect(names.has(n)).toBe(false);
  }
  // The pack's lock holds exactly those packages and its config imports only the step's roots.
  const lock = plan.lock as { npm: Record<string, unknown>; workspace: { dependencies: string[] } };
  expect(Object.keys(lock.npm).sort()).toEqual(plan.packages.map((p) => p.key).sort());
  expect(Object.keys(plan.denoJson.imports as object).sort()).toEqual(
    ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-webgpu", "zod"],
  );
  expect(plan.denoJson.nodeModulesDir).toBe("none");
  expect(plan.denoJson.tasks).toBeUndefined();
});

Deno.test("gpu-pack plan: the dynamic imports it adds are still imported by name in lib/backend/select.ts", async () => {
  // `deno info` cannot see them; if select.ts stops importing one, the list must change with it.
  const select = await Deno.readTextFile(`${REPO}lib/backend/select.ts`);
  for (const name of DYNAMIC_NPM_IMPORTS) expect(select).toContain(`importModule("${name}")`);
});

Deno.test("gpu-pack plan: an import the kit's config cannot resolve is named", () => {
  const info = { modules: [{ specifier: "npm:/left-pad@1.0.0/index.js" }], npmPackages: {} };
  expect(() => planFromInfo(info, { imports: {} }, { version: "5", specifiers: {}, npm: {} }, "file:///kit/"))
    .toThrow(/deno\.json: no import for "(left-pad|@tensorflow\/tfjs-backend-webgpu)"/);
});

const FULL = Deno.env.get("SF2_TEST_GPU_PACK") === "1";

Deno.test({
  name: "gpu-pack: build, unpack into an empty folder, run.sh offline on WebGPU" +
    (FULL ? "" : " [skipped: set SF2_TEST_GPU_PACK=1; about three minutes of one core]"),
  ignore: !FULL,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "sf2-gpu-pack-test-" });
    try {
      const archive = `${tmp}/pack.tar.xz`;
      const built = await runDeno(["tasks/gpu_pack.ts", "--out", archive]);
      expect({ code: built.code, stderr: built.code ? built.stderr : "" }).toEqual({ code: 0, stderr: "" });
      const summary = JSON.parse(lastLine(built.stdout));
      expect(summary.bytes).toBe((await Deno.stat(archive)).size);
      expect(summary.bytes).toBeLessThan(PACK_LIMIT_BYTES);
      await Deno.mkdir(`${tmp}/unpacked`);
      const untar = await new Deno.Command("tar", { args: ["-xJf", archive, "-C", `${tmp}/unpacked`] }).output();
      expect(untar.success).toBe(true);
      // Offline: --cached-only, and any network attempt would go to a closed port.
      const dead = "http://127.0.0.1:9";
      const run = await new Deno.Command(`${tmp}/unpacked/${PACK_ROOT}/run.sh`, {
        args: [
          "--allow-software",
          "--steps",
          "2",
          "--batch",
          "8",
          "--size",
          "56",
          "--width",
          "0.125",
          "--classes",
          "10",
        ],
        cwd: tmp,
        env: { NO_COLOR: "1", HTTPS_PROXY: dead, HTTP_PROXY: dead, DENO_DIR: `${tmp}/no-such-cache` },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(run.stdout), stderr = new TextDecoder().decode(run.stderr);
      if (run.code === 3 && /no GPU path on this machine/.test(stderr)) {
        console.warn("gpu-pack: the pack ran, but this machine has no WebGPU adapter at all: step not checked");
        return;
      }
      expect({ code: run.code, stderr: run.code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
      const result = JSON.parse(lastLine(stdout));
      expect(result.check).toBe("gpu");
      expect(result.kit.backend).toBe("webgpu");
      expect(result.kit.leakedTensors).toBe(0);
      expect(Number.isFinite(result.kit.lastLoss)).toBe(true);
      // Without CUDA the twin is a sentence saying so; with it, PyTorch's figures and the ratio.
      expect(typeof result.pytorch === "string" ? result.speedVsPytorch : "cuda").toBe(
        typeof result.pytorch === "string" ? null : "cuda",
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
