/**
 * Exactness of the sharded head against the unsharded one (lib/losses) for N = 1…4 shards and an odd K: loss,
 * dL/dx, dL/db, a few SGD steps' weights and bias, and the step traffic against the cost model. The shards run in
 * Deno Workers on wasm, the reference in this thread on wasm.
 */
import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { type HeadConfigInput, parseHeadConfig } from "../../lib/losses/config.ts";
import { headGradients } from "../../lib/losses/head.ts";
import { createHead } from "../../lib/losses/registry.ts";
import { headFamily, starTraffic } from "../../lib/parallel/cost_model.ts";
import { ShardedHead } from "../../lib/parallel/sharded_head.ts";
import { useBackend } from "../shared.ts";

const D = 8;
const K = 13;
const B = 6;
const LR = 0.5;
const STEPS = 3;
// Labels in every shard for N ≤ 4 (blocks of 13 over 4: [0,4) [4,7) [7,10) [10,13)), one class twice.
const LABELS = new Int32Array([0, 12, 5, 6, 6, 9]);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

interface Reference {
  losses: number[];
  gradX: Float32Array[];
  gradBias: (number | null)[];
  weight: Float32Array;
  bias: number | null;
  initialWeight: Float32Array;
  initialBias: number | null;
}

/** The unsharded head's loss and gradients for STEPS SGD steps on the same batch. */
function reference(config: HeadConfigInput, x: Float32Array): Reference {
  const before = tf.memory().numTensors;
  const head = createHead(parseHeadConfig(config), { featDim: D, numClasses: K, seed: 7 });
  const xt = tf.tensor2d(x, [B, D]);
  const labels = tf.tensor1d(LABELS, "int32");
  const out: Reference = {
    losses: [],
    gradX: [],
    gradBias: [],
    weight: new Float32Array(),
    bias: null,
    initialWeight: head.weight.dataSync() as Float32Array,
    initialBias: head.bias ? head.bias.dataSync()[0] : null,
  };
  for (let s = 0; s < STEPS; s++) {
    const g = headGradients(head, xt, labels);
    out.losses.push(g.loss.dataSync()[0]);
    out.gradX.push(g.gradX.dataSync() as Float32Array);
    out.gradBias.push(g.gradBias ? g.gradBias.dataSync()[0] : null);
    tf.tidy(() => {
      head.weight.assign(tf.sub(head.weight, tf.mul(g.gradW, LR)));
      if (head.bias && g.gradBias) head.bias.assign(tf.sub(head.bias, tf.mul(g.gradBias, LR)));
    });
    tf.dispose([g.loss, g.gradX, g.gradW, g.gradBias ?? []]);
  }
  out.weight = head.weight.dataSync() as Float32Array;
  out.bias = head.bias ? head.bias.dataSync()[0] : null;
  head.dispose();
  tf.dispose([xt, labels]);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

const CONFIGS: { config: HeadConfigInput; shards: number[]; chunk?: number }[] = [
  { config: { type: "sphereface2", variant: "C" }, shards: [1, 2, 3, 4] },
  { config: { type: "sphereface2", variant: "C", gradForm: "through-g" }, shards: [3], chunk: 2 },
  { config: { type: "sphereface2", variant: "A" }, shards: [2], chunk: 2 },
  { config: { type: "sphereface2", variant: "M", lw: 50, r: 64, lambda: 0.8 }, shards: [4] },
  { config: { type: "arcface" }, shards: [1, 2, 3, 4] },
  { config: { type: "cosface", s: 64 }, shards: [3] },
];

for (const { config, shards, chunk } of CONFIGS) {
  const name = JSON.stringify(config);
  Deno.test(`sharded ${name} equals the unsharded head for N = ${shards.join(", ")} (K = ${K})`, async () => {
    await useBackend("wasm");
    const x = Float32Array.from({ length: B * D }, (_, i) => Math.sin(1.7 * i + 0.3) * (1 + (i % 3)));
    const ref = reference(config, x);
    const family = headFamily(parseHeadConfig(config).type);
    for (const n of shards) {
      await using head = await ShardedHead.create({
        head: config,
        featDim: D,
        numClasses: K,
        shards: n,
        weight: ref.initialWeight,
        bias: ref.initialBias ?? undefined,
        chunkClasses: chunk,
      });
      const tensorsAtStart = (await head.stats()).map((s) => s.numTensors);
      // An explicit chunk splits each block; by default the heap budget keeps these tiny blocks whole.
      for (const st of await head.stats()) {
        expect(st.chunks).toBe(chunk && family === "sphereface2" ? Math.floor(head.ranges[st.shard].size / 2) : 1);
      }
      for (let s = 0; s < STEPS; s++) {
        const r = await head.step(x, LABELS, { lr: LR });
        const at = `N=${n} step ${s}`;
        expect({ at, err: Math.abs(r.loss - ref.losses[s]) / Math.abs(ref.losses[s]) < 2e-6 }).toEqual({
          at,
          err: true,
        });
        expect({ at, err: maxAbsDiff(r.gradX, ref.gradX[s]) < 2e-6 }).toEqual({ at, err: true });
        if (family === "sphereface2") {
          expect(Math.abs(r.gradBias! - ref.gradBias[s]!)).toBeLessThan(2e-6);
        } else {
          expect(r.gradBias).toBeNull();
        }
        const model = starTraffic(family, { shards: n, batch: B, dim: D, classes: K });
        expect(r.traffic).toEqual(model);
      }
      const w = await head.weights();
      expect(maxAbsDiff(w.weight, ref.weight)).toBeLessThan(2e-6);
      if (family === "sphereface2") expect(Math.abs(w.bias! - ref.bias!)).toBeLessThan(2e-6);
      // No tensors leak inside the shards from step to step.
      expect((await head.stats()).map((s) => s.numTensors)).toEqual(tensorsAtStart);
    }
  });
}

Deno.test("the sharded head refuses bad input, reports shard errors, and terminates its workers", async () => {
  await expect(ShardedHead.create({ head: { type: "softmax" }, featDim: 4, numClasses: 5, shards: 2 })).rejects
    .toThrow(/plain softmax/);
  await expect(ShardedHead.create({ head: { type: "sphereface2" }, featDim: 4, numClasses: 3, shards: 4 })).rejects
    .toThrow(/without classes/);
  const head = await ShardedHead.create({ head: { type: "arcface" }, featDim: 4, numClasses: 5, shards: 2 });
  try {
    await expect(head.step(new Float32Array(8), new Int32Array([0, 5]))).rejects.toThrow(/label 5 outside/);
    await expect(head.step(new Float32Array(7), new Int32Array([0, 1]))).rejects.toThrow(/expected 2×4/);
    const r = await head.step(new Float32Array(8).fill(1), new Int32Array([0, 4]));
    expect(Number.isFinite(r.loss)).toBe(true);
  } finally {
    head.close();
  }
  head.close(); // idempotent
  await expect(head.step(new Float32Array(8), new Int32Array([0, 1]))).rejects.toThrow(/closed/);
});
