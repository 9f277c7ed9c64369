/**
 * The sharded head benchmark: forward + backward (and W re-normalisation) of a loss head split over N shard
 * workers ({@link ShardedHead}), timed on the coordinator. `--shards 1` runs through the same worker path, so the
 * N-shard / 1-shard ratio compares like with like. Each shard draws its own W block (the main thread never holds
 * K×d), the batch is random and fixed, and no SGD update is applied (as in the in-process `bench head`).
 *
 * @example
 * ```ts
 * import { benchShardedHead } from "./head_parallel.ts";
 * const r = await benchShardedHead({ loss: "sphereface2", batch: 8, dim: 16, classes: 101, shards: 2, warmup: 1, steps: 2 });
 * console.log(r.imagesPerSecond, r.bytesPerStep, r.roundsPerStep);
 * ```
 * @module
 */
import type { HeadType } from "../losses/config.ts";
import { headFamily, starTraffic } from "../parallel/cost_model.ts";
import { threadCpuSeconds } from "../parallel/cpu_time.ts";
import type { ShardBackend } from "../parallel/protocol.ts";
import { ShardedHead } from "../parallel/sharded_head.ts";
import { timeSteps } from "./timing.ts";

export interface ShardedBenchOptions {
  loss: HeadType;
  batch: number;
  dim: number;
  classes: number;
  shards: number;
  warmup: number;
  steps: number;
  seed?: number;
  backend?: ShardBackend;
  /** SphereFace2 classes per chunk inside a shard (default: from each shard's heap budget, see `ShardedHead`). */
  chunkClasses?: number;
}

export interface ShardedBenchResult {
  bench: "head";
  loss: HeadType;
  batch: number;
  dim: number;
  classes: number;
  shards: number;
  /** Class blocks per shard. */
  localClasses: number[];
  /** Per shard: classes in its largest chunk (= its block when unchunked) and the number of chunks, after the run. */
  chunkClasses: number[];
  chunks: number[];
  backend: string;
  steps: number;
  stepSeconds: number;
  /** Fastest timed step: less sensitive than the median to other processes taking the cores. */
  minStepSeconds: number;
  /** Every timed step, seconds (noise check). */
  stepTimes: number[];
  imagesPerSecond: number;
  /** Measured payload bytes per step, coordinator → shards and back, all shards. */
  bytesDownPerStep: number;
  bytesUpPerStep: number;
  bytesPerStep: number;
  /** Measured synchronisation rounds per step. */
  roundsPerStep: number;
  /** The cost model's bytes and rounds for the same shape (must equal the measured ones). */
  modelBytesPerStep: number;
  modelRoundsPerStep: number;
  /** Per shard: wasm heap size (peak), MB, or null on cpu. */
  shardHeapMB: (number | null)[];
  /** Per shard: peak live tensor bytes seen after a pass, MB. */
  shardPeakTensorMB: number[];
  /** Largest of {@link shardHeapMB} (or of the tensor peaks without wasm). */
  peakShardMB: number;
  /** Coordinator process RSS peak, MB (includes the workers: one process). */
  peakRssMB: number;
  /** Per shard: CPU seconds of its thread per timed step (Linux), null elsewhere. Unaffected by other processes. */
  shardCpuSecondsPerStep: (number | null)[];
  /**
   * B / (CPU seconds of the busiest shard per step): the throughput if every shard had a core to itself and the
   * coordinator cost nothing. Compare its ratio across shard counts with the wall-clock one to see what load and
   * coordination cost.
   */
  cpuBoundImagesPerSecond: number | null;
  /** CPU seconds of the coordinator (main thread) per timed step: copying, reducing, posting. */
  coordinatorCpuSecondsPerStep: number | null;
  /** Seconds to start the workers and initialise their blocks (not in the step time). */
  startSeconds: number;
}

const MB = 2 ** 20;

/** Times the sharded head; throws (after terminating the workers) if a step fails. */
export async function benchShardedHead(o: ShardedBenchOptions): Promise<ShardedBenchResult> {
  const t0 = performance.now();
  await using head = await ShardedHead.create({
    head: { type: o.loss },
    featDim: o.dim,
    numClasses: o.classes,
    shards: o.shards,
    backend: o.backend ?? "wasm",
    seed: o.seed ?? 0,
    chunkClasses: o.chunkClasses,
  });
  const startSeconds = (performance.now() - t0) / 1000;
  const { x, labels } = randomBatch(o.batch, o.dim, o.classes, o.seed ?? 0);
  let traffic = { bytesDown: 0, bytesUp: 0, rounds: 0 };
  const step = async () => {
    traffic = (await head.step(x, labels)).traffic;
  };
  for (let i = 0; i < o.warmup; i++) await step();
  const cpuBefore = (await head.stats()).map((s) => s.cpuSeconds);
  const mainBefore = threadCpuSeconds();
  const times = await timeSteps(step, { warmup: 0, steps: o.steps });
  const mainAfter = threadCpuSeconds();
  const stats = await head.stats();
  const cpu = stats.map((
    s,
    i,
  ) => (s.cpuSeconds === null || cpuBefore[i] === null ? null : (s.cpuSeconds - cpuBefore[i]!) / o.steps));
  const busiest = cpu.every((c) => c !== null) ? Math.max(...(cpu as number[])) : null;
  const model = starTraffic(headFamily(o.loss), { shards: o.shards, batch: o.batch, dim: o.dim, classes: o.classes });
  const heaps = stats.map((s) => (s.wasmHeapBytes === null ? null : s.wasmHeapBytes / MB));
  const tensors = stats.map((s) => s.peakTensorBytes / MB);
  return {
    bench: "head",
    loss: o.loss,
    batch: o.batch,
    dim: o.dim,
    classes: o.classes,
    shards: o.shards,
    localClasses: head.ranges.map((r) => r.size),
    chunkClasses: stats.map((s) => s.chunkClasses),
    chunks: stats.map((s) => s.chunks),
    backend: stats[0].backend,
    steps: o.steps,
    stepSeconds: times.medianSeconds,
    minStepSeconds: times.minSeconds,
    stepTimes: times.seconds,
    imagesPerSecond: o.batch / times.medianSeconds,
    bytesDownPerStep: traffic.bytesDown,
    bytesUpPerStep: traffic.bytesUp,
    bytesPerStep: traffic.bytesDown + traffic.bytesUp,
    roundsPerStep: traffic.rounds,
    modelBytesPerStep: model.bytesDown + model.bytesUp,
    modelRoundsPerStep: model.rounds,
    shardHeapMB: heaps,
    shardPeakTensorMB: tensors,
    peakShardMB: Math.max(...heaps.map((h, i) => h ?? tensors[i])),
    peakRssMB: times.peakRssMB,
    shardCpuSecondsPerStep: cpu,
    cpuBoundImagesPerSecond: busiest ? o.batch / busiest : null,
    coordinatorCpuSecondsPerStep: mainBefore === null || mainAfter === null ? null : (mainAfter - mainBefore) / o.steps,
    startSeconds,
  };
}

/** A fixed pseudo-random batch (mulberry32), so every shard count sees the same data. */
export function randomBatch(batch: number, dim: number, classes: number, seed: number): {
  x: Float32Array;
  labels: Int32Array;
} {
  let state = (seed * 0x9e3779b9 + 0x6d2b79f5) >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const x = new Float32Array(batch * dim);
  for (let i = 0; i < x.length; i++) x[i] = next() * 2 - 1;
  const labels = new Int32Array(batch);
  for (let i = 0; i < batch; i++) labels[i] = Math.floor(next() * classes);
  return { x, labels };
}
