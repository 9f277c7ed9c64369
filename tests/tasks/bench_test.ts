import { expect } from "expect";
import { lastLine, runDeno } from "../shared.ts";

Deno.test("bench head prints a JSON last line with the step time and throughput", async () => {
  const { code, stdout, stderr } = await runDeno([
    "tasks/bench.ts",
    "head",
    "--batch=8",
    "--dim=16",
    "--classes=100",
    "--warmup=1",
    "--steps=2",
    "--backend=wasm",
  ]);
  expect(stderr).toMatch(/^backend: wasm/m);
  expect(code).toBe(0);
  const result = JSON.parse(lastLine(stdout));
  expect(result).toMatchObject({
    bench: "head",
    loss: "sphereface2",
    batch: 8,
    dim: 16,
    classes: 100,
    backend: "wasm",
  });
  expect(result.stepSeconds).toBeGreaterThan(0);
  expect(result.imagesPerSecond).toBeCloseTo(8 / result.stepSeconds, 6);
  expect(result.leakedTensors).toBe(0);
});

Deno.test("bench rejects unknown benchmarks and out-of-range flags", async () => {
  const unknown = await runDeno(["tasks/bench.ts", "fly"]);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/unknown benchmark "fly"; available: head/);
  const bad = await runDeno(["tasks/bench.ts", "head", "--batch", "0"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--batch: Too small/);
});
