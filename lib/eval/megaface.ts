/**
 * MegaFace-style evaluation (Challenge 1, shared/notes/protocols.md §7): probe identities searched against a
 * gallery padded with distractors, at distractor scales 10¹ … 10⁶, in memory-bounded chunks.
 *
 * - **Identification (rank-1)**: for each probe identity, each of its images in turn joins the distractors as the
 *   gallery mate and every other image of that identity is searched; a search succeeds when the mate scores
 *   strictly above every distractor. Rank-1 = successes / searches, per scale (the first D distractors).
 * - **Verification (TAR@FAR)**: genuine = same-identity probe pairs; impostor = every (probe, distractor) pair.
 *   thr = the ⌈FAR·#impostors⌉-th largest impostor score (kept with a bounded heap, never materialised);
 *   TAR = #{genuine > thr} / #genuine.
 *
 * Distractor similarities are computed with TensorFlow.js matrix products in chunks, so 10⁶ distractors need
 * only chunk × probes scores in memory at a time.
 *
 * @example
 * ```ts
 * import { readFeatureBin, writeFeatureBin } from "./megaface.ts";
 * const v = readFeatureBin(writeFeatureBin(new Float32Array([0.6, 0.8])), "x.bin"); // Float32Array [0.6, 0.8]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The distractor scales of the MegaFace devkit. */
export const MEGAFACE_SCALES = [10, 100, 1_000, 10_000, 100_000, 1_000_000] as const;

/** Unit-norm probe features with an identity per row. */
export interface ProbeSet {
  features: Float32Array;
  dim: number;
  identities: ArrayLike<number>;
}

/** Distractor features, fetched chunk by chunk (rows [start, end), row-major, unit norm). */
export interface DistractorSource {
  readonly count: number;
  readonly dim: number;
  chunk(start: number, end: number): Float32Array | Promise<Float32Array>;
}

/** Wraps an in-memory matrix as a {@link DistractorSource}. */
export function distractorArray(features: Float32Array, dim: number): DistractorSource {
  return { count: features.length / dim, dim, chunk: (s, e) => features.subarray(s * dim, e * dim) };
}

export interface MegafaceOptions {
  /** Scales to report (each ≤ the number of distractors); default every devkit scale that fits. */
  scales?: readonly number[];
  /** Distractors per chunk (memory: chunk × probes × 4 bytes). */
  chunkSize?: number;
  /** FAR for verification (default 1e-6). */
  far?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface MegafaceResult {
  /** Percent, per scale: `{10: 99.1, 100: 97.3, …}`. */
  rank1: Record<number, number>;
  /** Identification searches per scale (ordered same-identity pairs). */
  searches: number;
  /** TAR at the FAR, percent, over all probes × the largest scale's distractors. */
  tar: number;
  far: number;
  threshold: number;
  genuinePairs: number;
  impostorPairs: number;
}

/** A fixed-capacity min-heap keeping the largest values seen. */
class TopK {
  private readonly heap: Float64Array;
  size = 0;
  constructor(readonly capacity: number) {
    this.heap = new Float64Array(capacity);
  }
  push(v: number): void {
    const h = this.heap;
    if (this.size < this.capacity) {
      let i = this.size++;
      h[i] = v;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (h[p] <= h[i]) break;
        [h[p], h[i]] = [h[i], h[p]];
        i = p;
      }
    } else if (v > h[0]) {
      h[0] = v;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.size && h[l] < h[m]) m = l;
        if (r < this.size && h[r] < h[m]) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
  }
  /** The smallest kept value: the capacity-th largest overall. */
  min(): number {
    return this.size ? this.heap[0] : -Infinity;
  }
}

function probeDot(p: ProbeSet, a: number, b: number): number {
  let s = 0;
  for (let k = 0; k < p.dim; k++) s += p.features[a * p.dim + k] * p.features[b * p.dim + k];
  return s;
}

/** Identification at each scale and verification at the largest, in one pass over the distractors. */
export async function evaluateMegaface(
  probes: ProbeSet,
  distractors: DistractorSource,
  options: MegafaceOptions = {},
): Promise<MegafaceResult> {
  const P = probes.identities.length;
  if (probes.features.length !== P * probes.dim) {
    throw new Error(`megaface: ${P} identities for ${probes.features.length / probes.dim} probe rows`);
  }
  if (distractors.dim !== probes.dim) {
    throw new Error(`megaface: distractor dim ${distractors.dim} ≠ probe dim ${probes.dim}`);
  }
  const scales = [...(options.scales ?? MEGAFACE_SCALES.filter((s) => s <= distractors.count))].sort((a, b) => a - b);
  if (scales.length === 0 || scales[scales.length - 1] > distractors.count) {
    throw new Error(`megaface: scales ${scales.join(", ")} need ≤ ${distractors.count} distractors`);
  }
  const total = scales[scales.length - 1];
  const chunkSize = options.chunkSize ?? 4096;
  const far = options.far ?? 1e-6;
  const impostorPairs = P * total;
  const top = new TopK(Math.max(1, Math.ceil(far * impostorPairs)));
  const maxD = new Float64Array(P).fill(-Infinity);
  const maxAtScale = new Map<number, Float64Array>();
  const probeT = tf.tensor2d(probes.features, [P, probes.dim]);
  try {
    let start = 0;
    for (const scale of scales) {
      while (start < scale) {
        const end = Math.min(start + chunkSize, scale);
        const rows = await distractors.chunk(start, end);
        const sims = tf.tidy(() => tf.matMul(probeT, tf.tensor2d(rows, [end - start, probes.dim]), false, true));
        const values = await sims.data();
        sims.dispose();
        const n = end - start;
        for (let i = 0; i < P; i++) {
          let m = maxD[i];
          for (let j = 0; j < n; j++) {
            const v = values[i * n + j];
            if (v > m) m = v;
            top.push(v);
          }
          maxD[i] = m;
        }
        start = end;
        options.onProgress?.(start, total);
      }
      maxAtScale.set(scale, maxD.slice());
    }
  } finally {
    probeT.dispose();
  }
  // Same-identity probe pairs: ordered for identification, unordered for verification.
  const byId = new Map<number, number[]>();
  for (let i = 0; i < P; i++) {
    const id = probes.identities[i];
    byId.set(id, [...(byId.get(id) ?? []), i]);
  }
  const rank1: Record<number, number> = {};
  let searches = 0;
  const hits = new Map<number, number>(scales.map((s) => [s, 0]));
  const genuine: number[] = [];
  for (const members of byId.values()) {
    for (const a of members) {
      for (const b of members) {
        if (a === b) continue;
        const s = probeDot(probes, a, b);
        searches++;
        if (a < b) genuine.push(s);
        for (const scale of scales) if (s > maxAtScale.get(scale)![b]) hits.set(scale, hits.get(scale)! + 1);
      }
    }
  }
  if (searches === 0) throw new Error("megaface: no identity has two probe images");
  for (const scale of scales) rank1[scale] = (100 * hits.get(scale)!) / searches;
  const threshold = top.min();
  const tar = (100 * genuine.filter((s) => s > threshold).length) / genuine.length;
  return { rank1, searches, tar, far, threshold, genuinePairs: genuine.length, impostorPairs };
}

/** Reads a devkit feature file: int32 header (len, 1, 4, 5) little-endian, then len float32 values. */
export function readFeatureBin(bytes: Uint8Array, path: string): Float32Array {
  if (bytes.length < 16) throw new Error(`${path}: truncated feature file (${bytes.length} bytes, header is 16)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [len, one, four, type] = [0, 4, 8, 12].map((o) => view.getInt32(o, true));
  if (one !== 1 || four !== 4 || type !== 5) {
    throw new Error(`${path}: not a MegaFace feature file (header ${len},${one},${four},${type}; expected len,1,4,5)`);
  }
  if (bytes.length !== 16 + 4 * len) {
    throw new Error(`${path}: ${bytes.length} bytes for ${len} floats (expected ${16 + 4 * len})`);
  }
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = view.getFloat32(16 + 4 * i, true);
  return out;
}

/** Writes a devkit feature file. */
export function writeFeatureBin(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(16 + 4 * values.length);
  const view = new DataView(bytes.buffer);
  [values.length, 1, 4, 5].forEach((v, i) => view.setInt32(4 * i, v, true));
  values.forEach((v, i) => view.setFloat32(16 + 4 * i, v, true));
  return bytes;
}
