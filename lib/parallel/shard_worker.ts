/**
 * A shard: a Deno Worker with its own TensorFlow.js backend (wasm, single-threaded, with the kit's kernel fixes),
 * holding one contiguous block W_r (d×k_r) of the classifier and answering the coordinator's ops
 * (`protocol.ts`). Started by {@link ShardedHead}; not meant to be imported.
 *
 * Every reply is posted with its buffers transferred. Any failure (an op out of order, a wasm heap exhausted) is
 * replied as an `error` message, so the coordinator rejects instead of hanging.
 *
 * @example
 * ```ts
 * const w = new Worker(new URL("./shard_worker.ts", import.meta.url).href, { type: "module" });
 * w.terminate();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/select.ts";
import type { HeadConfig } from "../losses/config.ts";
import { MARGIN_RULES } from "../losses/softmax_family.ts";
import { threadCpuSeconds } from "./cpu_time.ts";
import { sphereface2ChunkClasses } from "./cost_model.ts";
import { chunkSizes, localLabels } from "./partition.ts";
import { type InitMeta, OPS, type ShardStats, type StepMeta } from "./protocol.ts";
import {
  disposeMarginState,
  marginBackward,
  marginForward,
  type MarginRule,
  type MarginState,
  marginSumExp,
  sphereface2Blocks,
} from "./shard_math.ts";
import { ERROR_OP, type Message, type Port, PortChannel } from "./transport.ts";

const channel = new PortChannel(self as unknown as Port);

interface Shard {
  meta: InitMeta;
  /**
   * W_r as one variable per column chunk (`chunkSizes`), so that SphereFace2 can re-normalise and update each chunk
   * in place, with no block-sized temporaries. The softmax family (and an unchunked SphereFace2 block) has one.
   */
  blocks: tf.Variable<tf.Rank.R2>[];
  rule: MarginRule | null;
  /** Softmax family: the batch and state between the three reductions. */
  pending: { x: tf.Tensor2D; state: MarginState; lr: number; targetLogit: Float32Array } | null;
  peakTensorBytes: number;
}

let shard: Shard | null = null;
let backendReady: Promise<unknown> | null = null;

function ruleFor(config: HeadConfig): MarginRule | null {
  switch (config.type) {
    case "sphereface2":
      return null;
    case "arcface":
      return MARGIN_RULES.arcface(config.m);
    case "cosface":
      return MARGIN_RULES.cosface(config.m);
    case "sphereface":
      return MARGIN_RULES.sphereface(config.m);
    case "normface":
      return MARGIN_RULES.normface();
    case "softmax":
      throw new Error("the sharded head supports sphereface2 and the normalised margin heads, not plain softmax");
  }
}

function current(): Shard {
  if (!shard) throw new Error("shard not initialised");
  return shard;
}

function notePeak(s: Shard): void {
  s.peakTensorBytes = Math.max(s.peakTensorBytes, tf.memory().numBytes);
}

/** The whole block W_r, for the softmax family (always stored as one chunk). */
function whole(s: Shard): tf.Variable<tf.Rank.R2> {
  if (s.blocks.length !== 1) throw new Error("the softmax family keeps its block in one piece");
  return s.blocks[0];
}

/**
 * Re-normalises W_r's columns outside the gradient, as `Head.prepare` does before every forward pass (the same
 * w / max(‖w‖, 1e-12) as `normalizeColumns`). Columns are independent, so each chunk is normalised on its own and
 * the peak is W_r plus a few chunk-sized temporaries, not block-sized ones.
 */
function prepare(s: Shard): void {
  for (const block of s.blocks) {
    const unit = tf.tidy(() => tf.div(block, tf.maximum(tf.sqrt(tf.sum(tf.square(block), 0, true)), 1e-12)));
    block.assign(unit as tf.Tensor2D);
    unit.dispose();
  }
}

/**
 * Stores W_r in chunks of `chunk` classes (a no-op when it already is). Called once at init with an explicit
 * chunk, else at the first step of each batch size (the budget depends on B); re-chunking holds W_r twice for
 * a moment, as the one-shot normalisation did every step before.
 */
function rechunk(s: Shard, chunk: number): void {
  const { featDim: d, size: k } = s.meta;
  const sizes = chunkSizes(k, chunk);
  if (sizes.length === s.blocks.length && sizes.every((size, j) => size === s.blocks[j].shape[1])) return;
  const full = s.blocks.length === 1 ? s.blocks[0] : tf.concat(s.blocks, 1) as tf.Tensor2D;
  const next: tf.Variable<tf.Rank.R2>[] = [];
  let start = 0;
  for (const size of sizes) {
    const part = sizes.length === 1 ? full : tf.slice(full, [0, start], [d, size]) as tf.Tensor2D;
    next.push(tf.variable(part));
    if (part !== full) part.dispose();
    start += size;
  }
  if (full !== s.blocks[0]) full.dispose();
  tf.dispose(s.blocks);
  s.blocks = next;
}

/** Classes per chunk for a batch of B: the explicit `chunkClasses`, else from the heap budget (`cost_model.ts`). */
function chunkFor(s: Shard, batch: number): number {
  return s.meta.chunkClasses ??
    sphereface2ChunkClasses({ batch, dim: s.meta.featDim, localClasses: s.meta.size });
}

function sgd(s: Shard, gradW: tf.Tensor2D, lr: number): void {
  if (lr === 0) return;
  const w = whole(s);
  const next = tf.tidy(() => tf.sub(w, tf.mul(gradW, lr)));
  w.assign(next as tf.Tensor2D);
  next.dispose();
}

async function init(message: Message): Promise<Message> {
  const meta = message.meta as unknown as InitMeta;
  backendReady ??= initBackend({ requested: meta.backend });
  await backendReady;
  if (shard) {
    shard.pending && dropPending(shard);
    tf.dispose(shard.blocks);
    shard = null;
  }
  const { featDim: d, size, numClasses } = meta;
  const weight = message.data.weight
    ? tf.tensor2d(message.data.weight as Float32Array, [d, size])
    : tf.randomNormal([d, size], 0, Math.sqrt(2 / (d + numClasses)), "float32", meta.seed) as tf.Tensor2D;
  shard = { meta, blocks: [tf.variable(weight)], rule: ruleFor(meta.config), pending: null, peakTensorBytes: 0 };
  weight.dispose();
  if (!shard.rule && meta.chunkClasses !== null) rechunk(shard, meta.chunkClasses);
  return { op: OPS.ready, data: {}, meta: { backend: tf.getBackend() } };
}

function dropPending(s: Shard): void {
  if (!s.pending) return;
  disposeMarginState(s.pending.state);
  s.pending.x.dispose();
  s.pending = null;
}

async function step(message: Message): Promise<Message> {
  const s = current();
  dropPending(s);
  const { lr } = message.meta as unknown as StepMeta;
  const batch = message.data.labels.length;
  if (!s.rule) rechunk(s, chunkFor(s, batch));
  prepare(s);
  const x = tf.tensor2d(message.data.x as Float32Array, [batch, s.meta.featDim]);
  // Labels arrive global (all-gathered); each shard maps them to its block.
  const local = localLabels(message.data.labels as Int32Array, s.meta);
  const labels = tf.tensor1d(local, "int32");
  try {
    if (!s.rule) {
      if (s.meta.config.type !== "sphereface2") throw new Error("unreachable");
      const bias = tf.tensor1d(message.data.bias as Float32Array);
      const g = sphereface2Blocks(x, local, s.blocks, bias, s.meta.config, lr);
      notePeak(s);
      const [gradX, loss, gradBias] = await Promise.all([g.gradX.data(), g.loss.data(), g.gradBias.data()]);
      tf.dispose([bias, g.loss, g.gradX, g.gradBias]);
      return {
        op: OPS.grads,
        data: { gradX: gradX as Float32Array, loss: loss as Float32Array, gradBias: gradBias as Float32Array },
      };
    }
    const cfg = s.meta.config as { s: number };
    const f = marginForward(x, labels, whole(s), cfg.s, s.rule);
    const rowMax = await f.rowMax.data();
    // The target logit is reduced in the last round, with the feature gradient: keep it until then.
    const targetLogit = await f.targetLogit.data() as Float32Array;
    tf.dispose([f.rowMax, f.targetLogit]);
    s.pending = { x, state: f.state, lr, targetLogit };
    return { op: OPS.rowMax, data: { rowMax: rowMax as Float32Array } };
  } finally {
    labels.dispose();
    if (!s.pending) x.dispose();
  }
}

async function sumExp(message: Message): Promise<Message> {
  const s = current();
  if (!s.pending) throw new Error("sumExp before step");
  const globalMax = tf.tensor1d(message.data.rowMax as Float32Array);
  const sum = marginSumExp(s.pending.state, globalMax);
  globalMax.dispose();
  const values = await sum.data();
  sum.dispose();
  return { op: OPS.sumExp, data: { sumExp: values as Float32Array } };
}

async function finish(message: Message): Promise<Message> {
  const s = current();
  if (!s.pending) throw new Error("finish before sumExp");
  const globalSum = tf.tensor1d(message.data.sumExp as Float32Array);
  const cfg = s.meta.config as { s: number };
  const g = marginBackward(s.pending.state, s.pending.x, whole(s), globalSum, cfg.s);
  notePeak(s);
  globalSum.dispose();
  const gradX = await g.gradX.data();
  sgd(s, g.gradW, s.pending.lr);
  tf.dispose([g.gradX, g.gradW]);
  const targetLogit = s.pending.targetLogit;
  dropPending(s);
  return { op: OPS.grads, data: { gradX: gradX as Float32Array, targetLogit } };
}

async function weights(): Promise<Message> {
  const s = current();
  const full = s.blocks.length === 1 ? s.blocks[0] : tf.concat(s.blocks, 1);
  const values = await full.data();
  if (full !== s.blocks[0]) full.dispose();
  return { op: OPS.weights, data: { weight: values as Float32Array } };
}

function stats(): Message {
  const s = current();
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const heap = backend.wasm?.HEAPU8?.buffer.byteLength ?? null;
  const out: ShardStats = {
    shard: s.meta.shard,
    backend: tf.getBackend(),
    wasmHeapBytes: heap,
    peakTensorBytes: s.peakTensorBytes,
    numTensors: tf.memory().numTensors,
    chunks: s.blocks.length,
    chunkClasses: Math.max(...s.blocks.map((b) => b.shape[1])),
    cpuSeconds: threadCpuSeconds(),
  };
  return { op: OPS.stats, data: {}, meta: { ...out } };
}

async function handle(message: Message): Promise<Message> {
  switch (message.op) {
    case OPS.init:
      return await init(message);
    case OPS.step:
      return await step(message);
    case OPS.sumExp:
      return await sumExp(message);
    case OPS.finish:
      return await finish(message);
    case OPS.weights:
      return await weights();
    case OPS.stats:
      return stats();
    default:
      throw new Error(`unknown op "${message.op}"`);
  }
}

// Ops are handled one at a time, in order: a message's reply is sent before the next message is read.
while (true) {
  const message = await channel.receive();
  try {
    channel.send(await handle(message));
  } catch (err) {
    const e = err as Error;
    channel.send({ op: ERROR_OP, data: {}, meta: { message: `shard: ${e.message}` } });
  }
}
