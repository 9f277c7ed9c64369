/**
 * The transport between the coordinator (main thread) and its shards (Deno Workers): messages whose data travel
 * as ArrayBuffers in the `postMessage` transfer list (moved, not copied), and a counter of every payload byte and
 * every synchronisation round.
 *
 * Topology: a star. Every message goes between the coordinator and one shard, so counting at the coordinator
 * sees all traffic. What is counted:
 * - bytes: the `byteLength` of every typed array in a message's `data` (features, labels, reductions, the scalar
 *   bias and loss: everything the step needs). `op` and `meta` are control fields (a name, the batch size, the
 *   learning rate) and are not counted; no step-time data may travel in them.
 * - rounds: one per {@link Coordinator.gather}, i.e. each time the coordinator waits for every shard. A collective
 *   (gather, all-reduce) through a star costs exactly one round.
 *
 * @example
 * ```ts
 * import { Coordinator, PortChannel } from "./transport.ts";
 * const worker = new Worker(new URL("./shard_worker.ts", import.meta.url).href, { type: "module" });
 * const hub = new Coordinator([new PortChannel(worker)]);
 * hub.send(0, { op: "ping", data: { x: new Float32Array(4) } }); // 16 bytes down
 * const [reply] = await hub.gather("pong"); // one round
 * console.log(hub.counter.snapshot(), reply.op);
 * worker.terminate();
 * ```
 * @module
 */

/** Typed arrays a message may carry. */
export type Buffer = Float32Array | Int32Array;

/** A message between coordinator and shard. Only `data` is step data (and counted). */
export interface Message {
  op: string;
  data: Record<string, Buffer>;
  /** Control: small JSON values (configuration, sizes); never per-step tensor data. */
  meta?: Record<string, unknown>;
}

/** The error reply a shard sends instead of its result. */
export const ERROR_OP = "error";

/** Bytes of a message's payload (the counted part). */
export function payloadBytes(message: Message): number {
  let bytes = 0;
  for (const value of Object.values(message.data)) bytes += value.byteLength;
  return bytes;
}

/**
 * Makes every typed array own its whole buffer (copying those that are views into a larger one), so that the
 * transfer list moves exactly the counted bytes, and returns the buffers to transfer.
 */
export function transferList(message: Message): ArrayBuffer[] {
  const seen = new Set<ArrayBufferLike>();
  for (const [key, value] of Object.entries(message.data)) {
    let v = value;
    if (v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength || seen.has(v.buffer)) {
      v = v.slice() as Buffer;
      message.data[key] = v;
    }
    seen.add(v.buffer);
  }
  return [...seen] as ArrayBuffer[];
}

/** The endpoint a channel wraps: a `Worker` on the coordinator's side, the worker's global scope on the other. */
export interface Port {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  removeEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

/** An ordered, promise-based message queue over a {@link Port}. */
export class PortChannel {
  private readonly inbox: Message[] = [];
  private readonly waiting: { resolve: (m: Message) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  private readonly listener = (event: MessageEvent) => this.deliver(event.data as Message);

  constructor(private readonly port: Port) {
    port.addEventListener("message", this.listener);
  }

  /** Posts a message, transferring its buffers (they are detached on this side afterwards). */
  send(message: Message): void {
    if (this.failure) throw this.failure;
    this.port.postMessage(message, transferList(message));
  }

  /** The next message; rejects with the shard's error when it replied with {@link ERROR_OP}. */
  receive(): Promise<Message> {
    const next = this.inbox.shift();
    if (next) return settle(next);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject })).then((m) => settle(m as Message));
  }

  /** Fails every pending and future receive (the worker died or was terminated). */
  fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }

  /** Stops listening. */
  close(): void {
    this.port.removeEventListener("message", this.listener);
    this.fail(new Error("channel closed"));
  }

  private deliver(message: Message): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(message);
    else this.inbox.push(message);
  }
}

function settle(message: Message): Promise<Message> {
  if (message.op === ERROR_OP) return Promise.reject(new Error(String(message.meta?.message ?? "shard failed")));
  return Promise.resolve(message);
}

/** Traffic of one step (or any interval between two {@link TrafficCounter.reset} calls). */
export interface Traffic {
  /** Payload bytes coordinator → shards, all shards together. */
  bytesDown: number;
  /** Payload bytes shards → coordinator, all shards together. */
  bytesUp: number;
  /** Synchronisation rounds: times the coordinator waited for every shard. */
  rounds: number;
  /** Messages in both directions. */
  messages: number;
}

/** Counts bytes, messages and rounds. */
export class TrafficCounter {
  private t: Traffic = { bytesDown: 0, bytesUp: 0, rounds: 0, messages: 0 };

  down(bytes: number): void {
    this.t.bytesDown += bytes;
    this.t.messages += 1;
  }

  up(bytes: number): void {
    this.t.bytesUp += bytes;
    this.t.messages += 1;
  }

  round(): void {
    this.t.rounds += 1;
  }

  snapshot(): Traffic {
    return { ...this.t };
  }

  reset(): void {
    this.t = { bytesDown: 0, bytesUp: 0, rounds: 0, messages: 0 };
  }
}

/** The coordinator's side of the star: one channel per shard and the counter they share. */
export class Coordinator {
  readonly counter = new TrafficCounter();

  constructor(readonly channels: readonly PortChannel[]) {}

  get size(): number {
    return this.channels.length;
  }

  /** Sends one message to one shard (counted as bytes down). */
  send(shard: number, message: Message): void {
    const bytes = payloadBytes(message);
    this.channels[shard].send(message);
    this.counter.down(bytes);
  }

  /**
   * Sends every shard its own copy of the same data (each copy is transferred, and counted, separately: in a
   * star every shard's copy crosses a link). The message's own arrays are transferred to the last shard: copy
   * anything still needed.
   */
  broadcast(message: Message): void {
    for (let s = 0; s < this.size; s++) {
      const data: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(message.data)) data[k] = s === this.size - 1 ? v : v.slice() as Buffer;
      this.send(s, { op: message.op, data, meta: message.meta });
    }
  }

  /** Waits for one message from every shard, in shard order: one synchronisation round. */
  async gather(expectedOp: string): Promise<Message[]> {
    const replies = await Promise.all(this.channels.map((c) => c.receive()));
    for (const [s, reply] of replies.entries()) {
      if (reply.op !== expectedOp) throw new Error(`shard ${s} replied "${reply.op}", expected "${expectedOp}"`);
      this.counter.up(payloadBytes(reply));
    }
    this.counter.round();
    return replies;
  }
}
