import { expect } from "expect";
import {
  DEVICE_MODELS,
  fitShardMemory,
  maxClasses,
  MIN_CHUNK_CLASSES,
  partialFcAnchor,
  ringTraffic,
  shardMemoryModel,
  sphereface2ChunkClasses,
  starTraffic,
  stepTimeModel,
} from "../../lib/parallel/cost_model.ts";

Deno.test("starTraffic: the formulas, linear in P, independent of K", () => {
  const s = { shards: 2, batch: 256, dim: 512, classes: 100_000 };
  expect(starTraffic("sphereface2", s)).toEqual({
    bytesDown: 2 * (4 * 256 * 512 + 4 * 256 + 4),
    bytesUp: 2 * (4 * 256 * 512 + 8),
    rounds: 1,
    messages: 4,
  });
  expect(starTraffic("softmax", s)).toEqual({
    bytesDown: 2 * (4 * 256 * 512 + 12 * 256),
    bytesUp: 2 * (4 * 256 * 512 + 12 * 256),
    rounds: 3,
    messages: 12,
  });
  expect(starTraffic("sphereface2", { ...s, classes: 10 })).toEqual(starTraffic("sphereface2", s));
  const one = starTraffic("softmax", { ...s, shards: 1 });
  expect(starTraffic("softmax", { ...s, shards: 4 }).bytesUp).toBe(4 * one.bytesUp);
});

Deno.test("ringTraffic: nothing on one GPU; softmax pays three B-sized all-reduces more", () => {
  const o = { perGpuBatch: 128, dim: 512 };
  expect(ringTraffic("sphereface2", { ...o, shards: 1 }).bytesPerGpu).toBe(0);
  const sf2 = ringTraffic("sphereface2", { ...o, shards: 8 });
  const sm = ringTraffic("softmax", { ...o, shards: 8 });
  const B = 8 * 128;
  expect(sm.bytesPerGpu - sf2.bytesPerGpu).toBeCloseTo(3 * 2 * (7 / 8) * B * 4 - 2 * (7 / 8) * 8, 6);
  expect(sm.collectives - sf2.collectives).toBe(2);
  // Ring all-gather + reduce-scatter of B×d fp32 dominate: 2·(7/8)·B·d·4.
  expect(sf2.bytesPerGpu).toBeGreaterThan(2 * (7 / 8) * B * 512 * 4);
});

Deno.test("stepTimeModel: compute scales 1/P at fixed global batch share, comm grows with P", () => {
  const dev = DEVICE_MODELS[0];
  const t1 = stepTimeModel("sphereface2", { shards: 1, perGpuBatch: 128, dim: 512, classes: 1e6, device: dev });
  const t8 = stepTimeModel("sphereface2", { shards: 8, perGpuBatch: 128, dim: 512, classes: 1e6, device: dev });
  expect(t1.commSeconds).toBe(0);
  expect(t8.computeSeconds).toBeCloseTo(t1.computeSeconds, 12); // 8× the batch on 8× the devices
  expect(t8.commSeconds).toBeGreaterThan(0);
  const sm8 = stepTimeModel("softmax", { shards: 8, perGpuBatch: 128, dim: 512, classes: 1e6, device: dev });
  expect(sm8.seconds).toBeGreaterThan(t8.seconds);
});

Deno.test("the quoted Partial FC anchor fit predicts the third model-parallel row within 1%", () => {
  const a = partialFcAnchor();
  expect(a.a).toBeGreaterThan(0);
  expect(a.c).toBeGreaterThan(0);
  expect(Math.abs(a.predicted55M / a.quoted55M - 1)).toBeLessThan(0.01);
});

Deno.test("fitShardMemory recovers the line; maxClasses is the last K under 4 GiB and scales with shards", () => {
  const truth = { perClass: 8 * 512 + 4 * 12 * 256, base: 30 * 2 ** 20 };
  const points = [10_000, 50_000, 100_000].map((k) => ({
    localClasses: k,
    bytes: shardMemoryModel({ localClasses: k, ...truth }),
  }));
  const fit = fitShardMemory(points);
  expect(fit.perClass).toBeCloseTo(truth.perClass, 6);
  expect(fit.base / 2 ** 20).toBeCloseTo(30, 3);
  const k1 = maxClasses({ shards: 1, ...fit });
  expect(shardMemoryModel({ localClasses: k1, ...fit })).toBeLessThanOrEqual(4 * 2 ** 30);
  expect(shardMemoryModel({ localClasses: k1 + 1, ...fit })).toBeGreaterThan(4 * 2 ** 30);
  expect(maxClasses({ shards: 4, ...fit })).toBe(4 * k1);
  expect(() => fitShardMemory([points[0], points[0]])).toThrow(/two points/);
});

Deno.test("sphereface2ChunkClasses: the whole block when it fits the heap budget, else the largest chunk that does", () => {
  const shape = { batch: 256, dim: 512 };
  // K = 20k and 100k on one shard fit unchunked (the in-process head measured 2.4 GB at 100k).
  expect(sphereface2ChunkClasses({ ...shape, localClasses: 20_000 })).toBe(20_000);
  expect(sphereface2ChunkClasses({ ...shape, localClasses: 100_000 })).toBe(100_000);
  // 1M classes: W_r alone is 2 GB; the chunk fills what is left.
  const c = sphereface2ChunkClasses({ ...shape, localClasses: 1_000_000 });
  expect(c).toBeGreaterThan(MIN_CHUNK_CLASSES);
  expect(c).toBeLessThan(100_000);
  const perClass = 4 * (24 * 256 + 3 * 512);
  const budget = 4 * 2 ** 30 - 512 * 2 ** 20 - 4 * 512 * 1_000_000;
  expect(c).toBe(Math.floor(budget / perClass));
  // A bigger batch needs smaller chunks; a tiny heap falls back to the minimum (never above the block).
  expect(sphereface2ChunkClasses({ ...shape, batch: 1024, localClasses: 1_000_000 })).toBeLessThan(c);
  expect(sphereface2ChunkClasses({ ...shape, localClasses: 50_000, heapBytes: 600 * 2 ** 20 })).toBe(
    MIN_CHUNK_CLASSES,
  );
  expect(sphereface2ChunkClasses({ ...shape, localClasses: 500, heapBytes: 1 })).toBe(500);
});
