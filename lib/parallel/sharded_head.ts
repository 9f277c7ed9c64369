/**
 * A model-parallel classifier head: K class centres split over N shards (Deno Workers, one TensorFlow.js backend
 * each; on a multi-GPU machine, one per GPU), coordinated by the main thread. Per step the coordinator
 * all-gathers the batch (every shard receives all B embeddings and labels), each shard computes its own loss
 * terms and its own dL/dW_r (and updates W_r with SGD), and the feature gradients are reduced back.
 *
 * - SphereFace2 (variants C/A/M, either gradient form): 1 round. The shared scalar bias b is owned by the
 *   coordinator: its value travels down with the features (4 bytes per shard) and its gradient, a sum over
 *   shards, up with the feature gradients (4 bytes per shard); the loss is the sum of the shards' partials.
 * - Softmax family (ArcFace, CosFace, SphereFace, NormFace): 3 rounds, as insightface's Partial FC: all-reduce of
 *   the row max, of the row sum of exponentials, and of the target logit (sent with the feature gradients).
 *
 * Exactness: the loss, dL/dx, dL/db and the SGD-updated W equal the unsharded head's (lib/losses, same W and b)
 * to float32 rounding (tests/parallel/sharded_head_test.ts). Traffic of every step is counted by the transport
 * and returned with the step.
 *
 * @example
 * ```ts
 * import { ShardedHead } from "./sharded_head.ts";
 * await using head = await ShardedHead.create({ head: { type: "sphereface2" }, featDim: 8, numClasses: 11, shards: 2 });
 * const r = await head.step(new Float32Array(4 * 8).fill(0.1), new Int32Array([0, 3, 7, 10]));
 * console.log(r.loss, r.traffic.rounds); // …, 1
 * ```
 * @module
 */
import { type HeadConfig, type HeadConfigInput, parseHeadConfig } from "../losses/config.ts";
import { initialBias } from "../losses/sphereface2.ts";
import { type InitMeta, OPS, type ShardBackend, type ShardStats } from "./protocol.ts";
import { joinColumns, type ShardRange, shardRanges, sliceColumns } from "./partition.ts";
import { marginLoss } from "./shard_math.ts";
import { Coordinator, PortChannel, type Traffic } from "./transport.ts";

export interface ShardedHeadOptions {
  /** Head config (sphereface2 or a normalised margin head), as for `createHead`. */
  head: HeadConfigInput;
  featDim: number;
  numClasses: number;
  shards: number;
  /** Backend of every shard; default wasm (single-threaded, kit kernel fixes). */
  backend?: ShardBackend;
  /** Initial W (row-major d×K), e.g. an unsharded head's; default: each shard draws its own xavier-normal block. */
  weight?: Float32Array;
  /** Initial SphereFace2 bias; default b₀ for K (rounded to float32, as the unsharded head stores it). */
  bias?: number;
  /** Seed of the shards' own initialisation (shard r uses seed + r). */
  seed?: number;
  /**
   * SphereFace2: each shard walks its block in chunks of this many classes, so its peak memory is W_r plus one
   * chunk's activations. Default: chosen by each shard from its heap budget for the step's batch size
   * (`sphereface2ChunkClasses` in `cost_model.ts`): the whole block when its activations fit, since chunking
   * costs time. Exact either way; the softmax family ignores it.
   */
  chunkClasses?: number;
}

/** One step's results, on the coordinator. */
export interface ShardedStep {
  /** The batch loss (sum of shard partials for SphereFace2; −mean log p_y for the softmax family). */
  loss: number;
  /** dL/dx (B×d, row-major), reduced over shards. */
  gradX: Float32Array;
  /** dL/db summed over shards (SphereFace2), else null. */
  gradBias: number | null;
  /** Payload bytes and rounds of this step. */
  traffic: Traffic;
}

const WORKER_URL = new URL("./shard_worker.ts", import.meta.url).href;

/** The coordinator of a sharded head; {@link close} (or `await using`) terminates the workers. */
export class ShardedHead {
  private closed = false;
  private biasValue: number | null;

  private constructor(
    readonly config: HeadConfig,
    readonly featDim: number,
    readonly numClasses: number,
    readonly ranges: readonly ShardRange[],
    private readonly workers: Worker[],
    private readonly hub: Coordinator,
    bias: number | null,
  ) {
    this.biasValue = bias;
  }

  /** Starts N workers, gives each its block, and waits until every backend is ready. */
  static async create(o: ShardedHeadOptions): Promise<ShardedHead> {
    const config = parseHeadConfig(o.head, "sharded head");
    if (config.type === "softmax") throw new Error("sharded head: plain softmax is not supported (use a margin head)");
    const ranges = shardRanges(o.numClasses, o.shards);
    if (ranges.some((r) => r.size < 2)) {
      throw new Error(
        `sharded head: ${o.shards} shards for ${o.numClasses} classes leave a block of one class (min 2)`,
      );
    }
    if (o.weight && o.weight.length !== o.featDim * o.numClasses) {
      throw new Error(`sharded head: weight has ${o.weight.length} values, expected ${o.featDim}×${o.numClasses}`);
    }
    const workers: Worker[] = [];
    const channels: PortChannel[] = [];
    try {
      for (let r = 0; r < o.shards; r++) {
        const worker = new Worker(WORKER_URL, { type: "module" });
        const channel = new PortChannel(worker);
        // An uncaught error in a worker fails its channel instead of crashing the coordinator.
        worker.addEventListener("error", (e) => {
          e.preventDefault();
          channel.fail(new Error(`shard ${r} crashed: ${e.message}`));
        });
        workers.push(worker);
        channels.push(channel);
      }
      const hub = new Coordinator(channels);
      const bias = config.type === "sphereface2" ? Math.fround(o.bias ?? initialBias(config, o.numClasses)) : null;
      ranges.forEach((range, r) => {
        const meta: InitMeta = {
          config,
          featDim: o.featDim,
          numClasses: o.numClasses,
          shard: r,
          ...range,
          backend: o.backend ?? "wasm",
          seed: (o.seed ?? 0) + r,
          chunkClasses: o.chunkClasses ?? null,
        };
        const data: Record<string, Float32Array> = o.weight
          ? { weight: sliceColumns(o.weight, o.featDim, o.numClasses, range) }
          : {};
        hub.send(r, { op: OPS.init, data, meta: { ...meta } });
      });
      await hub.gather(OPS.ready);
      hub.counter.reset();
      return new ShardedHead(config, o.featDim, o.numClasses, ranges, workers, hub, bias);
    } catch (err) {
      for (const [r, w] of workers.entries()) {
        channels[r]?.close();
        w.terminate();
      }
      throw err;
    }
  }

  get shards(): number {
    return this.ranges.length;
  }

  /** SphereFace2's shared bias as the coordinator holds it (null for the softmax family). */
  get bias(): number | null {
    return this.biasValue;
  }

  /**
   * One forward + backward pass on the batch (x: B×d row-major, labels: global class indices), then, with `lr`,
   * an SGD step on every W_r (in the shards) and on b (here): W_r ← Ŵ_r − lr·dL/dŴ_r, b ← b − lr·dL/db.
   */
  async step(x: Float32Array, labels: Int32Array, options: { lr?: number } = {}): Promise<ShardedStep> {
    this.assertOpen();
    const batch = labels.length;
    if (x.length !== batch * this.featDim) {
      throw new Error(`step: x has ${x.length} values, expected ${batch}×${this.featDim}`);
    }
    for (const y of labels) {
      if (!(y >= 0 && y < this.numClasses)) throw new Error(`step: label ${y} outside [0, ${this.numClasses})`);
    }
    return await this.failClosed(() => this.runStep(x, labels, options.lr ?? 0));
  }

  private async runStep(x: Float32Array, labels: Int32Array, lr: number): Promise<ShardedStep> {
    const hub = this.hub;
    hub.counter.reset();
    // All-gather of features and labels: in the star every shard receives the whole batch.
    const data: Record<string, Float32Array | Int32Array> = { x: x.slice(), labels: labels.slice() };
    if (this.biasValue !== null) data.bias = new Float32Array([this.biasValue]);
    hub.broadcast({ op: OPS.step, data, meta: { lr } });

    let loss: number;
    let gradBias: number | null = null;
    let replies;
    if (this.config.type === "sphereface2") {
      replies = await hub.gather(OPS.grads);
      loss = replies.reduce((sum, m) => sum + m.data.loss[0], 0);
      gradBias = replies.reduce((sum, m) => sum + m.data.gradBias[0], 0);
      if (lr !== 0) this.biasValue = Math.fround(this.biasValue! - Math.fround(lr * Math.fround(gradBias)));
    } else {
      const maxes = await hub.gather(OPS.rowMax);
      const rowMax = reduce(maxes.map((m) => m.data.rowMax as Float32Array), Math.max);
      hub.broadcast({ op: OPS.sumExp, data: { rowMax: rowMax.slice() } });
      const sums = await hub.gather(OPS.sumExp);
      const sumExp = reduce(sums.map((m) => m.data.sumExp as Float32Array), (a, b) => a + b);
      hub.broadcast({ op: OPS.finish, data: { sumExp: sumExp.slice() } });
      replies = await hub.gather(OPS.grads);
      const target = reduce(replies.map((m) => m.data.targetLogit as Float32Array), (a, b) => a + b);
      loss = marginLoss(rowMax, sumExp, target);
    }
    const gradX = reduce(replies.map((m) => m.data.gradX as Float32Array), (a, b) => a + b);
    return { loss, gradX, gradBias, traffic: hub.counter.snapshot() };
  }

  /** The whole W (d×K, row-major) gathered from the shards, and b. Not part of a step's traffic. */
  async weights(): Promise<{ weight: Float32Array; bias: number | null }> {
    this.assertOpen();
    for (let r = 0; r < this.shards; r++) this.hub.send(r, { op: OPS.weights, data: {} });
    const replies = await this.failClosed(() => this.hub.gather(OPS.weights));
    const blocks = replies.map((m) => m.data.weight as Float32Array);
    return { weight: joinColumns(blocks, this.featDim, this.ranges), bias: this.biasValue };
  }

  /** Each shard's memory (wasm heap size, peak tensor bytes, live tensors). */
  async stats(): Promise<ShardStats[]> {
    this.assertOpen();
    for (let r = 0; r < this.shards; r++) this.hub.send(r, { op: OPS.stats, data: {} });
    return (await this.failClosed(() => this.hub.gather(OPS.stats))).map((m) => m.meta as unknown as ShardStats);
  }

  /** Terminates every worker (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [r, w] of this.workers.entries()) {
      this.hub.channels[r].close();
      w.terminate();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /**
   * Runs a multi-round exchange; if any shard fails, the others' replies to that round are left unread, so the
   * head is closed (workers terminated) rather than left out of step.
   */
  private async failClosed<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("sharded head is closed");
  }
}

/** Elementwise reduction of equal-length arrays (the coordinator's side of an all-reduce). */
function reduce(parts: readonly Float32Array[], op: (a: number, b: number) => number): Float32Array {
  const out = parts[0].slice();
  for (const part of parts.slice(1)) {
    if (part.length !== out.length) throw new Error(`reduce: lengths ${part.length} and ${out.length} differ`);
    for (let i = 0; i < out.length; i++) out[i] = op(out[i], part[i]);
  }
  return out;
}
