import { expect } from "expect";
import { distractorArray, evaluateMegaface, readFeatureBin, writeFeatureBin } from "../../lib/eval/megaface.ts";
import { useBackend } from "../shared.ts";

function unitRows(n: number, dim: number, seed: number): Float32Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += (out[i * dim + k] = rand()) ** 2;
    for (let k = 0; k < dim; k++) out[i * dim + k] /= Math.sqrt(norm);
  }
  return out;
}

Deno.test("MegaFace identification and verification on a hand-checkable case", async () => {
  await useBackend("cpu");
  // Identity 1: two images at cos 0.8. Distractors: one at 0.9 with image b, one far away.
  const probes = { features: new Float32Array([1, 0, 0.8, 0.6]), dim: 2, identities: [1, 1] };
  const d = new Float32Array([0.6, 0.8, -1, 0]); // d0·a = 0.6, d0·b = 0.96; d1 · both < 0
  const r = await evaluateMegaface(probes, distractorArray(d, 2), { scales: [1, 2], far: 0.25 });
  // Searches: mate a, probe b: 0.8 vs max d·b = 0.96 → miss; mate b, probe a: 0.8 vs 0.6 → hit.
  expect(r.searches).toBe(2);
  expect(r.rank1).toEqual({ 1: 50, 2: 50 });
  // Impostors: 0.6, 0.96, −1, −0.8; K = ⌈0.25·4⌉ = 1 → thr 0.96 → genuine 0.8 fails.
  expect(r.threshold).toBeCloseTo(0.96, 6);
  expect(r.tar).toBe(0);
  expect([r.genuinePairs, r.impostorPairs]).toEqual([1, 4]);
});

Deno.test("MegaFace results do not depend on the chunk size and match brute force", async () => {
  await useBackend("wasm");
  const dim = 16;
  const P = 30;
  const D = 1000;
  const probes = { features: unitRows(P, dim, 3), dim, identities: Array.from({ length: P }, (_, i) => i % 6) };
  const dist = unitRows(D, dim, 9);
  const a = await evaluateMegaface(probes, distractorArray(dist, dim), { scales: [10, 100, 1000], chunkSize: 7 });
  const b = await evaluateMegaface(probes, distractorArray(dist, dim), { scales: [10, 100, 1000], chunkSize: 1000 });
  expect(a.rank1).toEqual(b.rank1);
  expect(a.tar).toBe(b.tar);
  expect(a.rank1[10]).toBeGreaterThanOrEqual(a.rank1[100]);
  expect(a.rank1[100]).toBeGreaterThanOrEqual(a.rank1[1000]);
  // Brute force at scale 100.
  const dot = (x: Float32Array, i: number, y: Float32Array, j: number) => {
    let s = 0;
    for (let k = 0; k < dim; k++) s += x[i * dim + k] * y[j * dim + k];
    return s;
  };
  let hits = 0;
  let searches = 0;
  for (let i = 0; i < P; i++) {
    for (let j = 0; j < P; j++) {
      if (i === j || probes.identities[i] !== probes.identities[j]) continue;
      searches++;
      let maxD = -Infinity;
      for (let k = 0; k < 100; k++) maxD = Math.max(maxD, dot(probes.features, j, dist, k));
      if (dot(probes.features, i, probes.features, j) > maxD) hits++;
    }
  }
  expect(a.rank1[100]).toBeCloseTo((100 * hits) / searches, 6);
});

Deno.test("MegaFace feature files: round trip and errors naming the file", () => {
  const v = new Float32Array([0.25, -1.5, 3]);
  expect(Array.from(readFeatureBin(writeFeatureBin(v), "x.bin"))).toEqual([0.25, -1.5, 3]);
  expect(() => readFeatureBin(new Uint8Array(8), "a.bin")).toThrow("a.bin: truncated feature file");
  const bad = writeFeatureBin(v);
  bad[12] = 9;
  expect(() => readFeatureBin(bad, "b.bin")).toThrow(/b\.bin: not a MegaFace feature file/);
  expect(() => readFeatureBin(writeFeatureBin(v).slice(0, 20), "c.bin")).toThrow(/c\.bin: 20 bytes for 3 floats/);
});
