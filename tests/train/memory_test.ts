import { expect } from "expect";
import { trainRun } from "../../lib/train/loop.ts";
import { checkMemory, headBenchBytes, trainingBytes, WASM_HEAP_BYTES } from "../../lib/train/memory.ts";
import { runDeno, useBackend } from "../shared.ts";
import { tinyConfig } from "./tiny.ts";

Deno.test("memory: a model that cannot fit the wasm heap is refused before allocating, with the number and the limit; no run folder", async () => {
  await useBackend("wasm");
  const config = tinyConfig({
    model: { type: "iresnet", depth: 100, width: 4, inputSize: 16, featDim: 8 },
  });
  const out = `${await Deno.makeTempDir()}/run`;
  await expect(trainRun(config, { outDir: out, quiet: true })).rejects.toThrow(
    /needs at least \d+\.\d\d GiB, more than the wasm backend's 4 GiB heap \(4\.00 GiB\)/,
  );
  await expect(Deno.stat(out)).rejects.toThrow(); // nothing created
});

Deno.test("memory: bench head with 2.5M classes is refused at once on wasm, naming the estimate and the limit", async () => {
  const t0 = performance.now();
  const r = await runDeno(["tasks/bench.ts", "head", "--classes", "2500000", "--backend", "wasm", "--steps", "1"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/bench head \(K=2500000, d=512, B=256\) needs at least \d+\.\d\d GiB, more than the wasm/);
  expect(performance.now() - t0).toBeLessThan(30_000);
});

Deno.test({
  name: "memory: bench head with 10M classes is refused at once on any backend (the machine's memory)",
  // On a machine with more memory than the estimate the benchmark would really run: not a test for there.
  ignore: Deno.systemMemoryInfo().total > headBenchBytes({ batch: 256, dim: 512, classes: 10_000_000 }),
}, async () => {
  const r = await runDeno(["tasks/bench.ts", "head", "--classes", "10000000", "--backend", "cpu", "--steps", "1"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /bench head \(K=10000000, d=512, B=256\) needs at least \d+\.\d\d GiB, more than this machine's/,
  );
});

Deno.test("memory: the estimates grow with classes and parameters; the machine's memory is a limit on every backend", () => {
  expect(headBenchBytes({ batch: 256, dim: 512, classes: 10_000_000 })).toBeGreaterThan(60 * 2 ** 30);
  const small = trainingBytes({ model: tinyConfig().model, classes: 10, batchSize: 8 });
  expect(small).toBeLessThan(2 ** 24);
  expect(() => checkMemory(small, "x", "wasm")).not.toThrow();
  expect(() => checkMemory(WASM_HEAP_BYTES + 1, "x", "cpu")).not.toThrow();
  expect(() => checkMemory(Deno.systemMemoryInfo().total + 1, "big", "cpu")).toThrow(
    /big needs .* this machine's memory/,
  );
});
