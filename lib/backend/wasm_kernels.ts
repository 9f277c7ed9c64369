/**
 * Kernel fixes for the TensorFlow.js 4.22 wasm backend.
 *
 * The stock wasm backend cannot train a conv net: it has no
 * `Conv2DBackpropFilter` and no `UnsortedSegmentSum` (a missing kernel is a
 * hard error, there is no cpu fallback), and two kernels it does have are very
 * slow. Its `Identity` (what `tf.clone` and autodiff's saved tensors run)
 * copies the whole buffer, where the cpu and WebGL backends share it: on a
 * training step that is every saved activation copied once more (12 of 114 ms
 * of the small SFNet-20 step, and that much more peak memory).
 * `registerWasmKernelFixes()` replaces or adds these kernels for the backend
 * name "wasm"; `unregisterWasmKernelFixes()` restores the originals.
 * Measurements are in shared/notes/platform.md (sections 3 and 5).
 *
 * Every fix is a kernel function built from the wasm backend's own kernels,
 * called directly with TensorInfos (not through the engine), so no engine
 * tensors are created; every intermediate is freed with
 * `backend.disposeData(info.dataId)`. Kernels that only reshape (Reshape,
 * and Reverse's result) share the dataId and raise its refCount, so each
 * intermediate is released exactly once whatever kernel produced it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

const BACKEND = "wasm";

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Pair = [number, number];

/** Kernels this module registers, in registration order. */
const FIXED_KERNELS = [
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "BatchMatMul",
  "_FusedMatMul",
  "UnsortedSegmentSum",
  "Identity",
] as const;
type FixedKernel = typeof FIXED_KERNELS[number];

/**
 * Saved state, kept on globalThis so that two copies of this module (e.g.
 * imported through different specifiers) neither wrap a kernel twice nor lose
 * the original configs.
 */
interface FixState {
  /** The configs that were registered before the fixes (undefined: none). */
  originals: Map<FixedKernel, tf.KernelConfig | undefined>;
}
const STATE_KEY = Symbol.for("sphereface2-kit/wasm-kernel-fixes");
const globalStore = globalThis as unknown as Record<
  symbol,
  FixState | undefined
>;

function getState(): FixState | undefined {
  return globalStore[STATE_KEY];
}

// ---------------------------------------------------------------------------
// Helpers around the backend's own kernels.

function wasmBackend(args: KernelArgs): BackendWasm {
  return args.backend as BackendWasm;
}

/** Runs the wasm kernel currently registered under `name`. */
function run(
  name: string,
  backend: BackendWasm,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, BACKEND);
  if (kernel === undefined) {
    throw new Error(
      `wasm_kernels: kernel '${name}' is not registered for wasm`,
    );
  }
  return single(kernel.kernelFunc({ inputs, backend, attrs }), name);
}

/** Runs the original (pre-fix) config of a kernel this module replaced. */
function runOriginal(
  name: FixedKernel,
  backend: BackendWasm,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const kernel = getState()?.originals.get(name);
  if (kernel === undefined) {
    throw new Error(`wasm_kernels: no original '${name}' kernel saved`);
  }
  return single(kernel.kernelFunc({ inputs, backend, attrs }), name);
}

function single(out: tf.TensorInfo | tf.TensorInfo[], name: string) {
  if (Array.isArray(out)) {
    throw new Error(`wasm_kernels: '${name}' returned several outputs`);
  }
  return out;
}

function free(backend: BackendWasm, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

function reshape(
  backend: BackendWasm,
  x: tf.TensorInfo,
  shape: number[],
): tf.TensorInfo {
  return run("Reshape", backend, { x }, { shape });
}

function transpose(
  backend: BackendWasm,
  x: tf.TensorInfo,
  perm: number[],
): tf.TensorInfo {
  return run("Transpose", backend, { x }, { perm });
}

/**
 * Pads (positive amounts, with zeros) or crops (negative amounts) each axis:
 * `amounts[i] = [before, after]`. Returns a new TensorInfo owned by the
 * caller (a zero-copy reshape when nothing changes).
 */
function padOrCrop(
  backend: BackendWasm,
  x: tf.TensorInfo,
  amounts: Pair[],
): tf.TensorInfo {
  let cur = x;
  if (amounts.some(([lo, hi]) => lo < 0 || hi < 0)) {
    const begin = amounts.map(([lo]) => Math.max(-lo, 0));
    const size = amounts.map(([lo, hi], i) => x.shape[i] - Math.max(-lo, 0) - Math.max(-hi, 0));
    cur = run("Slice", backend, { x }, { begin, size });
  }
  if (amounts.some(([lo, hi]) => lo > 0 || hi > 0)) {
    const paddings = amounts.map(([lo, hi]) => [
      Math.max(lo, 0),
      Math.max(hi, 0),
    ]);
    const padded = run("PadV2", backend, { x: cur }, {
      paddings,
      constantValue: 0,
    });
    if (cur !== x) free(backend, cur);
    cur = padded;
  }
  return cur === x ? reshape(backend, x, x.shape) : cur;
}

/** Conv geometry, resolved exactly as the forward Conv2D kernel does. */
function convInfoOf(
  xShape: number[],
  filterShape: number[],
  strides: [number, number] | number,
  pad: tf.Conv2DBackpropFilterAttrs["pad"],
  dimRoundingMode: "floor" | "round" | "ceil" | undefined,
): tf.backend_util.Conv2DInfo {
  // computeConv2DInfo resolves 'same' like TF: pad_total =
  // max((ceil(H/s)-1)*s + fh - H, 0), top = floor(pad_total/2).
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
}

// ---------------------------------------------------------------------------
// 1. Conv2DBackpropFilter

/**
 * `Conv2DBackpropFilter` (dW) is missing on wasm, so `tf.grads` of any conv2d
 * fails ("Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'");
 * the cpu backend's dW kernel, the only fallback, ran at about 0.01 GFLOP/s
 * (5.5-6.5 s for a 0.07 GFLOP layer).
 *
 * dW is computed as one forward (XNNPACK) convolution, 1.1-2.6x the cost of
 * the layer's forward conv (here, x [8,56,56,64], 3x3 -> 64: forward 101 ms,
 * dW 129 ms at stride 1; forward 23 ms, dW 50 ms at stride 2):
 *   dW[kh,kw,ci,co] = sum_{b,oh,ow} xp[b, oh*s+kh, ow*s+kw, ci] dy[b,oh,ow,co]
 * With xp (x zero-padded and cropped to (Ho-1)*s + fh rows) transposed to
 * [Ci,Hp,Wp,B] as the "image" and dy transposed to [Ho,Wo,B,Co] as the
 * "filter", this is a 'valid' conv with dilation = stride, giving
 * [Ci,fh,fw,Co], transposed to [fh,fw,Ci,Co]. NCHW inputs are transposed to
 * NHWC first.
 */
function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = wasmBackend(args);
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const { x: xIn, dy: dyIn } = args.inputs as tf.Conv2DBackpropFilterInputs;
  if (xIn === undefined || dyIn === undefined) {
    throw new Error("Conv2DBackpropFilter: missing x or dy");
  }
  const nchw = attrs.dataFormat === "NCHW";
  const x = nchw ? transpose(backend, xIn, [0, 2, 3, 1]) : xIn;
  const dy = nchw ? transpose(backend, dyIn, [0, 2, 3, 1]) : dyIn;
  const [fh, fw] = attrs.filterShape;
  const info = convInfoOf(
    x.shape,
    attrs.filterShape,
    attrs.strides,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { strideHeight: sh, strideWidth: sw } = info;
  const [, h, w] = x.shape;
  const [, ho, wo] = dy.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Rows actually read by the forward conv: [-top, (ho-1)*sh + fh - top).
  const xp = padOrCrop(backend, x, [
    [0, 0],
    [top, (ho - 1) * sh + fh - top - h],
    [left, (wo - 1) * sw + fw - left - w],
    [0, 0],
  ]);
  const xt = transpose(backend, xp, [3, 1, 2, 0]); // [Ci,Hp,Wp,B]
  const dyt = transpose(backend, dy, [1, 2, 0, 3]); // [Ho,Wo,B,Co]
  free(backend, xp);
  if (nchw) free(backend, x, dy);
  const conv = run("Conv2D", backend, { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: "valid",
    dilations: [sh, sw],
    dataFormat: "NHWC",
  }); // [Ci,fh,fw,Co]
  free(backend, xt, dyt);
  const dw = transpose(backend, conv, [1, 2, 0, 3]); // [fh,fw,Ci,Co]
  free(backend, conv);
  return dw;
}

// ---------------------------------------------------------------------------
// 2. Conv2DBackpropInput

/**
 * The native wasm `Conv2DBackpropInput` (dx) is a scalar loop: 3.8-7.3 s per
 * full-size SFNet-20 layer (2.0-2.8 GFLOP/s), 10-14x slower than the forward
 * XNNPACK conv; replacing it took the small model from 31 to 93 img/s
 * (here, dx [8,56,56,64], 3x3, 64 -> 64: native 1.24 s, this form 0.107 s
 * at stride 1; native 0.33 s, this form 0.115 s at stride 2).
 *
 * dx is computed as a forward conv: dy is zero-inserted when stride > 1
 * (reshape to 6D, pad, reshape), padded by fh-1-top before (cropped when
 * negative) so that its length is H + fh - 1, and correlated ('valid',
 * stride 1) with the filter flipped spatially (`Reverse` on axes 0,1) and with
 * in/out channels swapped (`Transpose [0,1,3,2]`). Stride 2 costs about 2x
 * stride 1 (the zero-inserted input does 4x the multiply-adds). NCHW is left
 * to the native kernel (the wasm forward Conv2D rejects NCHW anyway).
 */
function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  const backend = wasmBackend(args);
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (attrs.dataFormat === "NCHW") {
    return runOriginal(
      "Conv2DBackpropInput",
      backend,
      args.inputs,
      args.attrs ?? {},
    );
  }
  const { dy, filter } = args.inputs as tf.Conv2DBackpropInputInputs;
  if (dy === undefined || filter === undefined) {
    throw new Error("Conv2DBackpropInput: missing dy or filter");
  }
  const info = convInfoOf(
    attrs.inputShape,
    filter.shape,
    attrs.strides,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { strideHeight: sh, strideWidth: sw } = info;
  const [b, ho, wo, co] = dy.shape;
  const [fh, fw] = filter.shape;
  const [, h, w] = attrs.inputShape;

  // Zero insertion: [B,Ho,Wo,Co] -> [B,Ho*sh,Wo*sw,Co], dy at (oh*sh, ow*sw).
  let dyz: tf.TensorInfo;
  if (sh > 1 || sw > 1) {
    const dy6 = reshape(backend, dy, [b, ho, 1, wo, 1, co]);
    const padded = run("PadV2", backend, { x: dy6 }, {
      paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
      constantValue: 0,
    });
    dyz = reshape(backend, padded, [b, ho * sh, wo * sw, co]);
    free(backend, dy6, padded);
  } else {
    dyz = reshape(backend, dy, dy.shape);
  }
  const beforeH = fh - 1 - info.padInfo.top;
  const beforeW = fw - 1 - info.padInfo.left;
  const dyp = padOrCrop(backend, dyz, [
    [0, 0],
    [beforeH, h + fh - 1 - beforeH - ho * sh],
    [beforeW, w + fw - 1 - beforeW - wo * sw],
    [0, 0],
  ]);
  free(backend, dyz);

  const flipped = run("Reverse", backend, { x: filter }, { dims: [0, 1] });
  const kernel = transpose(backend, flipped, [0, 1, 3, 2]); // [fh,fw,Co,Ci]
  free(backend, flipped);
  const dx = run("Conv2D", backend, { x: dyp, filter: kernel }, {
    strides: [1, 1],
    pad: "valid",
    dilations: [1, 1],
    dataFormat: "NHWC",
  });
  free(backend, dyp, kernel);
  return dx;
}

// ---------------------------------------------------------------------------
// 3. BatchMatMul / _FusedMatMul with transpose flags

/**
 * Transposes the last two axes. Always a real Transpose: a zero-copy Reshape for 1-wide matrices gave wrong
 * products (the native BatchMatMul then read garbage when the data was shared with a tensor of another shape,
 * e.g. the batch-1 gradient x̂ᵀ·dL/dcos), and copying a vector costs nothing next to the product.
 */
function transposeLastTwo(
  backend: BackendWasm,
  x: tf.TensorInfo,
): tf.TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return transpose(backend, x, perm);
}

/**
 * Shared body of the matmul fixes: transpose explicitly, then call the
 * original kernel with both flags off.
 */
function matMulWithoutFlags(
  name: "BatchMatMul" | "_FusedMatMul",
  args: KernelArgs,
): tf.TensorInfo {
  const backend = wasmBackend(args);
  const attrs = args.attrs ?? {};
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  if (!transposeA && !transposeB) {
    return runOriginal(name, backend, args.inputs, attrs);
  }
  const { a, b } = args.inputs;
  if (a === undefined || b === undefined) {
    throw new Error(`${name}: missing a or b`);
  }
  const at = transposeA ? transposeLastTwo(backend, a) : a;
  const bt = transposeB ? transposeLastTwo(backend, b) : b;
  try {
    return runOriginal(name, backend, { ...args.inputs, a: at, b: bt }, {
      ...attrs,
      transposeA: false,
      transposeB: false,
    });
  } finally {
    if (at !== a) free(backend, at);
    if (bt !== b) free(backend, bt);
  }
}

/** Elements copied by {@link transposeLastTwo}. */
function transposeCost(shape: number[]): number {
  return tf.util.sizeFromShape(shape);
}

/**
 * The wasm `BatchMatMul` with transposeA/transposeB is 13-35x slower than an
 * explicit `Transpose` plus the plain kernel (64x25088x512: plain 94 ms,
 * transposeB 751 ms, transposeA 1594 ms; 256x512 by 512x10000: plain 167 ms,
 * transposeA 3.1 s). Every matMul gradient uses these flags; fixing this took
 * the small model from 61 to 93 img/s.
 *
 * Of the two flag-free forms, C = op(A) op(B) and C = (op(B)^T op(A)^T)^T,
 * the one that copies fewer elements in transposes is used (e.g. for
 * dy[256,10000] x W[512,10000]^T it transposes dy and the [512,256] result
 * rather than W: 300 -> 210 ms here).
 */
function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const backend = wasmBackend(args);
  const attrs = (args.attrs ?? {}) as unknown as tf.BatchMatMulAttrs;
  const { a, b } = args.inputs;
  const { transposeA: ta, transposeB: tb } = attrs;
  if ((!ta && !tb) || a === undefined || b === undefined) {
    return matMulWithoutFlags("BatchMatMul", args);
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  const batch = Math.max(
    tf.util.sizeFromShape(a.shape.slice(0, -2)),
    tf.util.sizeFromShape(b.shape.slice(0, -2)),
  );
  const direct = (ta ? transposeCost(a.shape) : 0) +
    (tb ? transposeCost(b.shape) : 0);
  const swapped = (ta ? 0 : transposeCost(a.shape)) +
    (tb ? 0 : transposeCost(b.shape)) + transposeCost([batch, n, m]);
  if (direct <= swapped) return matMulWithoutFlags("BatchMatMul", args);
  const ct = matMulWithoutFlags("BatchMatMul", {
    inputs: { a: b, b: a },
    backend,
    attrs: { transposeA: !tb, transposeB: !ta },
  });
  const c = transposeLastTwo(backend, ct);
  free(backend, ct);
  return c;
}

/**
 * Same fix as {@link batchMatMul}, for the fused (bias/activation) form.
 *
 * The native wasm `_FusedMatMul` also adds the bias at wrong offsets when the
 * output has a batch dimension > 1 (e.g. a [2,5,3] x [2,3,4] product with a
 * [4] bias: only the first row of each batch is right; measured here against
 * the cpu backend). In that case the product is computed without bias and
 * activation, then `Add` and the activation kernel are applied.
 */
function fusedMatMul(args: KernelArgs): tf.TensorInfo {
  const backend = wasmBackend(args);
  const attrs = (args.attrs ?? {}) as unknown as tf._FusedMatMulAttrs;
  const { a, b, bias, preluActivationWeights } = args.inputs;
  if (a === undefined || b === undefined) {
    throw new Error("_FusedMatMul: missing a or b");
  }
  const batch = Math.max(
    tf.util.sizeFromShape(a.shape.slice(0, -2)),
    tf.util.sizeFromShape(b.shape.slice(0, -2)),
  );
  if (bias === undefined || batch <= 1) {
    return matMulWithoutFlags("_FusedMatMul", args);
  }
  const product = matMulWithoutFlags("_FusedMatMul", {
    inputs: { a, b },
    backend,
    attrs: { ...args.attrs, activation: "linear" },
  });
  const biased = run("Add", backend, { a: product, b: bias });
  free(backend, product);
  const x = biased;
  let out: tf.TensorInfo;
  switch (attrs.activation) {
    case undefined:
    case "linear":
      return biased;
    case "relu":
      out = run("Relu", backend, { x });
      break;
    case "relu6":
      out = run("Relu6", backend, { x });
      break;
    case "elu":
      out = run("Elu", backend, { x });
      break;
    case "sigmoid":
      out = run("Sigmoid", backend, { x });
      break;
    case "leakyrelu":
      out = run("LeakyRelu", backend, { x }, {
        alpha: attrs.leakyreluAlpha ?? 0.2,
      });
      break;
    case "prelu":
      if (preluActivationWeights === undefined) {
        throw new Error("_FusedMatMul: prelu needs preluActivationWeights");
      }
      out = run("Prelu", backend, { x, alpha: preluActivationWeights });
      break;
    default:
      free(backend, biased);
      throw new Error(`_FusedMatMul: unknown activation ${attrs.activation}`);
  }
  free(backend, biased);
  return out;
}

// ---------------------------------------------------------------------------
// 4. UnsortedSegmentSum

/**
 * `UnsortedSegmentSum` is missing on wasm; the gradient of `tf.gather`
 * needs it. Computed in JS on the wasm heap (O(x.size), exact summation
 * order like a sequential loop): out[ids[i], ...] += x[i, ...].
 * Segment ids may have any rank r (x.shape[:r] must equal ids.shape) and may
 * be int32 or float32; ids outside [0, numSegments) are dropped, as the cpu
 * backend does. Supports float32 and int32 x; the output has x's dtype.
 */
function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const backend = wasmBackend(args);
  const { x, segmentIds } = args.inputs as tf.UnsortedSegmentSumInputs;
  const { numSegments } = args
    .attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x === undefined || segmentIds === undefined) {
    throw new Error("UnsortedSegmentSum: missing x or segmentIds");
  }
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  }
  const idRank = segmentIds.shape.length;
  const lead = x.shape.slice(0, idRank);
  if (
    lead.length !== idRank || lead.some((d, i) => d !== segmentIds.shape[i])
  ) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a ` +
        `prefix of x shape [${x.shape}]`,
    );
  }
  const inner = x.shape.slice(idRank);
  const d = inner.reduce((p, q) => p * q, 1);
  const out = backend.makeOutput([numSegments, ...inner], x.dtype);
  // Views are taken after makeOutput: an allocation may grow (and detach) the
  // heap buffer.
  const outVals = backend.typedArrayFromHeap(out);
  const xVals = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  outVals.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (!(s >= 0 && s < numSegments) || !Number.isInteger(s)) continue;
    const src = i * d;
    const dst = s * d;
    for (let j = 0; j < d; j++) outVals[dst + j] += xVals[src + j];
  }
  return out;
}

// ---------------------------------------------------------------------------
// 5. Identity

/**
 * `Identity` that shares the input's data and raises its refCount, as the
 * wasm backend's own Reshape does and as the cpu and WebGL backends' Identity
 * do. Tensors are immutable (no kernel of tfjs or of the kit writes into an
 * input), so a clone needs no copy of its own; string tensors keep the
 * original's copy.
 */
function identity(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as tf.IdentityInputs;
  if (x === undefined) throw new Error("Identity: missing x");
  const original = getState()?.originals.get("Identity");
  if (x.dtype === "string" && original) return original.kernelFunc(args) as tf.TensorInfo;
  const backend = wasmBackend(args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

// ---------------------------------------------------------------------------
// Registration

const FIX_FUNCS: Record<FixedKernel, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Conv2DBackpropInput: conv2DBackpropInput,
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  UnsortedSegmentSum: unsortedSegmentSum,
  Identity: identity,
};

/**
 * Registers the wasm kernel fixes (idempotent). Call after
 * `@tensorflow/tfjs-backend-wasm` has been imported (it registers the wasm
 * kernels); before or after `tf.setBackend("wasm")` both work, since each
 * override keeps the original's `setupFunc`.
 */
export function registerWasmKernelFixes(): void {
  if (getState() !== undefined) return;
  if (tf.getKernel("Conv2D", BACKEND) === undefined) {
    throw new Error(
      "registerWasmKernelFixes: wasm kernels are not registered; import " +
        '"@tensorflow/tfjs-backend-wasm" first',
    );
  }
  const originals = new Map<FixedKernel, tf.KernelConfig | undefined>();
  // Save first: the overrides look their originals up in the state.
  for (const name of FIXED_KERNELS) {
    originals.set(name, tf.getKernel(name, BACKEND));
  }
  globalStore[STATE_KEY] = { originals };
  for (const name of FIXED_KERNELS) {
    const original = originals.get(name);
    if (original !== undefined) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: FIX_FUNCS[name],
      setupFunc: original?.setupFunc,
      disposeFunc: original?.disposeFunc,
    });
  }
}

/**
 * Undoes {@link registerWasmKernelFixes}: re-registers the saved original
 * configs and removes the kernels that wasm did not have. A no-op when the
 * fixes are not registered.
 */
export function unregisterWasmKernelFixes(): void {
  const state = getState();
  if (state === undefined) return;
  for (const name of FIXED_KERNELS) {
    if (tf.getKernel(name, BACKEND) !== undefined) {
      tf.unregisterKernel(name, BACKEND);
    }
    const original = state.originals.get(name);
    if (original !== undefined) tf.registerKernel(original);
  }
  globalStore[STATE_KEY] = undefined;
}

/** Whether the fixes are currently registered. */
export function wasmKernelFixesRegistered(): boolean {
  return getState() !== undefined;
}
