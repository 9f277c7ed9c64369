/**
 * Cost model of the sharded head: bytes and synchronisation rounds per step as functions of the number of shards
 * P, batch B, embedding size d and classes K, for SphereFace2 and the softmax family. Pure functions; every figure
 * they produce is a **model**, checked against the transport's counts (tests/parallel) where it can be measured.
 *
 * Star (the kit's coordinator, {@link starTraffic}; 4-byte floats and int32 labels), summed over shards:
 *
 *   SphereFace2:  down = P·(4Bd + 4B + 4)          up = P·(4Bd + 4 + 4)            rounds = 1
 *   softmax:      down = P·(4Bd + 4B + 4B + 4B)    up = P·(4B + 4B + 4B + 4Bd)     rounds = 3
 *
 * (down: features, labels, SphereFace2's bias value | the reduced row max and sum of exponentials; up: feature
 * gradients plus loss and bias gradient | row max, sum of exponentials, target logit.) K does not appear: the
 * class centres never move.
 *
 * Ring collectives on P GPUs ({@link ringTraffic}; NCCL-style, per GPU, per-GPU batch b, B = P·b, v bytes per
 * value): an all-gather or reduce-scatter of n values sends (P−1)/P·n·v per GPU, an all-reduce 2(P−1)/P·n·v.
 *
 *   both:         all-gather x (n = Bd), all-gather labels (n = B, 4 bytes), reduce-scatter dL/dx (n = Bd)
 *   SphereFace2:  + one all-reduce of 2 scalars (bias gradient, loss; can ride in the reduce-scatter buffer)
 *   softmax:      + three all-reduces of B values (row max, sum of exponentials, target)
 *
 * Step time ({@link stepTimeModel}): t = 6·B·d·K/(P·F) + bytes/β + collectives·α, with F the device's sustained
 * FLOP/s for the head's three B×d×K/P matmuls, β the link's bus bandwidth and α the latency of one collective.
 *
 * @example
 * ```ts
 * import { starTraffic } from "./cost_model.ts";
 * starTraffic("sphereface2", { shards: 2, batch: 256, dim: 512, classes: 100_000 }); // { bytesDown: 1050632, … }
 * ```
 * @module
 */

/** Which sharded head: SphereFace2, or the softmax family (CosFace, ArcFace, …: same traffic). */
export type HeadFamily = "sphereface2" | "softmax";

/** Family of a head type name. */
export function headFamily(type: string): HeadFamily {
  return type === "sphereface2" ? "sphereface2" : "softmax";
}

export interface StepShape {
  /** P, the number of shards (devices). */
  shards: number;
  /** B, the (global) batch every shard sees. */
  batch: number;
  /** d, the embedding size. */
  dim: number;
  /** K, the number of classes. */
  classes: number;
}

/** Modelled traffic through the coordinator, in the transport's units (see module doc for the formulas). */
export interface StarTraffic {
  bytesDown: number;
  bytesUp: number;
  rounds: number;
  messages: number;
}

/** Bytes and rounds of one step through the star (what `Coordinator` counts). */
export function starTraffic(family: HeadFamily, s: StepShape): StarTraffic {
  const { shards: P, batch: B, dim: d } = s;
  if (family === "sphereface2") {
    return { bytesDown: P * (4 * B * d + 4 * B + 4), bytesUp: P * (4 * B * d + 8), rounds: 1, messages: 2 * P };
  }
  return { bytesDown: P * (4 * B * d + 12 * B), bytesUp: P * (12 * B + 4 * B * d), rounds: 3, messages: 6 * P };
}

/** Per-GPU traffic of one step with ring collectives. */
export interface RingTraffic {
  /** Bytes each GPU sends per step. */
  bytesPerGpu: number;
  /** Collectives per step (each pays the latency α). */
  collectives: number;
  /** Of which the tiny or B-sized all-reduces. */
  smallCollectives: number;
}

/** Ring traffic for per-GPU batch `perGpuBatch` on `shards` GPUs, `bytesPerValue` for features (4 fp32, 2 fp16). */
export function ringTraffic(
  family: HeadFamily,
  o: { shards: number; perGpuBatch: number; dim: number; bytesPerValue?: number },
): RingTraffic {
  const P = o.shards;
  const v = o.bytesPerValue ?? 4;
  const B = P * o.perGpuBatch;
  const share = (P - 1) / P;
  const common = share * B * o.dim * v + share * B * 4 + share * B * o.dim * v;
  if (family === "sphereface2") {
    return { bytesPerGpu: common + 2 * share * 2 * 4, collectives: 4, smallCollectives: 1 };
  }
  return { bytesPerGpu: common + 3 * 2 * share * B * 4, collectives: 6, smallCollectives: 3 };
}

/** A device and link, for {@link stepTimeModel}; every number is an assumption and says so in reports. */
export interface DeviceModel {
  name: string;
  /** Sustained FLOP/s of the head's matmuls. */
  flops: number;
  /** Link bus bandwidth β, bytes/s. */
  bandwidth: number;
  /** Latency α of one collective, seconds. */
  latency: number;
}

/** Stated assumptions for the 8-GPU extrapolation (V100-class compute; two kinds of link). */
export const DEVICE_MODELS: readonly DeviceModel[] = [
  { name: "V100 + NVLink (130 GB/s, 20 µs)", flops: 12e12, bandwidth: 130e9, latency: 20e-6 },
  { name: "V100 + PCIe 3.0 x16 (10 GB/s, 30 µs)", flops: 12e12, bandwidth: 10e9, latency: 30e-6 },
];

/** Modelled head step: compute 6·B·d·K/(P·F), communication bytes/β + collectives·α. */
export function stepTimeModel(
  family: HeadFamily,
  o: { shards: number; perGpuBatch: number; dim: number; classes: number; device: DeviceModel },
): { computeSeconds: number; commSeconds: number; seconds: number; imagesPerSecond: number } {
  const B = o.shards * o.perGpuBatch;
  const computeSeconds = (6 * B * o.dim * o.classes) / (o.shards * o.device.flops);
  const ring = ringTraffic(family, o);
  const commSeconds = o.shards === 1 ? 0 : ring.bytesPerGpu / o.device.bandwidth + ring.collectives * o.device.latency;
  const seconds = computeSeconds + commSeconds;
  return { computeSeconds, commSeconds, seconds, imagesPerSecond: B / seconds };
}

/**
 * Memory of one shard (bytes), linear in its classes k: M(k) = perClass·k + base. What perClass holds depends on
 * the head: a whole-block pass keeps W_r, dL/dW_r and about a dozen B×k float32 activations
 * (perClass ≈ 8d + 4·n·B); SphereFace2 walked in chunks keeps only W_r (4d per class), its activations bounded by
 * the chunk and counted in `base`. Both are fitted to measured wasm heaps with {@link fitShardMemory}. A SphereFace2
 * shard chunks only past its budget ({@link sphereface2ChunkClasses}), so a fit to smaller, unchunked blocks has the
 * whole-block slope and its K max is a lower bound.
 */
export function shardMemoryModel(o: { localClasses: number; perClass: number; base: number }): number {
  return o.perClass * o.localClasses + o.base;
}

/** Least-squares line through measured (k, bytes) points: the perClass and base of {@link shardMemoryModel}. */
export function fitShardMemory(
  points: readonly { localClasses: number; bytes: number }[],
): { perClass: number; base: number } {
  if (new Set(points.map((p) => p.localClasses)).size < 2) {
    throw new Error("fitShardMemory: need at least two points with different class counts");
  }
  const n = points.length;
  const mu = points.reduce((a, p) => a + p.localClasses, 0) / n;
  const mv = points.reduce((a, p) => a + p.bytes, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.localClasses - mu) * (p.bytes - mv);
    sxx += (p.localClasses - mu) ** 2;
  }
  const perClass = sxy / sxx;
  return { perClass, base: mv - perClass * mu };
}

/** The largest K whose P shards each stay under `limitBytes` (the 4 GiB wasm32 heap by default). */
export function maxClasses(o: { shards: number; perClass: number; base: number; limitBytes?: number }): number {
  const limit = o.limitBytes ?? 4 * 2 ** 30;
  return Math.max(0, Math.floor((limit - o.base) / o.perClass)) * o.shards;
}

/** wasm32's linear memory: the most one shard's TensorFlow.js wasm backend can hold. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * Heap kept out of the chunk budget: the wasm runtime, the batch and its gradient (B×d), bias, labels, and the
 * allocator's slack (the fitted base of a chunked shard was 236 MB; this leaves twice that).
 */
export const CHUNK_RESERVE_BYTES = 512 * 2 ** 20;

/**
 * float32 B×c tensors alive at the peak of one SphereFace2 chunk's forward + backward (cosines, g(c), margins,
 * softplus, sigmoid, weights and their gradients; the docstring count of "about twenty", rounded up). At K = 100k,
 * B = 256 this predicts 2.5 GB, against the 2.4 GB heap the in-process head measured.
 */
export const SPHEREFACE2_ACTIVATIONS = 24;

/**
 * d×c float32 tensors per chunk besides the stored block: the chunk's dL/dW, its SGD update and its normalised
 * copy in the re-normalisation.
 */
export const SPHEREFACE2_CHUNK_WEIGHT_COPIES = 3;

/** Never chunk finer than this (a chunk must have at least 2 classes; tiny ones only add per-kernel overhead). */
export const MIN_CHUNK_CLASSES = 1024;

/**
 * How many classes a SphereFace2 shard processes at once, from a memory budget: the whole block when its
 * activations fit, else the largest chunk that does. Chunking is exact (the loss is a sum of per-class terms) but
 * costs time (each chunk re-reads x and pays the per-kernel overhead: ~17–20 % CPU at 16,384-class chunks), so
 * it is used only when the block would not fit.
 *
 *   budget = heap − reserve − 4·d·k          (the block W_r itself, stored once)
 *   per class of a chunk = 4·(n_act·B + n_w·d)
 *   chunk = k if k·per class ≤ budget, else max(MIN_CHUNK_CLASSES, ⌊budget / per class⌋)
 *
 * Below the minimum (a block that nearly fills the heap by itself) the minimum is returned and the allocation
 * decides.
 */
export function sphereface2ChunkClasses(o: {
  batch: number;
  dim: number;
  localClasses: number;
  heapBytes?: number;
  reserveBytes?: number;
}): number {
  const k = o.localClasses;
  const budget = (o.heapBytes ?? WASM_HEAP_BYTES) - (o.reserveBytes ?? CHUNK_RESERVE_BYTES) - 4 * o.dim * k;
  const perClass = 4 * (SPHEREFACE2_ACTIVATIONS * o.batch + SPHEREFACE2_CHUNK_WEIGHT_COPIES * o.dim);
  if (k * perClass <= budget) return k;
  return Math.min(k, Math.max(MIN_CHUNK_CLASSES, Math.floor(budget / perClass)));
}

/**
 * insightface arcface_torch's published speed table (8×V100-32GB; samples/s and GPU memory), **quoted** from its
 * README, as the anchor of the extrapolation. null: not reported.
 */
export const PARTIAL_FC_TABLE: readonly {
  identities: number;
  dataParallel: [number, number] | null;
  modelParallel: [number, number] | null;
  partialFc01: [number, number];
}[] = [
  { identities: 125_000, dataParallel: [4681, 7358], modelParallel: [4824, 5306], partialFc01: [5004, 4868] },
  { identities: 1_400_000, dataParallel: [1672, 32252], modelParallel: [3043, 11178], partialFc01: [4738, 6056] },
  { identities: 5_500_000, dataParallel: null, modelParallel: [1389, 32188], partialFc01: [3975, 9854] },
  { identities: 8_000_000, dataParallel: null, modelParallel: null, partialFc01: [3565, 12310] },
  { identities: 16_000_000, dataParallel: null, modelParallel: null, partialFc01: [2679, 19950] },
  { identities: 29_000_000, dataParallel: null, modelParallel: null, partialFc01: [1855, 32324] },
];

/**
 * The anchor: 1/throughput = a + c·K fitted to two model-parallel rows of {@link PARTIAL_FC_TABLE} (125k and
 * 1.4M identities) — a is the per-sample time of everything but the classifier, c the classifier's per-sample,
 * per-class time on 8 GPUs. Returns the fit and its prediction for the third row (5.5M) as a check.
 */
export function partialFcAnchor(): { a: number; c: number; predicted55M: number; quoted55M: number } {
  const rows = PARTIAL_FC_TABLE.filter((r) => r.modelParallel);
  const [r0, r1, r2] = rows;
  const t0 = 1 / r0.modelParallel![0];
  const t1 = 1 / r1.modelParallel![0];
  const c = (t1 - t0) / (r1.identities - r0.identities);
  const a = t0 - c * r0.identities;
  return { a, c, predicted55M: 1 / (a + c * r2.identities), quoted55M: r2.modelParallel![0] };
}
