/**
 * Tests for lib/bench/train.ts: the training step is leak-free over 1,000 steps (tiny SFNet, wasm backend with the
 * kit's kernels, native convs where libdnnl is installed) and trains (loss falls on a fixed batch). The SGD rule
 * itself is tested against torch.optim.SGD in tests/train/units_test.ts.
 *
 * Run: node_modules/.bin/deno test -A tests/bench/train_test.ts
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/select.ts";
import { benchTrain, TrainStep } from "../../lib/bench/train.ts";
import { createModel } from "../../lib/models/registry.ts";
import { parseHeadConfig } from "../../lib/losses/config.ts";
import { createHead } from "../../lib/losses/registry.ts";

const choice = await initBackend({ requested: "wasm" });
console.log(choice.message);

Deno.test("training step: tf.memory().numTensors stable over 1,000 steps, loss falls", async () => {
  const before = tf.memory().numTensors;
  const net = createModel({ type: "sfnet", depth: 4, width: 1 / 16, inputSize: 12, featDim: 16 }, { seed: 3 });
  const head = createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 16, numClasses: 5, seed: 4 });
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

Deno.test("benchTrain reports the JSON fields and no leaked tensors", async () => {
  const r = await benchTrain({ depth: 4, width: 1 / 16, size: 16, batch: 2, classes: 10, warmup: 1, steps: 2 });
  assert.equal(r.bench, "train");
  assert.equal(r.leakedTensors, 0);
  assert.equal(r.workers, 1);
  assert.ok(r.imagesPerSecond > 0 && r.stepSeconds > 0 && r.peakRssMB > 0 && Number.isFinite(r.lastLoss));
});
