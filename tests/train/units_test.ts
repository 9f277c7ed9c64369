import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { decodeCheckpoint, encodeCheckpoint, readCheckpoint, writeCheckpoint } from "../../lib/train/checkpoint.ts";
import { BatchOrder, flipImages } from "../../lib/train/data.ts";
import { noisyLabels } from "../../lib/train/label_noise.ts";
import { Rng } from "../../lib/random/rng.ts";
import { multiStepLr } from "../../lib/train/schedule.ts";
import { Sgd } from "../../lib/train/sgd.ts";
import { useBackend } from "../shared.ts";

Deno.test("rng: seeded streams, exact state round trip, unbiased ranges", () => {
  const a = Rng.fromSeed(1, "x"), b = Rng.fromSeed(1, "x"), c = Rng.fromSeed(1, "y"), d = Rng.fromSeed(2, "x");
  const draw = (r: Rng) => Array.from({ length: 5 }, () => r.nextUint32());
  const first = draw(a);
  expect(draw(b)).toEqual(first);
  expect(draw(c)).not.toEqual(first);
  expect(draw(d)).not.toEqual(first);
  const saved = a.state();
  const cont = Rng.fromState(saved);
  expect(draw(cont)).toEqual(draw(a));
  expect(() => Rng.fromState([1, 2, 3])).toThrow(/four uint32/);
  const r = Rng.fromSeed(3);
  const counts = new Array(3).fill(0);
  for (let i = 0; i < 30000; i++) {
    const f = r.nextFloat();
    expect(f >= 0 && f < 1).toBe(true);
    counts[r.nextInt(3)]++;
  }
  for (const n of counts) expect(Math.abs(n - 10000)).toBeLessThan(400);
  const p = Array.from(r.permutation(50)).sort((x, y) => x - y);
  expect(p).toEqual(Array.from({ length: 50 }, (_, i) => i));
});

Deno.test("multistep LR is PyTorch's per-iteration MultiStepLR", () => {
  const s = { lr: 0.1, milestones: [3, 5], gamma: 0.1 };
  expect([0, 2, 3, 4, 5, 9].map((i) => multiStepLr(i, s))).toEqual([
    0.1,
    0.1,
    0.1 * 0.1,
    0.1 * 0.1,
    0.1 * 0.1 * 0.1,
    0.1 * 0.1 * 0.1,
  ]);
});

Deno.test("SGD follows torch.optim.SGD: d = g + wd·w, v = μv + d, w -= lr·v (float32)", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  const init = tf.tensor1d([1, -2, 0.5]);
  const w = tf.variable(init);
  init.dispose();
  const sgd = new Sgd([w], { momentum: 0.9, weightDecay: 5e-4 });
  const f = Math.fround;
  let ref = [1, -2, 0.5].map(f), v = [0, 0, 0];
  const grads = [[0.5, 0.25, -1], [0.1, -0.3, 0.2], [-0.7, 0.4, 0.9]];
  const lrs = [0.1, 0.1, 0.01];
  grads.forEach((g, k) => {
    const gt = tf.tensor1d(g);
    sgd.step([gt], lrs[k]);
    gt.dispose();
    const d = g.map((gi, i) => f(f(gi) + f(ref[i] * f(5e-4))));
    v = v.map((vi, i) => f(f(vi * f(0.9)) + d[i]));
    ref = ref.map((wi, i) => f(wi - f(v[i] * f(lrs[k]))));
  });
  expect(Array.from(w.dataSync())).toEqual(ref);
  expect(Array.from(sgd.buffers[0].dataSync())).toEqual(v);
  sgd.dispose();
  w.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

Deno.test("label noise: seeded, redraws about `ratio` of the labels uniformly", () => {
  const clean = Int32Array.from({ length: 20000 }, (_, i) => i % 10);
  const a = noisyLabels(clean, 10, 0.6, 10086), b = noisyLabels(clean, 10, 0.6, 10086);
  expect(a.labels).toEqual(b.labels);
  expect(noisyLabels(clean, 10, 0.6, 1).labels).not.toEqual(a.labels);
  expect(Math.abs(a.redrawn / 20000 - 0.6)).toBeLessThan(0.02);
  // A redraw keeps the true label with probability 1/K.
  expect(Math.abs(a.changed / a.redrawn - 0.9)).toBeLessThan(0.02);
  expect(noisyLabels(clean, 10, 0, 1).labels).toEqual(clean);
  expect(noisyLabels(clean, 10, 1, 1).redrawn).toBe(20000);
});

Deno.test("batch order: drop-last epochs, each a permutation, reproducible from the step alone", () => {
  const o = new BatchOrder(10, 3, 7);
  expect(o.batchesPerEpoch).toBe(3);
  const epoch0 = [0, 1, 2].flatMap((s) => o.batchAt(s));
  expect(new Set(epoch0).size).toBe(9);
  expect(o.cursorAt(4)).toEqual({ epoch: 1, batch: 1 });
  expect(new BatchOrder(10, 3, 7).batchAt(4)).toEqual(o.batchAt(4));
  expect(o.batchAt(3)).not.toEqual(o.batchAt(0));
  expect(() => new BatchOrder(4, 8, 1)).toThrow(/train.batchSize \(8\) exceeds/);
});

Deno.test("flipImages mirrors exactly the flagged images", async () => {
  await useBackend("cpu");
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 1 * 3 * 3 }, (_, i) => i), [2, 1, 3, 3]);
  const y = flipImages(x, [false, true]);
  expect(Array.from(y.dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 12, 13, 14, 9, 10, 11]);
  y.dispose();
});

Deno.test("checkpoints: round trip, checksum and magic checked, atomic write leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  const tensors = [
    { name: "a", shape: [2, 2], data: Float32Array.from([1, 2, 3, NaN]) },
    { name: "b", shape: [3], data: Float32Array.from([-0, 1e-30, 7]) },
  ];
  await writeCheckpoint(`${dir}/c.sf2`, { step: 4, rng: [1, 2, 3, 4] }, tensors);
  const ck = await readCheckpoint(`${dir}/c.sf2`);
  expect(ck.header.state).toEqual({ step: 4, rng: [1, 2, 3, 4] });
  expect(Array.from(ck.tensors.get("a")!.data)).toEqual([1, 2, 3, NaN]);
  expect(ck.tensors.get("b")!.shape).toEqual([3]);
  expect([...Deno.readDirSync(dir)].map((e) => e.name)).toEqual(["c.sf2"]);
  const bytes = await encodeCheckpoint({ step: 4 }, tensors);
  expect(await encodeCheckpoint({ step: 4 }, tensors)).toEqual(bytes); // deterministic
  const bad = bytes.slice();
  bad[bad.length - 1] ^= 1;
  await expect(decodeCheckpoint(bad, "x.sf2")).rejects.toThrow(/x.sf2: checksum mismatch/);
  await expect(decodeCheckpoint(new Uint8Array(20), "y.sf2")).rejects.toThrow(/not a kit checkpoint/);
  await expect(decodeCheckpoint(bytes.slice(0, bytes.length - 4), "z.sf2")).rejects.toThrow(/z.sf2: checksum mismatch/);
  await expect(readCheckpoint(`${dir}/none.sf2`)).rejects.toThrow(/no checkpoint/);
});
