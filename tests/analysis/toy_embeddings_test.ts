import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { g } from "../../lib/losses/sphereface2.ts";
import {
  balancedAccuracy,
  bestThreshold,
  embed,
  gInverse,
  modelThreshold,
  quantile,
  toyData,
  trainToy,
  universalThreshold,
  verificationPairs,
} from "../../lib/analysis/toy_embeddings.ts";
import { marginSweep, softmaxVsBinary } from "../../lib/analysis/toy_experiments.ts";
import { useBackend } from "../shared.ts";

Deno.test("gInverse inverts g; the universal threshold solves r·g(τ) + b = 0", () => {
  for (const t of [1, 3, 5]) {
    for (const y of [-1, -0.3, 0, 0.7, 1]) assert.ok(Math.abs(g(gInverse(y, t), t) - y) < 1e-12);
  }
  const tau = universalThreshold(40, 3, 5.78)!;
  assert.ok(Math.abs(40 * g(tau, 3) + 5.78) < 1e-9);
  assert.equal(universalThreshold(40, 3, 50), null, "−b/r < −1: every cosine is rejected");
});

Deno.test("bestThreshold / balancedAccuracy: separable scores give 1, the threshold lies between the groups", () => {
  const best = bestThreshold([0.8, 0.9, 0.7], [0.1, 0.2, 0.3, 0.35]);
  assert.equal(best.accuracy, 1);
  assert.ok(best.threshold > 0.35 && best.threshold < 0.7, String(best.threshold));
  assert.equal(balancedAccuracy([0.8, 0.9], [0.1, 0.85], 0.5), 0.75);
  assert.equal(bestThreshold([0.1], [0.9]).accuracy, 0.5, "reversed scores: no threshold beats chance");
  assert.equal(quantile([3, 1, 2], 0.5), 2);
});

Deno.test("toyData: seeded and reproducible; unseen identities differ; labels and shapes", () => {
  const a = toyData({ classes: 3, perClass: 4, seed: 7 });
  assert.deepEqual(a, toyData({ classes: 3, perClass: 4, seed: 7 }));
  assert.equal(a.x.length, 12);
  assert.equal(a.inputDim, 10);
  assert.deepEqual(a.labels, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
  assert.notDeepEqual(toyData({ classes: 3, perClass: 4, seed: 7, firstClass: 100 }).x, a.x);
  const circle = toyData({
    classes: 4,
    perClass: 1,
    seed: 1,
    signalDim: 2,
    noise: 0,
    nuisanceDim: 0,
    layout: "circle",
  });
  circle.x.forEach((row) => assert.ok(Math.abs(Math.hypot(...row) - 3) < 1e-12));
});

Deno.test("trainToy: SphereFace2 learns separable identities; its τ transfers to unseen pairs; no tensor leak", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  const train = toyData({ classes: 6, perClass: 15, seed: 3 });
  const model = await trainToy(train, { head: { type: "sphereface2", m: 0.3 }, embedDim: 4, steps: 60, seed: 1 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(model.losses[59] < model.losses[0] / 2, `${model.losses[0]} → ${model.losses[59]}`);
  model.centres.forEach((c) => assert.ok(Math.abs(Math.hypot(...c) - 1) < 1e-5));
  const tau = modelThreshold(model)!;
  assert.equal(model.head.type, "sphereface2");
  const { r, t } = model.head as { r: number; t: number };
  assert.ok(Math.abs(r * g(tau, t) + model.bias![0]) < 1e-6);
  const unseen = toyData({ classes: 6, perClass: 8, seed: 3, firstClass: 500 });
  const pairs = verificationPairs(embed(model, unseen), unseen.labels, { seed: 1 });
  assert.equal(pairs.same.length, 6 * 28);
  assert.equal(pairs.different.length, pairs.same.length);
  assert.ok(balancedAccuracy(pairs.same, pairs.different, tau) > 0.75);
});

Deno.test("experiments: small softmaxVsBinary and marginSweep runs return complete, JSON-ready results", async () => {
  await useBackend("cpu");
  const a = await softmaxVsBinary({ classes: 4, perClass: 10, steps: 80, ringPoints: 36 });
  assert.equal(a.heads.length, 2);
  const [mc, sf2] = a.heads;
  assert.equal(mc.threshold, null);
  assert.equal(mc.coverage, 1);
  assert.ok(sf2.threshold !== null && sf2.accuracyAtThreshold !== null);
  assert.equal(sf2.ring.length, 36);
  assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
  const b = await marginSweep({ margins: [0.2], ts: [3], classes: 5, unseenClasses: 4, perClass: 8, steps: 20 });
  assert.equal(b.runs.length, 1);
  assert.ok(b.runs[0].samples.some((s) => s.set === "unseen" && s.kind === "positive"));
});
