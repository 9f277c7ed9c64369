import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import {
  batchNorm,
  chwRowsToHwc,
  conv,
  countModelParams,
  createModel,
  finalMapSize,
  flatten,
  ForwardContext,
  modelSpecs,
  parseModelConfig,
} from "../../lib/models/mod.ts";
import { useBackend } from "../shared.ts";

// shared/notes/opensphere.md §3: PyTorch's counts at 112×112, width 1 (trainable; BN buffers separately).
const SFNET = [
  // depth, no-BN, with BN, BN buffers
  [4, 14_396_544, 14_398_528, 2_944],
  [10, 17_052_032, 17_055_296, 5_504],
  [20, 24_500_992, 24_506_688, 10_368],
  [36, 34_605_440, 34_614_848, 17_792],
  [64, 50_020_864, 50_036_544, 30_336],
] as const;
const IRESNET = [
  // depth, v0 trainable, main trainable, BN buffers
  [18, 24_025_088, 24_025_600, 14_720],
  [34, 34_138_816, 34_139_328, 25_856],
  [50, 43_590_336, 43_590_848, 38_144],
  [100, 65_155_648, 65_156_160, 69_632],
] as const;

Deno.test("full-width parameter counts equal OpenSphere's (computed from shapes)", () => {
  for (const [depth, plain, bn, buffers] of SFNET) {
    expect(countModelParams({ type: "sfnet", depth })).toEqual({
      trainable: plain,
      frozen: 0,
      buffers: 0,
      total: plain,
    });
    expect(countModelParams({ type: "sfnet", depth, block: "sfnet" }).trainable).toBe(plain);
    const c = countModelParams({ type: "sfnet", depth, bn: true });
    expect([c.trainable, c.buffers]).toEqual([bn, buffers]);
  }
  for (const [depth, v0, main, buffers] of IRESNET) {
    const m = countModelParams({ type: "iresnet", depth });
    expect([m.trainable, m.frozen, m.buffers]).toEqual([main, 0, buffers]);
    const v = countModelParams({ type: "iresnet", depth, variant: "v0" });
    expect([v.trainable, v.frozen, v.buffers]).toEqual([v0, 512, buffers]);
  }
  // The FC alone: 25088·512 + 512.
  const fc = modelSpecs(parseModelConfig({ type: "sfnet", depth: 20 })).filter((s) => s.name.startsWith("fc."));
  expect(fc.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).toBe(12_845_568);
});

Deno.test("model configs reject bad values naming the field", () => {
  expect(() => parseModelConfig({ type: "sfnet", depth: 21 })).toThrow(
    /depth: sfnet depth must be one of 4, 10, 20, 36, 64/,
  );
  expect(() => parseModelConfig({ type: "iresnet", depth: 20 })).toThrow(
    /depth: iresnet depth must be one of 18, 34, 50, 100/,
  );
  expect(() => parseModelConfig({ type: "sfnet", depth: 4, width: 0 })).toThrow(/width: Too small/);
  expect(() => parseModelConfig({ type: "sfnet", depth: 4, inputSize: 4 })).toThrow(/inputSize/);
  expect(() => parseModelConfig({ type: "sfnet", depth: 4, colour: 1 })).toThrow(/colour/);
  expect(() => parseModelConfig({ type: "vgg" })).toThrow(/type/);
  expect(parseModelConfig({ type: "sfnet", depth: 4 })).toMatchObject({ init: "iclr", block: "deprecated", bn: false });
  expect(parseModelConfig({ type: "sfnet", depth: 4, block: "sfnet" })).toMatchObject({ init: "kaiming" });
  expect([112, 56, 32, 16].map(finalMapSize)).toEqual([7, 4, 2, 1]);
});

const TINY = [
  { type: "sfnet", depth: 4, width: 0.0625, inputSize: 16, featDim: 8 },
  { type: "sfnet", depth: 10, width: 0.0625, inputSize: 20, featDim: 8, block: "sfnet" },
  { type: "sfnet", depth: 20, width: 0.0625, inputSize: 16, featDim: 8, bn: true },
  { type: "iresnet", depth: 18, width: 0.0625, inputSize: 16, featDim: 8 },
  { type: "iresnet", depth: 18, width: 0.0625, inputSize: 17, featDim: 8, variant: "v0" },
];

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`tiny backbones: shapes, allocation = spec count, gradients reach every parameter, no leaks (${backend})`, async () => {
    await useBackend(backend);
    for (const config of TINY) {
      const before = tf.memory().numTensors;
      const model = createModel(config, { seed: 1 });
      const allocated = [...model.variables.values()].reduce((n, v) => n + v.size, 0);
      expect(allocated).toBe(model.paramCount.total);
      const x = tf.randomUniform([3, config.inputSize, config.inputSize, 3], -1, 1, "float32", 2) as tf.Tensor4D;
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.forward(x, true))), model.trainables());
      model.commitBatchStats();
      const e = model.forward(x, false);
      expect(e.shape).toEqual([3, config.featDim]);
      for (const v of model.trainables()) {
        expect({ name: v.name, nonzero: tf.tidy(() => tf.any(tf.notEqual(grads[v.name], 0)).dataSync()[0]) })
          .toEqual({ name: v.name, nonzero: 1 });
      }
      tf.dispose([x, e, value, ...Object.values(grads)]);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
}

Deno.test("initialisation: seeded, and the reference distributions", async () => {
  await useBackend("cpu");
  const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]));
  const a = createModel({ type: "sfnet", depth: 20, width: 0.25, inputSize: 16 }, { seed: 7 });
  const b = createModel({ type: "sfnet", depth: 20, width: 0.25, inputSize: 16 }, { seed: 7 });
  const c = createModel({ type: "sfnet", depth: 20, width: 0.25, inputSize: 16 }, { seed: 8 });
  const w = (m: typeof a, n: string) => m.variables.get(n)!;
  expect(w(a, "stage3.conv.weight").dataSync()).toEqual(w(b, "stage3.conv.weight").dataSync());
  expect(w(a, "stage3.conv.weight").dataSync()).not.toEqual(w(c, "stage3.conv.weight").dataSync());
  // ICLR SFNet_deprecated: xavier-normal stage convs, N(0, 0.01) block convs, PyTorch-default biases.
  expect(std(w(a, "stage3.conv.weight"))).toBeCloseTo(Math.sqrt(2 / (9 * 32 + 9 * 64)), 2);
  expect(std(w(a, "stage3.block1.conv1.weight"))).toBeCloseTo(0.01, 3);
  const bias = w(a, "stage3.conv.bias").dataSync();
  expect(Math.max(...bias.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(9 * 32));
  for (const m of [a, b, c]) m.dispose();
  const r = createModel({ type: "iresnet", depth: 18, width: 0.25, inputSize: 16 }, { seed: 1 });
  expect(std(r.variables.get("stage2.block1.conv1.weight")!)).toBeCloseTo(0.1, 2);
  expect(r.variables.get("features.weight")!.dataSync()[0]).toBeCloseTo(0.1, 6);
  expect(r.variables.get("features.weight")!.trainable).toBe(true);
  expect(r.variables.get("stem.prelu.weight")!.dataSync()[0]).toBeCloseTo(0.25, 6);
  r.dispose();
  const v0 = createModel({ type: "iresnet", depth: 18, width: 0.25, inputSize: 16, variant: "v0" }, { seed: 1 });
  expect(v0.variables.get("features.weight")!.trainable).toBe(false);
  expect(v0.trainables().some((v) => v.name.endsWith("features.weight"))).toBe(false);
  v0.dispose();
});

Deno.test("stride-2 convs pad like PyTorch (1 on every side), not TF 'same'", async () => {
  await useBackend("cpu");
  const x = tf.randomNormal([1, 9, 9, 2], 0, 1, "float32", 3) as tf.Tensor4D;
  const vars = new Map<string, tf.Tensor>([["c.weight", tf.randomNormal([3, 3, 2, 4], 0, 1, "float32", 4)], [
    "c.bias",
    tf.zeros([4]),
  ]]);
  const y = conv(new ForwardContext((n) => vars.get(n)!, false), "c", x, { stride: 2 });
  const reference = tf.conv2d(
    tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    vars.get("c.weight") as tf.Tensor4D,
    2,
    "valid",
  );
  expect(y.shape).toEqual([1, 5, 5, 4]); // PyTorch: ⌊(9 + 2 − 3)/2⌋ + 1
  expect(tf.max(tf.abs(tf.sub(y, reference))).dataSync()[0]).toBeLessThan(1e-5);
  tf.dispose([x, y, reference, ...vars.values()]);
});

Deno.test("chwRowsToHwc makes a PyTorch (C,H,W-flatten) FC give the same output on the kit's H,W,C flatten", async () => {
  await useBackend("cpu");
  const [h, w, c, out] = [2, 3, 4, 5];
  const x = tf.randomNormal([2, h, w, c], 0, 1, "float32", 5) as tf.Tensor4D;
  const torchWeight = tf.randomNormal([c * h * w, out], 0, 1, "float32", 6) as tf.Tensor2D;
  const torchOut = tf.matMul(tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [2, c * h * w]), torchWeight);
  const kitWeight = chwRowsToHwc(torchWeight, c, h, w);
  const kitOut = tf.matMul(flatten(x), kitWeight);
  expect(tf.tidy(() => tf.max(tf.abs(tf.sub(torchOut, kitOut))).dataSync()[0])).toBeLessThan(1e-5);
  tf.dispose([x, torchWeight, torchOut, kitWeight, kitOut]);
});

Deno.test("BN: batch statistics in training with PyTorch's running update (momentum 0.1, unbiased var), running stats in eval", async () => {
  await useBackend("cpu");
  const vars = new Map<string, tf.Tensor>([
    ["bn.weight", tf.tensor1d([1, 2])],
    ["bn.bias", tf.tensor1d([0, 1])],
    ["bn.runningMean", tf.tensor1d([0, 0])],
    ["bn.runningVar", tf.tensor1d([1, 1])],
  ]);
  const x = tf.tensor2d([[1, 2], [3, 4], [5, 9]]);
  const train = new ForwardContext((n) => vars.get(n)!, true);
  const y = batchNorm(train, "bn", x);
  // Column 0: mean 3, biased var 8/3, unbiased 4; column 1: mean 5, biased var 26/3, unbiased 13.
  const expected = [[-2, -3], [0, -1], [2, 4]].map((
    [a, b],
  ) => [a / Math.sqrt(8 / 3 + 1e-5), 1 + (2 * b) / Math.sqrt(26 / 3 + 1e-5)]);
  expectClose(y.arraySync() as number[][], expected);
  const [u] = train.bnUpdates;
  expectClose([Array.from(u.mean.dataSync()), Array.from(u.variance.dataSync())], [[0.3, 0.5], [0.9 + 0.4, 0.9 + 1.3]]);
  const evalY = batchNorm(new ForwardContext((n) => vars.get(n)!, false), "bn", x);
  expectClose(
    evalY.arraySync() as number[][],
    [[1, 2], [3, 4], [5, 9]].map(([a, b]) => [a / Math.sqrt(1 + 1e-5), 1 + (2 * b) / Math.sqrt(1 + 1e-5)]),
  );
  tf.dispose([x, y, evalY, u.mean, u.variance, ...vars.values()]);

  // Through a model: updates are queued by the training forward and applied by commitBatchStats.
  const model = createModel({ type: "sfnet", depth: 4, width: 0.0625, inputSize: 8, featDim: 3, bn: true }, {
    seed: 1,
  });
  const images = tf.randomNormal([4, 8, 8, 3], 0, 1, "float32", 9) as tf.Tensor4D;
  const e = model.forward(images, true);
  expect(() => model.forward(images, true)).toThrow(/commitBatchStats/);
  expect(Array.from(model.variables.get("features.runningMean")!.dataSync())).toEqual([0, 0, 0]);
  model.commitBatchStats();
  expect(Array.from(model.variables.get("features.runningMean")!.dataSync()).some((v) => v !== 0)).toBe(true);
  tf.dispose([images, e]);
  model.dispose();
});

function expectClose(actual: number[][], expected: number[][], tol = 1e-5) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - expected[i][j])).toBeLessThan(tol)));
}
