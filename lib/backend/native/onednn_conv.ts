/**
 * 2-D convolutions (forward, input gradient, filter gradient) run by oneDNN on raw float32 buffers in TensorFlow.js
 * layouts: activations NHWC, filters HWIO, as the wasm backend stores them. oneDNN picks its own (blocked) weight
 * layout; the small filter tensors are reordered to and from HWIO on every call (cheap next to the conv), the
 * activations are used in place, so no activation is ever copied.
 *
 * Each geometry gets a {@link ConvPlan}: memory descriptors, primitive descriptors, primitives and memory objects
 * built once (creating a primitive JIT-compiles code: milliseconds) and reused on every step by swapping data
 * handles. Plans are cached per geometry ({@link ConvPlanCache}).
 *
 * @module
 */
import { check, DNNL, implName, type OneDnn, outPointer } from "./onednn_ffi.ts";

/** One convolution's geometry (tfjs `Conv2DInfo` values; dilation 1). */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  fh: number;
  fw: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  padBottom: number;
  padRight: number;
}

/** The three passes a plan can run. */
export type ConvPass = "forward" | "backwardData" | "backwardWeights";

/** A raw address (bytes) as oneDNN sees it. */
export type Address = bigint;

function dims(values: number[]): BigInt64Array {
  const d = new BigInt64Array(12);
  values.forEach((v, i) => (d[i] = BigInt(v)));
  return d;
}

function ptr(value: bigint): Deno.PointerValue {
  return Deno.UnsafePointer.create(value);
}

type Role = "src" | "dst" | "w";

/** A reorder between a user-layout memory and the primitive's preferred layout. */
interface Reorder {
  pd: Deno.PointerObject;
  prim: Deno.PointerObject;
  args: Uint8Array;
}

/** A primitive plus the memory objects it reads and writes, and the reorders around it. */
interface Stage {
  pd: Deno.PointerObject;
  prim: Deno.PointerObject;
  /** Packed `dnnl_exec_arg_t` array for the primitive. */
  args: Uint8Array;
  nargs: number;
  /** Reorders run before (inputs into the primitive's layout) and after (outputs back to the user layout). */
  before: Reorder[];
  after: Reorder[];
  /** User-layout memory objects whose data handle is set per call. */
  handles: Map<Role, Deno.PointerObject>;
  /** Memory objects owned by the stage (destroyed with it). */
  owned: Deno.PointerObject[];
  impl: string;
}

/**
 * Prepared oneDNN primitives for one geometry. Not thread-safe (one JS thread calls it); `dispose()` frees every
 * native object.
 */
export class ConvPlan {
  readonly geometry: ConvGeometry;
  private readonly dnn: OneDnn;
  private readonly srcMd = new Uint8Array(DNNL.memoryDescBytes + 64);
  private readonly dstMd = new Uint8Array(DNNL.memoryDescBytes + 64);
  private readonly wUserMd = new Uint8Array(DNNL.memoryDescBytes + 64);
  private readonly wAnyMd = new Uint8Array(DNNL.memoryDescBytes + 64);
  private readonly srcAnyMd = new Uint8Array(DNNL.memoryDescBytes + 64);
  private readonly dstAnyMd = new Uint8Array(DNNL.memoryDescBytes + 64);
  /** Whether activations may use oneDNN's blocked layouts (reordered in and out) rather than NHWC in place. */
  private readonly blocked: boolean;
  private readonly strides: BigInt64Array;
  private readonly padL: BigInt64Array;
  private readonly padR: BigInt64Array;
  private forwardPd: Deno.PointerObject | null = null;
  private readonly stages = new Map<ConvPass, Stage>();

  /** OpenMP threads this plan's primitives were built for and run with. */
  readonly threads: number;

  constructor(dnn: OneDnn, g: ConvGeometry, options: { blockedActivations?: boolean; threads?: number } = {}) {
    this.dnn = dnn;
    this.threads = options.threads ?? dnn.maxThreads;
    this.blocked = options.blockedActivations ?? false;
    this.geometry = g;
    const s = dnn.sym;
    // Logical dims are always N,C,H,W (data) and O,I,H,W (weights); the tag gives the physical layout.
    check(
      s.dnnl_memory_desc_init_by_tag(this.srcMd, 4, dims([g.batch, g.inC, g.inH, g.inW]), DNNL.f32, DNNL.tagNhwc),
      "src md",
    );
    check(
      s.dnnl_memory_desc_init_by_tag(this.dstMd, 4, dims([g.batch, g.outC, g.outH, g.outW]), DNNL.f32, DNNL.tagNhwc),
      "dst md",
    );
    const wDims = dims([g.outC, g.inC, g.fh, g.fw]);
    check(s.dnnl_memory_desc_init_by_tag(this.wUserMd, 4, wDims, DNNL.f32, DNNL.tagHwio), "weights md");
    check(s.dnnl_memory_desc_init_by_tag(this.wAnyMd, 4, wDims, DNNL.f32, DNNL.tagAny), "weights any md");
    const srcDims = dims([g.batch, g.inC, g.inH, g.inW]);
    const dstDims = dims([g.batch, g.outC, g.outH, g.outW]);
    check(s.dnnl_memory_desc_init_by_tag(this.srcAnyMd, 4, srcDims, DNNL.f32, DNNL.tagAny), "src any md");
    check(s.dnnl_memory_desc_init_by_tag(this.dstAnyMd, 4, dstDims, DNNL.f32, DNNL.tagAny), "dst any md");
    this.strides = dims([g.strideH, g.strideW]);
    this.padL = dims([g.padTop, g.padLeft]);
    this.padR = dims([g.padBottom, g.padRight]);
  }

  /** out[NHWC] = conv(x[NHWC], w[HWIO]). */
  forward(x: Address, w: Address, out: Address): void {
    this.execute(this.stage("forward"), { src: x, w, dst: out });
  }

  /** dx[NHWC] = conv_transpose(dy[NHWC], w[HWIO]). */
  backwardData(dy: Address, w: Address, dx: Address): void {
    this.execute(this.stage("backwardData"), { dst: dy, w, src: dx });
  }

  /** dw[HWIO] = correlation of x[NHWC] with dy[NHWC]. */
  backwardWeights(x: Address, dy: Address, dw: Address): void {
    this.execute(this.stage("backwardWeights"), { src: x, dst: dy, w: dw });
  }

  /** The implementation oneDNN chose for a pass (builds the pass if needed), e.g. "brg:avx512_core". */
  impl(pass: ConvPass): string {
    return this.stage(pass).impl;
  }

  dispose(): void {
    const s = this.dnn.sym;
    for (const st of this.stages.values()) {
      for (const r of [...st.before, ...st.after]) {
        s.dnnl_primitive_destroy(r.prim);
        s.dnnl_primitive_desc_destroy(r.pd);
      }
      s.dnnl_primitive_destroy(st.prim);
      s.dnnl_primitive_desc_destroy(st.pd);
      for (const m of st.owned) s.dnnl_memory_destroy(m);
    }
    this.stages.clear();
    if (this.forwardPd) s.dnnl_primitive_desc_destroy(this.forwardPd);
    this.forwardPd = null;
  }

  private execute(st: Stage, addrs: Record<Role, Address>): void {
    const s = this.dnn.sym;
    const stream = this.dnn.stream;
    this.dnn.setThreads(this.threads);
    for (const [role, mem] of st.handles) check(s.dnnl_memory_set_data_handle(mem, ptr(addrs[role])), "set handle");
    for (const r of st.before) check(s.dnnl_primitive_execute(r.prim, stream, 2, r.args), "reorder in");
    check(s.dnnl_primitive_execute(st.prim, stream, st.nargs, st.args), "convolution");
    for (const r of st.after) check(s.dnnl_primitive_execute(r.prim, stream, 2, r.args), "reorder out");
    check(s.dnnl_stream_wait(stream), "stream wait");
  }

  private createPd(opDesc: Uint8Array, hint: Deno.PointerValue): Deno.PointerObject {
    const out = new BigUint64Array(1);
    check(this.dnn.sym.dnnl_primitive_desc_create(out, opDesc, null, this.dnn.engine, hint), "primitive_desc_create");
    return outPointer(out, "primitive_desc_create");
  }

  private getForwardPd(): Deno.PointerObject {
    this.forwardPd ??= this.createPdFor("forward", new Uint8Array(DNNL.convDescBytes + 256));
    return this.forwardPd;
  }

  private memory(md: Deno.PointerValue, handle: bigint | null): Deno.PointerObject {
    const out = new BigUint64Array(1);
    check(this.dnn.sym.dnnl_memory_create(out, md, this.dnn.engine, handle === null ? null : ptr(handle)), "memory");
    return outPointer(out, "memory_create");
  }

  private stage(pass: ConvPass): Stage {
    const existing = this.stages.get(pass);
    if (existing) return existing;
    const s = this.dnn.sym;
    this.dnn.setThreads(this.threads);
    // Each stage owns its pd; the plan's separate forward pd only serves as the backward passes' hint.
    const pd = this.createPdFor(pass, new Uint8Array(DNNL.convDescBytes + 256));
    const st: Stage = {
      pd,
      prim: pd,
      args: new Uint8Array(0),
      nargs: 0,
      before: [],
      after: [],
      handles: new Map(),
      owned: [],
      impl: implName(this.dnn, pd),
    };
    const userMd: Record<Role, Uint8Array> = { src: this.srcMd, dst: this.dstMd, w: this.wUserMd };
    const queries: Record<ConvPass, Record<Role, number>> = {
      forward: { src: DNNL.querySrcMd, w: DNNL.queryWeightsMd, dst: DNNL.queryDstMd },
      backwardData: { src: DNNL.queryDiffSrcMd, w: DNNL.queryWeightsMd, dst: DNNL.queryDiffDstMd },
      backwardWeights: { src: DNNL.querySrcMd, w: DNNL.queryDiffWeightsMd, dst: DNNL.queryDiffDstMd },
    };
    const outputs: Record<ConvPass, Role> = { forward: "dst", backwardData: "src", backwardWeights: "w" };
    const argIds: Record<ConvPass, Record<Role, number>> = {
      forward: { src: DNNL.argSrc, w: DNNL.argWeights, dst: DNNL.argDst },
      backwardData: { src: DNNL.argDiffSrc, w: DNNL.argWeights, dst: DNNL.argDiffDst },
      backwardWeights: { src: DNNL.argSrc, w: DNNL.argDiffWeights, dst: DNNL.argDiffDst },
    };
    const pairs: [number, Deno.PointerObject][] = [];
    for (const role of ["src", "w", "dst"] as const) {
      const user = this.memory(Deno.UnsafePointer.of(userMd[role]), null);
      st.owned.push(user);
      st.handles.set(role, user);
      const primMd = s.dnnl_primitive_desc_query_md(pd, queries[pass][role], 0);
      let mem = user;
      if (s.dnnl_memory_desc_equal(primMd, Deno.UnsafePointer.of(userMd[role])) === 0) {
        mem = this.memory(primMd, DNNL.memoryAllocate);
        st.owned.push(mem);
        const isOutput = outputs[pass] === role;
        const reorder = this.reorder(isOutput ? mem : user, isOutput ? user : mem, primMd, userMd[role], isOutput);
        (isOutput ? st.after : st.before).push(reorder);
      }
      pairs.push([argIds[pass][role], mem]);
    }
    const out = new BigUint64Array(1);
    check(s.dnnl_primitive_create(out, pd), "primitive_create");
    st.prim = outPointer(out, "primitive");
    st.args = packArgs(pairs);
    st.nargs = pairs.length;
    this.stages.set(pass, st);
    return st;
  }

  private reorder(
    from: Deno.PointerObject,
    to: Deno.PointerObject,
    primMd: Deno.PointerValue,
    userMd: Uint8Array,
    toUser: boolean,
  ): Reorder {
    const s = this.dnn.sym;
    const user = Deno.UnsafePointer.of(userMd);
    const out = new BigUint64Array(1);
    check(
      s.dnnl_reorder_primitive_desc_create(
        out,
        toUser ? primMd : user,
        this.dnn.engine,
        toUser ? user : primMd,
        this.dnn.engine,
        null,
      ),
      "reorder_primitive_desc_create",
    );
    const pd = outPointer(out, "reorder pd");
    check(s.dnnl_primitive_create(out, pd), "reorder primitive_create");
    return { pd, prim: outPointer(out, "reorder primitive"), args: packArgs([[DNNL.argFrom, from], [DNNL.argTo, to]]) };
  }

  private createPdFor(pass: ConvPass, desc: Uint8Array): Deno.PointerObject {
    const s = this.dnn.sym;
    if (pass === "forward") {
      check(
        s.dnnl_convolution_forward_desc_init(
          desc,
          DNNL.forwardTraining,
          DNNL.convolutionDirect,
          this.blocked ? this.srcAnyMd : this.srcMd,
          this.wAnyMd,
          null,
          this.blocked ? this.dstAnyMd : this.dstMd,
          this.strides,
          this.padL,
          this.padR,
        ),
        "convolution_forward_desc_init",
      );
      return this.createPd(desc, null);
    }
    if (pass === "backwardData") {
      check(
        s.dnnl_convolution_backward_data_desc_init(
          desc,
          DNNL.convolutionDirect,
          this.blocked ? this.srcAnyMd : this.srcMd,
          this.wAnyMd,
          this.blocked ? this.dstAnyMd : this.dstMd,
          this.strides,
          this.padL,
          this.padR,
        ),
        "convolution_backward_data_desc_init",
      );
    } else {
      check(
        s.dnnl_convolution_backward_weights_desc_init(
          desc,
          DNNL.convolutionDirect,
          this.blocked ? this.srcAnyMd : this.srcMd,
          this.wAnyMd,
          null,
          this.blocked ? this.dstAnyMd : this.dstMd,
          this.strides,
          this.padL,
          this.padR,
        ),
        "convolution_backward_weights_desc_init",
      );
    }
    return this.createPd(desc, this.getForwardPd());
  }
}

/** Packs `dnnl_exec_arg_t[]`: `{ int arg; (pad); dnnl_memory_t memory; }`, 16 bytes each. */
function packArgs(pairs: [number, Deno.PointerObject][]): Uint8Array {
  const buf = new Uint8Array(pairs.length * DNNL.execArgBytes);
  const view = new DataView(buf.buffer);
  pairs.forEach(([arg, mem], i) => {
    view.setInt32(i * DNNL.execArgBytes, arg, true);
    view.setBigUint64(i * DNNL.execArgBytes + 8, BigInt(Deno.UnsafePointer.value(mem)), true);
  });
  return buf;
}

/**
 * Below this many multiply-adds a conv runs on one thread. Every OpenMP parallel region ends in a barrier; on a
 * quiet machine that costs microseconds, but when another process holds a core the barrier waits for the OS to
 * schedule the second thread: a tiny SFNet step (B 4, 12×12) took 9 ms with 1 thread and 200 ms with 2 under a
 * load of 6. Convs of the benchmark's small config are 20-150 M multiply-adds and still use every thread.
 */
export const MIN_PARALLEL_MACS = 4e6;

/** OpenMP threads for a geometry: 1 for small convs, else all. */
export function threadsFor(g: ConvGeometry, maxThreads: number): number {
  const macs = g.batch * g.outH * g.outW * g.outC * g.inC * g.fh * g.fw;
  return macs < MIN_PARALLEL_MACS ? 1 : maxThreads;
}

function key(g: ConvGeometry): string {
  return [
    g.batch,
    g.inH,
    g.inW,
    g.inC,
    g.outH,
    g.outW,
    g.outC,
    g.fh,
    g.fw,
    g.strideH,
    g.strideW,
    g.padTop,
    g.padLeft,
    g.padBottom,
    g.padRight,
  ].join(",");
}

/**
 * Plans by geometry, least recently used first out beyond `capacity` (a training run uses a dozen or so
 * geometries; evaluation with another batch size adds a few).
 */
export class ConvPlanCache {
  private readonly plans = new Map<string, ConvPlan>();
  constructor(
    private readonly dnn: OneDnn,
    private readonly capacity = 64,
    private readonly options: { blockedActivations?: boolean } = {},
  ) {}

  get(g: ConvGeometry): ConvPlan {
    const k = key(g);
    let plan = this.plans.get(k);
    if (plan) {
      this.plans.delete(k);
    } else {
      plan = new ConvPlan(this.dnn, g, { ...this.options, threads: threadsFor(g, this.dnn.maxThreads) });
      if (this.plans.size >= this.capacity) {
        const [oldKey, old] = this.plans.entries().next().value as [string, ConvPlan];
        old.dispose();
        this.plans.delete(oldKey);
      }
    }
    this.plans.set(k, plan);
    return plan;
  }

  get size(): number {
    return this.plans.size;
  }

  dispose(): void {
    for (const p of this.plans.values()) p.dispose();
    this.plans.clear();
  }
}
