/**
 * The fused SphereFace2 head on raw float32 buffers: loss, dL/dx, dL/dW and dL/db of paper eq. 6 in one pass that
 * streams over blocks of classes, so the B×K cosine matrix is never held (one B×Kb block at a time):
 *
 *   x̂ = x/‖x‖;  for each block J of classes:  C_J = x̂·W_J (oneDNN sgemm)
 *                                               C_J ← dL/dc and Σ loss, Σ dL/dz (elementwise, in place)
 *                                               dW_J = x̂ᵀ·C_J;  dx̂ += C_J·W_Jᵀ (oneDNN sgemm)
 *   dL/dx = (dx̂ − x̂(x̂·dx̂))/‖x‖
 *
 * with the same formulas as `lib/losses/sphereface2.ts` (z = r·s + b, dL/dz = lw/(r·B)·w'·(σ(z) − y), detached or
 * through-g chain). The elementwise pass runs in the C helper `sf2_head.c` (OpenMP, built by
 * `deno task build-native`) when it is built, else in TypeScript ({@link elementwiseJs}, same maths, slower).
 * The matrix products need oneDNN (`libdnnl2`); without it the head runs unfused in tfjs (`lib/losses`).
 *
 * @example
 * ```ts
 * import { openFusedHead } from "./sf2_fused.ts";
 * const engine = openFusedHead();
 * if (engine.ok) console.log(engine.engine.describe()); // "oneDNN 2.6.3 sgemm + C helper (2 threads)"
 * ```
 * @module
 */
import { check, type OneDnn, openOneDnn } from "./onednn_ffi.ts";

/** The numbers of a SphereFace2 head the kernel needs (float64 block passed to the C helper, in this order). */
export interface Sf2KernelParams {
  /** 0 = C, 1 = A, 2 = M. */
  variant: number;
  t: number;
  r: number;
  m: number;
  lambda: number;
  bias: number;
  lw: number;
  throughG: boolean;
  angleEps: number;
  angleMax: number;
  /** A/M: the non-target cosine clip range ({@link clipRange} in lib/losses). Unused for C. */
  lo: number;
  hi: number;
}

const HELPER_SYMBOLS = {
  sf2_block: {
    parameters: ["pointer", "i64", "i64", "i64", "i64", "pointer", "pointer", "pointer", "pointer"],
    result: "void",
  },
  sf2_normalize_columns: { parameters: ["pointer", "pointer", "i64", "i64", "pointer"], result: "void" },
  margin_rows: {
    parameters: ["pointer", "i64", "i64", "i64", "pointer", "pointer", "f32", "f32", "f32", "f32", "pointer"],
    result: "void",
  },
  sf2_bias_act: { parameters: ["pointer", "i64", "i64", "pointer", "i32"], result: "void" },
  sf2_relu_grad: { parameters: ["pointer", "pointer", "pointer", "i64"], result: "void" },
  sf2_add: { parameters: ["pointer", "pointer", "pointer", "i64"], result: "void" },
  sf2_flip_w: { parameters: ["pointer", "pointer", "i64", "i64", "i64"], result: "void" },
  sf2_sgd_step: {
    parameters: ["pointer", "pointer", "pointer", "pointer", "pointer", "i64", "f32", "f32", "f32", "f32"],
    result: "void",
  },
  sf2_abi_version: { parameters: [], result: "i32" },
} as const;
type Helper = Deno.DynamicLibrary<typeof HELPER_SYMBOLS>;

/** The ABI version this module expects of the helper (sf2_head.c `sf2_abi_version`). */
const HELPER_ABI = 4;

/** `SF2_HEAD_HELPER=0` ignores the C helper (elementwise in TypeScript); `SF2_HEAD_LIB=PATH` opens another file. */
export const HELPER_ENV = "SF2_HEAD_HELPER";
export const HELPER_LIB_ENV = "SF2_HEAD_LIB";
/** Where `deno task build-native` writes the helper. */
export const HELPER_PATH = new URL("../../../.cache/native/libsf2head.so", import.meta.url).pathname;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The helper, opened once per process (null when absent); for kernels outside the fused head. */
export function sharedHelper(): Helper | null {
  const store = globalThis as unknown as Record<symbol, { lib: Helper | null } | undefined>;
  const key = Symbol.for("sphereface2-kit/sf2-helper");
  if (!store[key]) {
    const h = openHelper();
    store[key] = { lib: h.ok ? h.lib : null };
  }
  return store[key]!.lib;
}

/** Opens the C helper, or says why not (absent: run `deno task build-native`). */
export function openHelper(): { ok: true; lib: Helper; path: string } | { ok: false; reason: string } {
  const off = env(HELPER_ENV);
  if (off !== undefined && ["0", "false", "off", "no"].includes(off.trim().toLowerCase())) {
    return { ok: false, reason: `C helper off (${HELPER_ENV}=0)` };
  }
  const path = env(HELPER_LIB_ENV) || HELPER_PATH;
  try {
    const lib = Deno.dlopen(path, HELPER_SYMBOLS);
    if (lib.symbols.sf2_abi_version() !== HELPER_ABI) {
      lib.close();
      return { ok: false, reason: `${path}: ABI version mismatch (rebuild: deno task build-native)` };
    }
    return { ok: true, lib, path };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
    return { ok: false, reason: `C helper not built (deno task build-native): ${msg.slice(0, 120)}` };
  }
}

/**
 * A margin-softmax head (NormFace, SphereFace, CosFace, ArcFace) for {@link FusedHeadEngine.marginStep}:
 * `kind` 0 NormFace, 1 CosFace, 2 SphereFace, 3 ArcFace; non-target cosines clipped to [lo, hi] in the logits.
 */
export interface MarginKernelParams {
  kind: number;
  s: number;
  m: number;
  lo: number;
  hi: number;
}

const COS_CLIP = 1e-5, THETA_MIN = 1e-5, THETA_MAX = 3.14159;

/** ψ(c) of the target, as `lib/losses/softmax_family.ts` states it (float64, B values per step). */
export function marginTarget(c: number, p: MarginKernelParams): number {
  const theta = () => Math.acos(Math.min(Math.max(c, -1 + COS_CLIP), 1 - COS_CLIP));
  switch (p.kind) {
    case 0:
      return c;
    case 1:
      return c - p.m;
    case 2: {
      const mt = p.m * theta();
      const k = Math.floor(mt / Math.PI);
      return (k % 2 === 0 ? 1 : -1) * Math.cos(mt) - 2 * k;
    }
    default:
      return Math.cos(Math.min(Math.max(theta() + p.m, THETA_MIN), THETA_MAX));
  }
}

/** Loss and bias gradient of one fused step (dx and dW are written into the caller's buffers). */
export interface FusedStepResult {
  loss: number;
  gradBias: number;
}

/** The engine: oneDNN sgemm plus the elementwise pass (C helper or TypeScript), with reusable scratch. */
export class FusedHeadEngine {
  private scratch = { xhat: new Float32Array(0), dxhat: new Float32Array(0), block: new Float32Array(0) };
  private readonly paramBuf = new Float64Array(12);

  constructor(readonly dnn: OneDnn, readonly helper: Helper | null, readonly helperReason: string) {}

  /** Floats held as scratch between calls (x̂, dx̂ and one block): the fused head's memory beyond W and dW. */
  scratchFloats(): number {
    return this.scratch.xhat.length + this.scratch.dxhat.length + this.scratch.block.length;
  }

  /** One line for logs: which pieces run natively. */
  describe(): string {
    const ew = this.helper ? "C helper" : `TypeScript elementwise (${this.helperReason})`;
    return `oneDNN ${this.dnn.version} sgemm + ${ew} (${this.dnn.maxThreads} threads)`;
  }

  /** Classes per block: a B×Kb block of about 4 MB (stays in L2/L3 between the three products). */
  static blockClasses(batch: number, classes: number): number {
    const kb = Math.max(256, Math.floor((1 << 20) / Math.max(1, batch) / 64) * 64);
    return Math.min(classes, kb);
  }

  /**
   * Forward + backward: x (B×d), W (d×K, used as given), labels (B), into dx (B×d) and dW (d×K). Deterministic:
   * a fixed block order, fixed thread count and per-row float64 sums.
   */
  step(
    x: Float32Array,
    w: Float32Array,
    labels: Int32Array,
    dx: Float32Array,
    dw: Float32Array,
    shape: { batch: number; dim: number; classes: number },
    p: Sf2KernelParams,
    blockClasses = FusedHeadEngine.blockClasses(shape.batch, shape.classes),
  ): FusedStepResult {
    const { batch: B, dim: d, classes: K } = shape;
    if (x.length !== B * d || dx.length !== B * d || w.length !== d * K || dw.length !== d * K) {
      throw new Error(`fused head: buffer sizes do not match B ${B}, d ${d}, K ${K}`);
    }
    if (labels.length !== B) throw new Error(`fused head: ${labels.length} labels for a batch of ${B}`);
    for (const l of labels) {
      if (!(l >= 0 && l < K)) throw new Error(`fused head: label ${l} outside [0, ${K})`);
    }
    this.dnn.setThreads(this.dnn.maxThreads);
    const kb = Math.max(1, Math.min(blockClasses, K));
    const s = this.ensureScratch(B * d, B * kb);
    const { xhat, dxhat, block } = s;
    const norms = this.normalizeRows(x, xhat, B, d);
    const scale = p.lw / (p.r * B);
    this.paramBuf.set([
      p.variant,
      p.t,
      p.r,
      p.m,
      p.lambda,
      p.bias,
      scale,
      p.throughG ? 1 : 0,
      p.angleEps,
      p.angleMax,
      p.lo,
      p.hi,
    ]);
    const lossRows = new Float64Array(B);
    const dzRows = new Float64Array(B);
    const sym = this.dnn.sym;
    const P = Deno.UnsafePointer.of;
    const xh = P(xhat), dxh = P(dxhat), blk = P(block), wBase = P(w), dwBase = P(dw);
    const lab = P(labels), par = P(this.paramBuf), lr = P(lossRows), dr = P(dzRows);
    const N = 78, T = 84; // 'N', 'T'
    for (let j0 = 0; j0 < K; j0 += kb) {
      const n = Math.min(kb, K - j0);
      const wj = Deno.UnsafePointer.offset(wBase!, j0 * 4);
      const dwj = Deno.UnsafePointer.offset(dwBase!, j0 * 4);
      check(
        sym.dnnl_sgemm(N, N, BigInt(B), BigInt(n), BigInt(d), 1, xh, BigInt(d), wj, BigInt(K), 0, blk, BigInt(n)),
        "sgemm cos",
      );
      if (this.helper) {
        this.helper.symbols.sf2_block(blk, BigInt(B), BigInt(n), BigInt(n), BigInt(j0), lab, par, lr, dr);
      } else {
        elementwiseJs(block, B, n, n, j0, labels, p, scale, lossRows, dzRows);
      }
      check(
        sym.dnnl_sgemm(T, N, BigInt(d), BigInt(n), BigInt(B), 1, xh, BigInt(d), blk, BigInt(n), 0, dwj, BigInt(K)),
        "sgemm dW",
      );
      check(
        sym.dnnl_sgemm(
          N,
          T,
          BigInt(B),
          BigInt(d),
          BigInt(n),
          1,
          blk,
          BigInt(n),
          wj,
          BigInt(K),
          j0 === 0 ? 0 : 1,
          dxh,
          BigInt(d),
        ),
        "sgemm dx",
      );
    }
    this.rowGradient(xhat, dxhat, norms, dx, B, d);
    let loss = 0, db = 0;
    for (let i = 0; i < B; i++) {
      loss += lossRows[i];
      db += dzRows[i];
    }
    return { loss: loss * scale, gradBias: db };
  }

  /**
   * Margin-softmax forward + backward: cosines for all K (one B×K scratch, held once), per-row log-sum-exp and
   * dL/dc = (s/B)(softmax − Y) in place (C helper or TypeScript), then dW = x̂ᵀ·dC and dx̂ = dC·Wᵀ in oneDNN.
   * Returns the mean cross-entropy.
   */
  marginStep(
    x: Float32Array,
    w: Float32Array,
    labels: Int32Array,
    dx: Float32Array,
    dw: Float32Array,
    shape: { batch: number; dim: number; classes: number },
    p: MarginKernelParams,
  ): number {
    const { batch: B, dim: d, classes: K } = shape;
    if (x.length !== B * d || dx.length !== B * d || w.length !== d * K || dw.length !== d * K) {
      throw new Error(`fused margin head: buffer sizes do not match B ${B}, d ${d}, K ${K}`);
    }
    for (const l of labels) {
      if (!(l >= 0 && l < K)) throw new Error(`fused margin head: label ${l} outside [0, ${K})`);
    }
    this.dnn.setThreads(this.dnn.maxThreads);
    const { xhat, dxhat, block: cos } = this.ensureScratch(B * d, B * K);
    const norms = this.normalizeRows(x, xhat, B, d);
    const sym = this.dnn.sym;
    const P = Deno.UnsafePointer.of;
    const N = 78, T = 84;
    const [b, dd, k] = [BigInt(B), BigInt(d), BigInt(K)];
    check(sym.dnnl_sgemm(N, N, b, k, dd, 1, P(xhat), dd, P(w), k, 0, P(cos), k), "sgemm cos");
    const psi = new Float32Array(B);
    for (let i = 0; i < B; i++) psi[i] = marginTarget(cos[i * K + labels[i]], p);
    const lossRows = new Float64Array(B);
    if (this.helper) {
      this.helper.symbols.margin_rows(P(cos), b, k, k, P(labels), P(psi), p.s, p.lo, p.hi, 1 / B, P(lossRows));
    } else {
      marginRowsJs(cos, B, K, labels, psi, p, lossRows);
    }
    check(sym.dnnl_sgemm(T, N, dd, k, b, 1, P(xhat), dd, P(cos), k, 0, P(dw), k), "sgemm dW");
    check(sym.dnnl_sgemm(N, T, b, dd, k, 1, P(cos), k, P(w), k, 0, P(dxhat), dd), "sgemm dx");
    this.rowGradient(xhat, dxhat, norms, dx, B, d);
    let loss = 0;
    for (let i = 0; i < B; i++) loss += lossRows[i];
    return loss / B;
  }

  /** x̂ = x / max(‖x‖, 1e-12) row by row; returns the norms. */
  private normalizeRows(x: Float32Array, xhat: Float32Array, B: number, d: number): Float64Array {
    const norms = new Float64Array(B);
    for (let i = 0; i < B; i++) {
      let ss = 0;
      for (let k = 0; k < d; k++) ss += x[i * d + k] * x[i * d + k];
      const n = Math.max(Math.fround(Math.sqrt(Math.fround(ss))), 1e-12);
      norms[i] = n;
      for (let k = 0; k < d; k++) xhat[i * d + k] = x[i * d + k] / n;
    }
    return norms;
  }

  /** dL/dx = (dx̂ − x̂(x̂·dx̂))/‖x‖, the gradient through the row normalisation. */
  private rowGradient(
    xhat: Float32Array,
    dxhat: Float32Array,
    norms: Float64Array,
    dx: Float32Array,
    B: number,
    d: number,
  ) {
    for (let i = 0; i < B; i++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += xhat[i * d + k] * dxhat[i * d + k];
      for (let k = 0; k < d; k++) dx[i * d + k] = (dxhat[i * d + k] - xhat[i * d + k] * dot) / norms[i];
    }
  }

  /** out = W with unit columns (W / max(‖w_j‖, 1e-12)); out may be w itself. */
  normalizeColumns(w: Float32Array, out: Float32Array, dim: number, classes: number): void {
    if (w.length !== dim * classes || out.length !== w.length) throw new Error("normalizeColumns: sizes differ");
    if (this.helper) {
      this.dnn.setThreads(this.dnn.maxThreads);
      const norms = new Float32Array(classes);
      const P = Deno.UnsafePointer.of;
      this.helper.symbols.sf2_normalize_columns(P(w), P(out), BigInt(dim), BigInt(classes), P(norms));
      return;
    }
    const norms = new Float32Array(classes);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < classes; j++) norms[j] += w[i * classes + j] * w[i * classes + j];
    }
    for (let j = 0; j < classes; j++) norms[j] = Math.max(Math.sqrt(norms[j]), 1e-12);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < classes; j++) out[i * classes + j] = w[i * classes + j] / norms[j];
    }
  }

  private ensureScratch(xSize: number, blockSize: number) {
    const s = this.scratch;
    if (s.xhat.length < xSize) {
      s.xhat = new Float32Array(xSize);
      s.dxhat = new Float32Array(xSize);
    }
    if (s.block.length < blockSize) s.block = new Float32Array(blockSize);
    return {
      xhat: s.xhat.subarray(0, xSize),
      dxhat: s.dxhat.subarray(0, xSize),
      block: s.block.subarray(0, blockSize),
    };
  }
}

function gOf(c: number, t: number): number {
  return 2 * Math.pow(Math.max((c + 1) / 2, 0), t) - 1;
}

/**
 * The elementwise pass in TypeScript (no C helper): the same formulas as `sf2_block` in sf2_head.c, in float64.
 * Replaces block[i*ld + j] with dL/dc and adds each row's Σ w'·softplus(±z) and Σ dL/dz.
 */
export function elementwiseJs(
  block: Float32Array,
  rows: number,
  cols: number,
  ld: number,
  j0: number,
  labels: Int32Array,
  p: Sf2KernelParams,
  scale: number,
  lossRows: Float64Array,
  dzRows: Float64Array,
): void {
  const isC = p.variant === 0;
  const lo = isC ? -Infinity : p.lo, hi = isC ? Infinity : p.hi;
  const shift = isC ? p.m : 0;
  for (let i = 0; i < rows; i++) {
    const y = labels[i] - j0;
    let loss = 0, dzs = 0;
    for (let j = 0; j < cols; j++) {
      const c = block[i * ld + j];
      const target = j === y;
      let s: number;
      if (target) {
        s = targetSim(c, p);
      } else {
        s = gOf(Math.min(Math.max(c, lo), hi), p.t) + shift;
      }
      const z = p.r * s + p.bias;
      const e = Math.exp(-Math.abs(z));
      const u = target ? -z : z;
      const sp = Math.max(u, 0) + Math.log1p(e);
      const sig = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      const wgt = target ? p.lambda : 1 - p.lambda;
      const dz = scale * wgt * (sig - (target ? 1 : 0));
      loss += wgt * sp;
      dzs += dz;
      const chain = p.throughG ? p.r * p.t * Math.pow(Math.max((c + 1) / 2, 0), p.t - 1) : p.r;
      block[i * ld + j] = chain * dz;
    }
    lossRows[i] += loss;
    dzRows[i] += dzs;
  }
}

/** The margin-softmax row pass in TypeScript (no C helper): `margin_rows` in sf2_head.c, in float64. */
export function marginRowsJs(
  cos: Float32Array,
  rows: number,
  cols: number,
  labels: Int32Array,
  psi: Float32Array,
  p: MarginKernelParams,
  lossRows: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    const o = i * cols, y = labels[i], ly = p.s * psi[i];
    const logit = (j: number) => (j === y ? ly : p.s * Math.min(Math.max(cos[o + j], p.lo), p.hi));
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, logit(j));
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(logit(j) - mx);
    const lse = mx + Math.log(sum);
    const g = p.s / rows;
    for (let j = 0; j < cols; j++) cos[o + j] = g * (Math.exp(logit(j) - lse) - (j === y ? 1 : 0));
    lossRows[i] = lse - ly;
  }
}

function targetSim(c: number, p: Sf2KernelParams): number {
  if (p.variant === 0) return gOf(c, p.t) - p.m;
  const theta = Math.acos(Math.min(Math.max(c, -1 + p.angleEps), 1 - p.angleEps));
  const shifted = p.variant === 1 ? theta + p.m : theta * p.m;
  return gOf(Math.cos(Math.min(Math.max(shifted, p.angleEps), p.angleMax)), p.t);
}

/** Opens oneDNN (required) and the C helper (optional), once per process. */
export function openFusedHead(): { ok: true; engine: FusedHeadEngine } | { ok: false; reason: string } {
  const store = globalThis as unknown as Record<symbol, ReturnType<typeof openFusedHead> | undefined>;
  const cached = store[ENGINE_KEY];
  if (cached) return cached;
  const dnn = openOneDnn();
  let result: ReturnType<typeof openFusedHead>;
  if (!dnn.ok) {
    result = { ok: false, reason: dnn.reason };
  } else if (typeof dnn.dnn.sym.dnnl_sgemm !== "function") {
    result = { ok: false, reason: "oneDNN has no dnnl_sgemm" };
  } else {
    const lib = sharedHelper();
    const helper = lib ? { ok: true as const, lib } : openHelper();
    result = {
      ok: true,
      engine: new FusedHeadEngine(dnn.dnn, helper.ok ? helper.lib : null, helper.ok ? "" : helper.reason),
    };
  }
  store[ENGINE_KEY] = result;
  return result;
}
const ENGINE_KEY = Symbol.for("sphereface2-kit/fused-head");
