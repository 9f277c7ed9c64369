import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { HEAD_TYPES, parseHeadConfig } from "../../lib/losses/config.ts";
import { headGradients } from "../../lib/losses/head.ts";
import { createHead, headTypes } from "../../lib/losses/registry.ts";
import { useBackend } from "../shared.ts";

const CONFIGS = [
  { type: "sphereface2", variant: "C" },
  { type: "sphereface2", variant: "C", gradForm: "through-g" },
  { type: "sphereface2", variant: "A" },
  { type: "sphereface2", variant: "M" },
  { type: "softmax" },
  { type: "normface" },
  { type: "sphereface" },
  { type: "cosface" },
  { type: "arcface" },
];

function batch(B: number, d: number, K: number) {
  const x = tf.randomNormal([B, d], 0, 1, "float32", 11) as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: B }, (_, i) => (i * 7) % K), "int32");
  return { x, labels };
}

Deno.test("the registry builds every head type by name", () => {
  expect(headTypes().sort()).toEqual([...HEAD_TYPES].sort());
  expect(() => createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 0, numClasses: 5 })).toThrow(/featDim/);
  expect(() => createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 4, numClasses: 1 })).toThrow(
    /numClasses/,
  );
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`a gradient step lowers the loss of every head (${backend})`, async (t) => {
    await useBackend(backend);
    for (const config of CONFIGS) {
      await t.step(JSON.stringify(config), () => {
        const before = tf.memory().numTensors;
        const head = createHead(parseHeadConfig(config), { featDim: 16, numClasses: 11, seed: 3 });
        const { x, labels } = batch(12, 16, 11);
        const g = headGradients(head, x, labels);
        const l0 = g.loss.dataSync()[0];
        // Step every input along its negative gradient: x, W and (where present) b.
        const lr = 0.05;
        const x1 = tf.tidy(() => tf.sub(x, tf.mul(g.gradX, lr)) as tf.Tensor2D);
        tf.tidy(() => {
          head.weight.assign(tf.sub(head.weight, tf.mul(g.gradW, lr)) as tf.Tensor2D);
          if (head.bias && g.gradBias) head.bias.assign(tf.sub(head.bias, tf.mul(g.gradBias, lr)) as tf.Tensor1D);
        });
        const g1 = headGradients(head, x1, labels);
        const l1 = g1.loss.dataSync()[0];
        expect(Number.isFinite(l0)).toBe(true);
        expect(l1).toBeLessThan(l0);
        tf.dispose([x, x1, labels, g.loss, g.gradX, g.gradW, g.gradBias ?? [], g1.loss, g1.gradX, g1.gradW]);
        tf.dispose(g1.gradBias ?? []);
        head.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  });
}

Deno.test("prepare() puts W on the unit sphere outside the gradient (not for softmax)", async () => {
  await useBackend("cpu");
  const head = createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 8, numClasses: 5, seed: 1 });
  head.weight.assign(tf.mul(head.weight, 3) as tf.Tensor2D);
  head.prepare();
  const norms = tf.tidy(() => tf.norm(head.weight, "euclidean", 0).dataSync());
  norms.forEach((n) => expect(n).toBeCloseTo(1, 6));
  head.dispose();

  const soft = createHead(parseHeadConfig({ type: "softmax" }), { featDim: 8, numClasses: 5, seed: 1 });
  const w0 = soft.weight.dataSync().slice();
  soft.prepare();
  expect(Array.from(soft.weight.dataSync())).toEqual(Array.from(w0));
  expect(soft.bias!.shape).toEqual([5]);
  expect(Array.from(soft.bias!.dataSync())).toEqual([0, 0, 0, 0, 0]);
  soft.dispose();
  expect(createHead(parseHeadConfig({ type: "softmax", bias: false }), { featDim: 8, numClasses: 5 }).bias).toBeNull();
});

Deno.test("the same seed gives the same initial W; SphereFace2's bias starts at b0", async () => {
  await useBackend("cpu");
  const a = createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 8, numClasses: 6, seed: 42 });
  const b = createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 8, numClasses: 6, seed: 42 });
  expect(Array.from(a.weight.dataSync())).toEqual(Array.from(b.weight.dataSync()));
  expect(a.bias!.dataSync()[0]).toBeGreaterThan(0);
  // xavier-normal std √(2/(d+K)) over many draws.
  const big = createHead(parseHeadConfig({ type: "arcface" }), { featDim: 256, numClasses: 256, seed: 1 });
  const std = tf.tidy(() => tf.moments(big.weight).variance.sqrt().dataSync()[0]);
  expect(std).toBeCloseTo(Math.sqrt(2 / 512), 2);
  [a, b, big].forEach((h) => h.dispose());
});

Deno.test("inspect(): per-term losses add up to the loss; logits are r·s + b", async () => {
  await useBackend("cpu");
  for (const config of CONFIGS) {
    const head = createHead(parseHeadConfig(config), { featDim: 16, numClasses: 7, seed: 5 });
    const { x, labels } = batch(9, 16, 7);
    const d = head.inspect(x, labels);
    const g = headGradients(head, x, labels);
    const sum = tf.tidy(() => tf.mean(tf.add(d.targetLoss, d.nonTargetLoss)).dataSync()[0]);
    expect(sum).toBeCloseTo(g.loss.dataSync()[0], 4);
    expect(d.loss.dataSync()[0]).toBeCloseTo(g.loss.dataSync()[0], 4);
    expect(d.cos.shape).toEqual([9, 7]);
    expect(d.logits.shape).toEqual([9, 7]);
    tf.dispose([x, labels, d.cos, d.logits, d.targetLoss, d.nonTargetLoss, d.loss, g.loss, g.gradX, g.gradW]);
    tf.dispose(g.gradBias ?? []);
    head.dispose();
  }
});

Deno.test("no tensor leaks over repeated training-style steps", async () => {
  await useBackend("wasm");
  const head = createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 32, numClasses: 50, seed: 2 });
  const { x, labels } = batch(16, 32, 50);
  const optimizer = tf.train.momentum(0.01, 0.9);
  const step = () =>
    tf.tidy(() => {
      head.prepare();
      const { grads } = tf.variableGrads(() => head.loss(x, labels), head.trainables());
      optimizer.applyGradients(grads as tf.NamedTensorMap as Parameters<typeof optimizer.applyGradients>[0]);
    });
  step(); // the optimizer allocates its momentum slots on the first step
  const before = tf.memory().numTensors;
  for (let i = 0; i < 50; i++) step();
  expect(tf.memory().numTensors).toBe(before);
  optimizer.dispose();
  head.dispose();
  tf.dispose([x, labels]);
});
