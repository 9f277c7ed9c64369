/**
 * Native convolution kernels for the TensorFlow.js wasm backend: `Conv2D`, `Conv2DBackpropInput` and
 * `Conv2DBackpropFilter` run by oneDNN (through Deno FFI, `native/onednn_*.ts`) directly on the wasm heap.
 *
 * Why: with the kit's wasm fixes (`wasm_kernels.ts`) the SFNet training step is still ~4× slower than PyTorch,
 * and the three conv kernels are ~77% of it (platform.md §5); XNNPACK in wasm is single-threaded 128-bit SIMD,
 * while oneDNN (PyTorch's own conv engine) uses AVX-512 and both cores. The tensors are not copied: oneDNN reads
 * and writes the wasm linear memory through a pointer to it (the memory only moves when the heap grows, which
 * can happen only inside `makeOutput`, so the address is taken after every allocation of the call).
 *
 * With the C helper built (`deno task build-native`) the training step's elementwise passes run there too, threaded:
 * same-shape float32 `Add`, the horizontal-flip `Reverse`, and the kit's own ReLU-mask and SGD-update kernels
 * (`fused_ops.ts`), each giving wasm's bytes.
 *
 * Anything the native path does not cover (NCHW, dilation > 1, non-float32) goes to the kernel that was
 * registered before (the wasm fixes). `registerNativeKernels()` returns why it is unavailable instead of
 * throwing, so callers fall back to the pure-wasm kernels with a clear message. `SF2_NATIVE=0` turns it off.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type Address, type ConvGeometry, ConvPlanCache } from "./native/onednn_conv.ts";
import { type OneDnn, openOneDnn } from "./native/onednn_ffi.ts";
import { sharedHelper } from "./native/sf2_fused.ts";
import { RELU_GRAD_KERNEL, SGD_KERNEL, type SgdStepAttrs } from "./fused_ops.ts";

const BACKEND = "wasm";
const NATIVE_KERNELS = [
  "Conv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "FusedConv2D",
  "BatchMatMul",
  "_FusedMatMul",
  "Sum",
  "Add",
  "Reverse",
] as const;
type NativeKernel = typeof NATIVE_KERNELS[number];
type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The environment variable that disables the native kernels (`SF2_NATIVE=0`). */
export const NATIVE_ENV = "SF2_NATIVE";

interface NativeState {
  dnn: OneDnn;
  plans: ConvPlanCache;
  originals: Map<NativeKernel, tf.KernelConfig | undefined>;
  /** Kernels only this module provides (the training step's C-helper passes), registered when the helper is built. */
  added: string[];
  /** Calls served natively / handed to the previous kernel (for tests and logs). */
  counts: { native: number; fallback: number };
}
const STATE_KEY = Symbol.for("sphereface2-kit/native-kernels");
const store = globalThis as unknown as Record<symbol, NativeState | undefined>;

/** Outcome of {@link registerNativeKernels}. */
export type NativeStatus = { ok: true; detail: string } | { ok: false; detail: string };

function envDisabled(): boolean {
  try {
    const v = Deno.env.get(NATIVE_ENV);
    return v !== undefined && ["0", "false", "off", "no"].includes(v.trim().toLowerCase());
  } catch {
    return false;
  }
}

/**
 * `SF2_NATIVE_LAYOUT=nhwc|blocked`: activations used in place (NHWC, the default) or reordered into oneDNN's
 * blocked layout around every call. On this AVX2 box oneDNN's NHWC kernels ("jit:avx2") ran SFNet-20 small's
 * layers at 1-6 ms each (B 64, 1 thread) and the blocked form was no faster once the reorders were paid.
 */
export const LAYOUT_ENV = "SF2_NATIVE_LAYOUT";

function layoutFromEnv(): "nhwc" | "blocked" {
  try {
    return Deno.env.get(LAYOUT_ENV)?.trim().toLowerCase() === "blocked" ? "blocked" : "nhwc";
  } catch {
    return "nhwc";
  }
}

/** Whether the native kernels are registered now. */
export function nativeKernelsRegistered(): boolean {
  return store[STATE_KEY] !== undefined;
}

/** How many conv calls went native / to the fallback since registration. */
export function nativeKernelCounts(): { native: number; fallback: number } {
  return { ...(store[STATE_KEY]?.counts ?? { native: 0, fallback: 0 }) };
}

/**
 * Registers the oneDNN conv kernels over the currently registered wasm ones (register the wasm fixes first, so
 * that they are the fallback). Idempotent. Returns `{ok:false, detail}` (never throws) when oneDNN is missing,
 * FFI is not allowed, or `SF2_NATIVE=0`.
 */
export function registerNativeKernels(options: { ignoreEnv?: boolean } = {}): NativeStatus {
  const existing = store[STATE_KEY];
  if (existing) return { ok: true, detail: describe(existing.dnn) };
  if (!options.ignoreEnv && envDisabled()) return { ok: false, detail: `native kernels off (${NATIVE_ENV}=0)` };
  if (tf.getKernel("Conv2D", BACKEND) === undefined) {
    return { ok: false, detail: 'wasm kernels are not registered (import "@tensorflow/tfjs-backend-wasm" first)' };
  }
  const opened = openOneDnn();
  if (!opened.ok) return { ok: false, detail: opened.reason };
  const originals = new Map<NativeKernel, tf.KernelConfig | undefined>();
  for (const name of NATIVE_KERNELS) originals.set(name, tf.getKernel(name, BACKEND));
  const state: NativeState = {
    dnn: opened.dnn,
    plans: new ConvPlanCache(opened.dnn, 64, { blockedActivations: layoutFromEnv() === "blocked" }),
    originals,
    added: [],
    counts: { native: 0, fallback: 0 },
  };
  store[STATE_KEY] = state;
  if (sharedHelper()) {
    for (const [name, kernelFunc] of Object.entries(HELPER_FUNCS)) {
      if (tf.getKernel(name, BACKEND) !== undefined) continue;
      tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
      state.added.push(name);
    }
  }
  for (const name of NATIVE_KERNELS) {
    const original = originals.get(name);
    if (original !== undefined) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: FUNCS[name],
      setupFunc: original?.setupFunc,
      disposeFunc: original?.disposeFunc,
    });
  }
  return { ok: true, detail: describe(opened.dnn) };
}

function describe(dnn: OneDnn): string {
  const helper = sharedHelper() ? "; ReLU-mask, SGD, add and flip passes: C helper" : "";
  return `oneDNN ${dnn.version} conv, matmul and bias-sum kernels (${dnn.path})${helper}`;
}

/** Restores the kernels that were registered before and frees every oneDNN primitive. No-op when not registered. */
export function unregisterNativeKernels(): void {
  const state = store[STATE_KEY];
  if (!state) return;
  for (const name of NATIVE_KERNELS) {
    if (tf.getKernel(name, BACKEND) !== undefined) tf.unregisterKernel(name, BACKEND);
    const original = state.originals.get(name);
    if (original !== undefined) tf.registerKernel(original);
  }
  for (const name of state.added) tf.unregisterKernel(name, BACKEND);
  state.plans.dispose();
  store[STATE_KEY] = undefined;
}

// ---------------------------------------------------------------------------------------------------------

function fallback(name: NativeKernel, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const state = store[STATE_KEY];
  const original = state?.originals.get(name);
  if (!state || !original) throw new Error(`native_kernels: no fallback kernel for ${name} on wasm`);
  state.counts.fallback++;
  return original.kernelFunc(args);
}

/** Absolute address of a tensor's data in the wasm heap; valid until the heap grows (next allocation). */
function addressOf(backend: BackendWasm, base: bigint, info: tf.TensorInfo): Address {
  return base + BigInt(backend.getMemoryOffset(info.dataId));
}

function heapBase(backend: BackendWasm): bigint {
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(heap)));
}

interface ConvAttrsCommon {
  strides: [number, number] | number;
  pad: tf.Conv2DAttrs["pad"];
  dataFormat?: "NHWC" | "NCHW";
  dilations?: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** The geometry, or null when the native path does not apply (NCHW, dilation, empty tensors). */
function geometryOf(xShape: number[], filterShape: number[], attrs: ConvAttrsCommon): ConvGeometry | null {
  if (attrs.dataFormat === "NCHW") return null;
  const d = attrs.dilations ?? 1;
  if ((typeof d === "number" ? d : Math.max(d[0], d[1])) !== 1) return null;
  if (xShape.some((v) => v === 0) || filterShape.some((v) => v === 0)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const p = info.padInfo;
  if (p.top < 0 || p.left < 0 || p.bottom < 0 || p.right < 0) return null;
  // oneDNN's consistency rule: out = floor((in + pl + pr - f) / s) + 1; adjust the far pad when tfjs's rounding
  // differs (only possible with explicit pads and dimRoundingMode).
  const padBottom = fitPad(info.inHeight, info.filterHeight, info.strideHeight, p.top, p.bottom, info.outHeight);
  const padRight = fitPad(info.inWidth, info.filterWidth, info.strideWidth, p.left, p.right, info.outWidth);
  if (padBottom === null || padRight === null) return null;
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    fh: info.filterHeight,
    fw: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: p.top,
    padLeft: p.left,
    padBottom,
    padRight,
  };
}

function fitPad(inSize: number, f: number, s: number, lo: number, hi: number, out: number): number | null {
  const outOf = (h: number) => Math.floor((inSize + lo + h - f) / s) + 1;
  if (outOf(hi) === out) return hi;
  for (let h = 0; h <= f + s; h++) if (outOf(h) === out) return h;
  return null;
}

function nativeState(): NativeState {
  const state = store[STATE_KEY];
  if (!state) throw new Error("native_kernels: not registered");
  return state;
}

function conv2D(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { x, filter } = args.inputs as tf.Conv2DInputs;
  const attrs = args.attrs as unknown as tf.Conv2DAttrs;
  if (!x || !filter || x.dtype !== "float32" || filter.dtype !== "float32") return fallback("Conv2D", args);
  const g = geometryOf(x.shape, filter.shape, attrs);
  if (!g) return fallback("Conv2D", args);
  const out = convForward(args.backend as BackendWasm, g, x, filter);
  nativeState().counts.native++;
  return out;
}

/** The forward convolution of geometry `g` in oneDNN, into a new output on the wasm heap (Conv2D, FusedConv2D). */
function convForward(backend: BackendWasm, g: ConvGeometry, x: tf.TensorInfo, filter: tf.TensorInfo): tf.TensorInfo {
  const out = backend.makeOutput([g.batch, g.outH, g.outW, g.outC], "float32");
  const base = heapBase(backend);
  nativeState().plans.get(g).forward(
    addressOf(backend, base, x),
    addressOf(backend, base, filter),
    addressOf(backend, base, out),
  );
  return out;
}

function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { dy, filter } = args.inputs as tf.Conv2DBackpropInputInputs;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (!dy || !filter || dy.dtype !== "float32" || filter.dtype !== "float32") {
    return fallback("Conv2DBackpropInput", args);
  }
  const g = geometryOf([...attrs.inputShape], filter.shape, attrs);
  if (!g || g.outH !== dy.shape[1] || g.outW !== dy.shape[2]) return fallback("Conv2DBackpropInput", args);
  const state = nativeState();
  const backend = args.backend as BackendWasm;
  const plan = state.plans.get(g);
  const dx = backend.makeOutput([g.batch, g.inH, g.inW, g.inC], "float32");
  const base = heapBase(backend);
  plan.backwardData(addressOf(backend, base, dy), addressOf(backend, base, filter), addressOf(backend, base, dx));
  state.counts.native++;
  return dx;
}

function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { x, dy } = args.inputs as tf.Conv2DBackpropFilterInputs;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (!x || !dy || x.dtype !== "float32" || dy.dtype !== "float32") return fallback("Conv2DBackpropFilter", args);
  const g = geometryOf(x.shape, [...attrs.filterShape], attrs);
  if (!g || g.outH !== dy.shape[1] || g.outW !== dy.shape[2]) return fallback("Conv2DBackpropFilter", args);
  const state = nativeState();
  const backend = args.backend as BackendWasm;
  const plan = state.plans.get(g);
  const dw = backend.makeOutput([g.fh, g.fw, g.inC, g.outC], "float32");
  const base = heapBase(backend);
  plan.backwardWeights(addressOf(backend, base, x), addressOf(backend, base, dy), addressOf(backend, base, dw));
  state.counts.native++;
  return dw;
}

// ---------------------------------------------------------------------------------------------------------
// Matrix products and leading-axis sums in oneDNN's sgemm: wasm's XNNPACK products run on one core with 128-bit SIMD
// (the FC layer and its gradients were 20 % of the small training step), and wasm's Sum over leading axes (every conv
// bias gradient) transposes first (another 10 %).

const N_ = 78, T_ = 84; // 'N', 'T'

/** C[b] = op(A[b])·op(B[b]) for equal batch counts (or one side 1); null when not covered (fallback). */
function sgemmBatched(
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo | null {
  if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length, rb = b.shape.length;
  const [ar, ac] = [a.shape[ra - 2], a.shape[ra - 1]];
  const [br, bc] = [b.shape[rb - 2], b.shape[rb - 1]];
  const M = transposeA ? ac : ar, K = transposeA ? ar : ac;
  const K2 = transposeB ? bc : br, N = transposeB ? br : bc;
  if (K !== K2) return null;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const outBatchShape = (batchA >= batchB ? a.shape : b.shape).slice(0, -2);
  if (ra !== rb && batchA > 1 && batchB > 1) return null;
  const batch = Math.max(batchA, batchB);
  if (M === 0 || N === 0 || K === 0) return null;
  const out = backend.makeOutput([...outBatchShape, M, N], "float32");
  const base = heapBase(backend);
  const pa = addressOf(backend, base, a), pb = addressOf(backend, base, b), pc = addressOf(backend, base, out);
  const state = nativeState();
  const dnn = state.dnn;
  dnn.setThreads(M * N * K < MIN_GEMM_PARALLEL ? 1 : dnn.maxThreads);
  for (let i = 0; i < batch; i++) {
    const oa = BigInt((batchA === 1 ? 0 : i) * ar * ac * 4);
    const ob = BigInt((batchB === 1 ? 0 : i) * br * bc * 4);
    const oc = BigInt(i * M * N * 4);
    const status = dnn.sym.dnnl_sgemm(
      transposeA ? T_ : N_,
      transposeB ? T_ : N_,
      BigInt(M),
      BigInt(N),
      BigInt(K),
      1,
      Deno.UnsafePointer.create(pa + oa),
      BigInt(ac),
      Deno.UnsafePointer.create(pb + ob),
      BigInt(bc),
      0,
      Deno.UnsafePointer.create(pc + oc),
      BigInt(N),
    );
    if (status !== 0) throw new Error(`native_kernels: dnnl_sgemm failed (status ${status})`);
  }
  state.counts.native++;
  return out;
}

/** Below this many multiply-adds a product runs on one thread (see MIN_PARALLEL_MACS for convs). */
const MIN_GEMM_PARALLEL = 4e6;

function batchMatMul(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs as tf.BatchMatMulInputs;
  const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
  const out = a && b ? sgemmBatched(args.backend as BackendWasm, a, b, !!attrs.transposeA, !!attrs.transposeB) : null;
  return out ?? fallback("BatchMatMul", args);
}

/** _FusedMatMul with a bias of size N (or none) and linear/relu activation; anything else falls back. */
function fusedMatMul(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b, bias, preluActivationWeights } = args.inputs as tf._FusedMatMulInputs;
  const attrs = args.attrs as unknown as tf._FusedMatMulAttrs;
  const activation = attrs.activation ?? "linear";
  if (!a || !b || preluActivationWeights || (activation !== "linear" && activation !== "relu")) {
    return fallback("_FusedMatMul", args);
  }
  const backend = args.backend as BackendWasm;
  const n = attrs.transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  if (bias && (bias.dtype !== "float32" || tf.util.sizeFromShape(bias.shape) !== n)) {
    return fallback("_FusedMatMul", args);
  }
  const out = sgemmBatched(backend, a, b, !!attrs.transposeA, !!attrs.transposeB);
  if (!out) return fallback("_FusedMatMul", args);
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  const size = tf.util.sizeFromShape(out.shape);
  const o = new Float32Array(heap.buffer, backend.getMemoryOffset(out.dataId), size);
  const bv = bias ? new Float32Array(heap.buffer, backend.getMemoryOffset(bias.dataId), n) : null;
  const relu = activation === "relu";
  if (bv || relu) {
    for (let i = 0; i < size; i += n) {
      for (let j = 0; j < n; j++) {
        const v = bv ? o[i + j] + bv[j] : o[i + j];
        o[i + j] = relu && v < 0 ? 0 : v;
      }
    }
  }
  return out;
}

/** Sum over every axis but the last (conv and dense bias gradients) as ones(1×M)·X(M×C) in sgemm. */
function sum(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { x } = args.inputs as tf.SumInputs;
  const attrs = args.attrs as unknown as tf.SumAttrs;
  if (!x || x.dtype !== "float32" || x.shape.length < 2) return fallback("Sum", args);
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape).slice().sort((p, q) => p - q);
  if (axes.length !== rank - 1 || axes.some((ax, i) => ax !== i)) return fallback("Sum", args);
  const C = x.shape[rank - 1];
  const M = tf.util.sizeFromShape(x.shape) / Math.max(C, 1);
  if (C === 0 || M === 0 || M * C < 4096) return fallback("Sum", args);
  const backend = args.backend as BackendWasm;
  const state = nativeState();
  const out = backend.makeOutput(attrs.keepDims ? [...x.shape.slice(0, -1).map(() => 1), C] : [C], "float32");
  const base = heapBase(backend);
  const ones = onesOf(M);
  state.dnn.setThreads(M * C < MIN_GEMM_PARALLEL ? 1 : state.dnn.maxThreads);
  const status = state.dnn.sym.dnnl_sgemm(
    N_,
    N_,
    1n,
    BigInt(C),
    BigInt(M),
    1,
    Deno.UnsafePointer.of(ones),
    BigInt(M),
    Deno.UnsafePointer.create(addressOf(backend, base, x)),
    BigInt(C),
    0,
    Deno.UnsafePointer.create(addressOf(backend, base, out)),
    BigInt(C),
  );
  if (status !== 0) throw new Error(`native_kernels: dnnl_sgemm (sum) failed (status ${status})`);
  state.counts.native++;
  return out;
}

let onesCache = new Float32Array(0);
function onesOf(n: number): Float32Array {
  if (onesCache.length < n) onesCache = new Float32Array(n).fill(1);
  return onesCache.subarray(0, n);
}

/**
 * FusedConv2D (conv + bias + relu/linear), which tfjs calls instead of Conv2D whenever no gradient is taken: the
 * model's eval forward (embedding extraction). The conv runs in oneDNN, bias and ReLU in one pass over the output.
 */
function fusedConv2D(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { x, filter, bias, preluActivationWeights } = args.inputs as tf.FusedConv2DInputs;
  const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
  const activation = attrs.activation ?? "linear";
  if (
    !x || !filter || x.dtype !== "float32" || filter.dtype !== "float32" || preluActivationWeights ||
    (activation !== "linear" && activation !== "relu")
  ) {
    return fallback("FusedConv2D", args);
  }
  const g = geometryOf(x.shape, filter.shape, attrs);
  if (!g || (bias && tf.util.sizeFromShape(bias.shape) !== g.outC)) return fallback("FusedConv2D", args);
  const state = nativeState();
  const backend = args.backend as BackendWasm;
  const out = convForward(backend, g, x, filter);
  const helper = sharedHelper();
  if (helper && (bias || activation === "relu")) {
    // Threaded, vectorised epilogue in the C helper (deno task build-native); else the loop below.
    const at = helperPass(backend);
    helper.symbols.sf2_bias_act(
      at(out),
      BigInt(g.batch * g.outH * g.outW),
      BigInt(g.outC),
      bias ? at(bias) : null,
      activation === "relu" ? 1 : 0,
    );
  } else if (bias || activation === "relu") {
    const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
    const size = g.batch * g.outH * g.outW * g.outC;
    const o = new Float32Array(heap.buffer, backend.getMemoryOffset(out.dataId), size);
    const b = bias ? new Float32Array(heap.buffer, backend.getMemoryOffset(bias.dataId), g.outC) : null;
    const relu = activation === "relu", c = g.outC;
    for (let i = 0; i < size; i += c) {
      for (let j = 0; j < c; j++) {
        const v = b ? o[i + j] + b[j] : o[i + j];
        o[i + j] = relu && v < 0 ? 0 : v;
      }
    }
  }
  state.counts.native++;
  return out;
}

/**
 * Pointers for one C-helper pass, with the OpenMP threads set for it: call after every `makeOutput` of the kernel
 * (an allocation may move the heap).
 */
function helperPass(backend: BackendWasm): (t: tf.TensorInfo) => Deno.PointerValue {
  const base = heapBase(backend);
  nativeState().dnn.setThreads(nativeState().dnn.maxThreads);
  return (t) => Deno.UnsafePointer.create(addressOf(backend, base, t));
}

/** The kernel registered before this module's, uncounted (the counts are about the convolutions). */
function original(name: NativeKernel, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  return nativeState().originals.get(name)!.kernelFunc(args);
}

/** {@link RELU_GRAD_KERNEL}: `dy · (y > 0)` in one threaded pass of the C helper (fused_ops.ts, the conv backward). */
function reluGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  const n = tf.util.sizeFromShape(dy.shape);
  if (tf.util.sizeFromShape(y.shape) !== n) {
    throw new Error(`${RELU_GRAD_KERNEL}: dy [${dy.shape}] and y [${y.shape}] differ in size`);
  }
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(dy.shape, "float32");
  const at = helperPass(backend);
  sharedHelper()!.symbols.sf2_relu_grad(at(dy), at(y), at(out), BigInt(n));
  return out;
}

/** {@link SGD_KERNEL}: one parameter's momentum-SGD update in one threaded pass of the C helper (lib/train/sgd.ts). */
function sgdStep(args: KernelArgs): tf.TensorInfo[] {
  const { w, g, buf } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as SgdStepAttrs;
  const n = tf.util.sizeFromShape(w.shape);
  if (tf.util.sizeFromShape(g.shape) !== n || tf.util.sizeFromShape(buf.shape) !== n) {
    throw new Error(`${SGD_KERNEL}: w [${w.shape}], g [${g.shape}] and buf [${buf.shape}] differ in size`);
  }
  const backend = args.backend as BackendWasm;
  const wOut = backend.makeOutput(w.shape, "float32");
  const bufOut = backend.makeOutput(w.shape, "float32");
  const at = helperPass(backend);
  sharedHelper()!.symbols.sf2_sgd_step(
    at(w),
    at(g),
    at(buf),
    at(wOut),
    at(bufOut),
    BigInt(n),
    a.lr,
    a.momentum,
    a.weightDecay,
    a.gradScale,
  );
  return [wOut, bufOut];
}

/** Below this many elements an Add stays in wasm (a call through FFI and an OpenMP wake-up cost more). */
const MIN_NATIVE_ADD = 65536;

/**
 * `Add` of two float32 tensors of one shape in one threaded pass of the C helper (the residual adds of a training step
 * and autodiff's sums of gradients, single-threaded in wasm); broadcasts, small or integer adds go to wasm's kernel.
 */
function add(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs as tf.AddInputs;
  const helper = sharedHelper();
  const n = a ? tf.util.sizeFromShape(a.shape) : 0;
  if (
    !helper || !a || !b || a.dtype !== "float32" || b.dtype !== "float32" || n < MIN_NATIVE_ADD ||
    !tf.util.arraysEqual(a.shape, b.shape)
  ) {
    return original("Add", args);
  }
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(a.shape, "float32");
  const at = helperPass(backend);
  helper.symbols.sf2_add(at(a), at(b), at(out), BigInt(n));
  return out;
}

/**
 * `Reverse` of a float32 NHWC batch along W (the horizontal flip of flip-fused embeddings; wasm's kernel took a third of
 * the small embedding step) as a threaded copy in the C helper; other axes, ranks and dtypes go to wasm's kernel.
 */
function reverse(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { x } = args.inputs as tf.ReverseInputs;
  const { dims } = args.attrs as unknown as tf.ReverseAttrs;
  const helper = sharedHelper();
  const axes = x ? tf.util.parseAxisParam(dims, x.shape) : [];
  if (!helper || !x || x.dtype !== "float32" || x.shape.length !== 4 || axes.length !== 1 || axes[0] !== 2) {
    return original("Reverse", args);
  }
  const [n, h, w, c] = x.shape;
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(x.shape, "float32");
  const at = helperPass(backend);
  helper.symbols.sf2_flip_w(at(x), at(out), BigInt(n * h), BigInt(w), BigInt(c));
  return out;
}

const HELPER_FUNCS: Record<string, tf.KernelFunc> = { [RELU_GRAD_KERNEL]: reluGrad, [SGD_KERNEL]: sgdStep };

const FUNCS: Record<NativeKernel, tf.KernelFunc> = {
  FusedConv2D: fusedConv2D,
  Conv2D: conv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  Sum: sum,
  Add: add,
  Reverse: reverse,
};

/** The oneDNN implementation names chosen for a geometry's three passes (diagnostics for the bench log). */
export function nativeImplementations(g: ConvGeometry): Record<"forward" | "backwardData" | "backwardWeights", string> {
  const plan = nativeState().plans.get(g);
  return {
    forward: plan.impl("forward"),
    backwardData: plan.impl("backwardData"),
    backwardWeights: plan.impl("backwardWeights"),
  };
}
