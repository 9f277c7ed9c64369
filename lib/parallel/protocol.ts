/**
 * The messages between the coordinator ({@link ShardedHead}) and a shard worker (`shard_worker.ts`), one op per
 * phase. Step data travel in `data` (counted, see `transport.ts`); `meta` carries only control values.
 *
 * Per training step:
 * - SphereFace2 (1 round): `step` {x, labels, bias} → `grads` {gradX, loss, gradBias}.
 * - Softmax family (3 rounds): `step` {x, labels} → `rowMax` {rowMax}; `sumExp` {rowMax: M} → `sumExp` {sumExp};
 *   `finish` {sumExp: S} → `grads` {gradX, targetLogit}.
 *
 * @example
 * ```ts
 * import { OPS } from "./protocol.ts";
 * OPS.step; // "step"
 * ```
 * @module
 */
import type { HeadConfig } from "../losses/config.ts";

/** Op names, so both sides spell them the same. */
export const OPS = {
  init: "init",
  ready: "ready",
  step: "step",
  rowMax: "rowMax",
  sumExp: "sumExp",
  finish: "finish",
  grads: "grads",
  weights: "weights",
  stats: "stats",
} as const;

/** Backends a shard can run (one TensorFlow.js backend per worker). */
export type ShardBackend = "wasm" | "cpu";

/** `init` meta: what a shard holds. With `data.weight` absent, the shard draws its own xavier-normal block. */
export interface InitMeta {
  config: HeadConfig;
  featDim: number;
  /** Global K (the xavier std √(2/(d+K)) and SphereFace2's b₀ depend on it). */
  numClasses: number;
  shard: number;
  start: number;
  size: number;
  backend: ShardBackend;
  seed: number;
  /**
   * SphereFace2: classes per chunk within the block (bounds the activations' memory; exact), or null to choose it
   * per batch size from the heap budget (`sphereface2ChunkClasses`: the whole block when it fits).
   */
  chunkClasses: number | null;
}

/** `step` meta. */
export interface StepMeta {
  /** SGD learning rate applied to W_r after the gradient (0: no update). */
  lr: number;
}

/** `stats` reply meta: a shard's memory. */
export interface ShardStats {
  shard: number;
  backend: string;
  /** Size of the wasm instance's linear memory (it only grows: the peak); null on other backends. */
  wasmHeapBytes: number | null;
  /** Largest tf.memory().numBytes seen at the end of a forward/backward pass. */
  peakTensorBytes: number;
  /** Tensors alive now (a leak check: constant between steps). */
  numTensors: number;
  /** CPU seconds this shard's thread has used since it started (Linux), or null: work per shard, load-independent. */
  cpuSeconds: number | null;
  /** Column chunks W_r is stored and processed in (1: unchunked; always 1 for the softmax family). */
  chunks: number;
  /** Classes in the largest chunk (the block size when unchunked). */
  chunkClasses: number;
}
