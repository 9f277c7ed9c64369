/**
 * Tests for lib/bench/train.ts: the training step is leak-free over 1,000 steps (tiny SFNet, wasm backend with the
 * kit's kernels, native convs where libdnnl is installed), trains (loss falls on a fixed batch), and
 * MomentumSGD matches PyTorch's SGD(momentum, weight_decay) update rule.
 *
 * Run: node_modules/.bin/deno test -A tests/bench/train_test.ts
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/select.ts";
import { benchTrain, MomentumSGD, TrainStep } from "../../lib/bench/train.ts";
import { MinimalSFNet } from "../../lib/bench/sfnet_min.ts";
import { createHead } from "../../lib/losses/registry.ts";

const choice = await initBackend({ requested: "wasm" });
console.log(choice.message);

Deno.test("training step: tf.memory().numTensors stable over 1,000 steps, loss falls", async () => {
  const before = tf.memory().numTensors;
  const net = new MinimalSFNet({ depth: 4, width: 1 / 16, inputSize: 12, embeddingDim: 16, seed: 3 });
  const head = createHead({ type: "sphereface2" }, { featDim: 16, numClasses: 5, seed: 4 });
  const step = new TrainStep(net, head, 0.05);
  const x = tf.randomNormal([4, 12, 12, 3], 0, 1, "float32", 5) as tf.Tensor4D;
  const labels = tf.tensor1d([0, 1, 2, 3], "int32");
  const first = await step.run(x, labels);
  const afterFirst = tf.memory().numTensors;
  const counts: number[] = [];
  let last = first;
  for (let i = 0; i < 1000; i++) {
    last = await step.run(x, labels);
    if (i % 100 === 99) counts.push(tf.memory().numTensors);
  }
  assert.deepEqual(counts, counts.map(() => afterFirst), `tensor counts drifted: ${counts}`);
  assert.ok(Number.isFinite(last) && last < first, `loss did not fall: ${first} -> ${last}`);
  step.dispose();
  net.dispose();
  head.dispose();
  tf.dispose([x, labels]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("MomentumSGD follows torch.optim.SGD(momentum .9, weight_decay 5e-4)", () => {
  const v = tf.variable(tf.tensor1d([1, -2]));
  const opt = new MomentumSGD(0.1, 0.9, 5e-4);
  const g1 = tf.tensor1d([0.5, 0.25]);
  const g2 = tf.tensor1d([-1, 1]);
  // By hand: buf1 = g1 + wd p0; p1 = p0 - lr buf1; buf2 = .9 buf1 + g2 + wd p1; p2 = p1 - lr buf2.
  const p0 = [1, -2];
  const buf1 = [0.5 + 5e-4 * p0[0], 0.25 + 5e-4 * p0[1]];
  const p1 = p0.map((p, i) => p - 0.1 * buf1[i]);
  const buf2 = [0.9 * buf1[0] - 1 + 5e-4 * p1[0], 0.9 * buf1[1] + 1 + 5e-4 * p1[1]];
  const p2 = p1.map((p, i) => p - 0.1 * buf2[i]);
  opt.apply([v], { [v.name]: g1 });
  opt.apply([v], { [v.name]: g2 });
  const got = v.dataSync();
  p2.forEach((p, i) => assert.ok(Math.abs(got[i] - p) < 1e-6, `${got[i]} vs ${p}`));
  opt.dispose();
  tf.dispose([v, g1, g2]);
});

Deno.test("benchTrain reports the JSON fields and no leaked tensors", async () => {
  const r = await benchTrain({ depth: 4, width: 1 / 16, size: 16, batch: 2, classes: 10, warmup: 1, steps: 2 });
  assert.equal(r.bench, "train");
  assert.equal(r.leakedTensors, 0);
  assert.equal(r.workers, 1);
  assert.ok(r.imagesPerSecond > 0 && r.stepSeconds > 0 && r.peakRssMB > 0 && Number.isFinite(r.lastLoss));
});
