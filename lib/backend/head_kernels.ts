/**
 * Fused classifier-head kernels for TensorFlow.js: `SphereFace2Fused` (loss and all gradients of the SphereFace2
 * head in one streaming pass, `native/sf2_fused.ts`) and `NormalizeColumnsFused` (W ← W/‖w_j‖), registered on the
 * wasm backend (in place on its heap) and, on request, on the cpu backend (on its Float32Arrays, not bound by
 * wasm's 4 GiB, for K = 10⁶).
 *
 * `lib/losses` uses them through {@link fusedHeadKernelsActive} when they are registered for the active backend,
 * and otherwise runs the unfused tfjs maths (the pure-wasm / cpu path). `SF2_FUSED_HEAD=0` keeps them off.
 *
 * @example
 * ```ts
 * import { registerHeadKernels } from "./head_kernels.ts";
 * const status = registerHeadKernels(["wasm"]);
 * console.error(status.detail); // "fused SphereFace2 head: oneDNN 2.6.3 sgemm + C helper (2 threads)"
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  type FusedHeadEngine,
  type MarginKernelParams,
  openFusedHead,
  type Sf2KernelParams,
} from "./native/sf2_fused.ts";

/** Kernel names (not tfjs's own: registered only by the kit). */
export const SF2_FUSED_KERNEL = "SphereFace2Fused";
export const NORMALIZE_COLUMNS_KERNEL = "NormalizeColumnsFused";
export const MARGIN_FUSED_KERNEL = "MarginSoftmaxFused";
export type { MarginKernelParams };
/** `SF2_FUSED_HEAD=0` leaves the kernels unregistered (unfused tfjs head). */
export const FUSED_HEAD_ENV = "SF2_FUSED_HEAD";

type HeadBackend = "wasm" | "cpu";
const STATE_KEY = Symbol.for("sphereface2-kit/head-kernels");
interface State {
  engine: FusedHeadEngine;
  backends: Set<HeadBackend>;
  /** Calls served (tests). */
  calls: number;
}
const store = globalThis as unknown as Record<symbol, State | undefined>;

function envOff(): boolean {
  try {
    const v = Deno.env.get(FUSED_HEAD_ENV);
    return v !== undefined && ["0", "false", "off", "no"].includes(v.trim().toLowerCase());
  } catch {
    return false;
  }
}

/** Registers the fused head kernels on the given backends; never throws (returns why not). */
export function registerHeadKernels(
  backends: HeadBackend[] = ["wasm"],
  options: { ignoreEnv?: boolean } = {},
): { ok: boolean; detail: string } {
  if (!options.ignoreEnv && envOff()) return { ok: false, detail: `fused head off (${FUSED_HEAD_ENV}=0)` };
  let state = store[STATE_KEY];
  if (!state) {
    const opened = openFusedHead();
    if (!opened.ok) return { ok: false, detail: `unfused head (${opened.reason})` };
    state = { engine: opened.engine, backends: new Set(), calls: 0 };
    store[STATE_KEY] = state;
  }
  for (const b of backends) {
    if (state.backends.has(b)) continue;
    tf.registerKernel({ kernelName: SF2_FUSED_KERNEL, backendName: b, kernelFunc: fusedKernel });
    tf.registerKernel({ kernelName: NORMALIZE_COLUMNS_KERNEL, backendName: b, kernelFunc: normalizeKernel });
    tf.registerKernel({ kernelName: MARGIN_FUSED_KERNEL, backendName: b, kernelFunc: marginKernel });
    state.backends.add(b);
  }
  return { ok: true, detail: `fused SphereFace2 head: ${state.engine.describe()}` };
}

/** Removes the kernels from every backend (tests). */
export function unregisterHeadKernels(): void {
  const state = store[STATE_KEY];
  if (!state) return;
  for (const b of state.backends) {
    tf.unregisterKernel(SF2_FUSED_KERNEL, b);
    tf.unregisterKernel(NORMALIZE_COLUMNS_KERNEL, b);
    tf.unregisterKernel(MARGIN_FUSED_KERNEL, b);
  }
  state.backends.clear();
}

/** Whether the fused kernels serve the active backend. */
export function fusedHeadKernelsActive(): boolean {
  return tf.getKernel(SF2_FUSED_KERNEL, tf.getBackend()) !== undefined;
}

/**
 * Runs a fused head kernel inside `tf.customGrad` and hands its gradient outputs to autodiff: they are saved, and the
 * gradient function returns reshape aliases of them (scaled by dy when dy ≠ 1). Saving clones, and a clone shares its
 * buffer (the wasm backend's `Identity` as the kit registers it, wasm_kernels.ts; the cpu backend's own), so no d×K
 * gradient is copied; tfjs disposes the saved list after backprop, so gradients nobody asked for are freed. Without a
 * tape nothing is saved and the outputs are dropped with the forward scope. Returns the loss.
 */
export function fusedLoss(
  kernelName: string,
  names: readonly string[],
  inputs: tf.Tensor[],
  extra: Record<string, tf.Tensor>,
  attrs: tf.NamedAttrMap,
): tf.Scalar {
  const fn = tf.customGrad(
    ((...args: unknown[]) => {
      const xs = args.slice(0, inputs.length) as tf.Tensor[];
      const save = args[inputs.length] as tf.GradSaveFunc;
      const named: Record<string, tf.Tensor> = { ...extra };
      names.forEach((n, i) => (named[n] = xs[i]));
      const [value, ...grads] = tf.engine().runKernel(kernelName, named, attrs) as tf.Tensor[];
      save(grads);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          if (dy.size === 1 && dy.dataSync()[0] === 1) return saved.map((g) => tf.reshape(g, g.shape));
          return saved.map((g) => tf.mul(g, dy));
        },
      };
    }) as Parameters<typeof tf.customGrad>[0],
  );
  return fn(...inputs) as tf.Scalar;
}

/** How many fused head steps ran (tests). */
export function fusedHeadCalls(): number {
  return store[STATE_KEY]?.calls ?? 0;
}

/** Attributes of {@link SF2_FUSED_KERNEL}: the head's numbers (bias comes as an input). */
export type Sf2FusedAttrs = Omit<Sf2KernelParams, "bias" | "throughG"> & { throughG: number };

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Float32 views of tensors and outputs on either backend; views are taken after every output is allocated. */
function io(backend: unknown) {
  if ((backend as { wasm?: unknown }).wasm !== undefined) {
    const wasm = backend as BackendWasm;
    return {
      make: (shape: number[]) => wasm.makeOutput(shape, "float32"),
      f32: (t: tf.TensorInfo) => {
        const heap = (wasm.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
        return new Float32Array(heap.buffer, wasm.getMemoryOffset(t.dataId), tf.util.sizeFromShape(t.shape));
      },
      i32: (t: tf.TensorInfo) => {
        const heap = (wasm.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
        return new Int32Array(heap.buffer, wasm.getMemoryOffset(t.dataId), tf.util.sizeFromShape(t.shape));
      },
    };
  }
  const cpu = backend as unknown as {
    makeTensorInfo: (shape: number[], dtype: tf.DataType, values: Float32Array) => tf.TensorInfo;
    data: { get: (id: unknown) => { values: tf.TypedArray } };
  };
  return {
    make: (shape: number[]) => cpu.makeTensorInfo(shape, "float32", new Float32Array(tf.util.sizeFromShape(shape))),
    f32: (t: tf.TensorInfo) => cpu.data.get(t.dataId).values as Float32Array,
    i32: (t: tf.TensorInfo) => {
      const v = cpu.data.get(t.dataId).values;
      return v instanceof Int32Array ? v : Int32Array.from(v as Float32Array);
    },
  };
}

function fusedKernel(args: KernelArgs): tf.TensorInfo[] {
  const state = store[STATE_KEY];
  if (!state) throw new Error(`${SF2_FUSED_KERNEL}: not registered`);
  const { x, weight, bias, labels } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as Sf2FusedAttrs;
  const [B, d] = x.shape;
  const K = weight.shape[1];
  if (weight.shape[0] !== d || labels.shape[0] !== B) {
    throw new Error(`${SF2_FUSED_KERNEL}: shapes x ${x.shape}, W ${weight.shape}, labels ${labels.shape} disagree`);
  }
  if (x.dtype !== "float32" || weight.dtype !== "float32") throw new Error(`${SF2_FUSED_KERNEL}: float32 only`);
  const b = io(args.backend);
  const loss = b.make([]);
  const dx = b.make([B, d]);
  const dw = b.make([d, K]);
  const db = b.make([1]);
  let lab = b.i32(labels);
  if (labels.dtype !== "int32") lab = Int32Array.from(b.f32(labels));
  const r = state.engine.step(
    b.f32(x),
    b.f32(weight),
    lab,
    b.f32(dx),
    b.f32(dw),
    { batch: B, dim: d, classes: K },
    { ...a, throughG: a.throughG !== 0, bias: b.f32(bias)[0] },
  );
  b.f32(loss)[0] = r.loss;
  b.f32(db)[0] = r.gradBias;
  state.calls++;
  return [loss, dx, dw, db];
}

function marginKernel(args: KernelArgs): tf.TensorInfo[] {
  const state = store[STATE_KEY];
  if (!state) throw new Error(`${MARGIN_FUSED_KERNEL}: not registered`);
  const { x, weight, labels } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as MarginKernelParams;
  const [B, d] = x.shape;
  const K = weight.shape[1];
  if (weight.shape[0] !== d || labels.shape[0] !== B) {
    throw new Error(`${MARGIN_FUSED_KERNEL}: shapes x ${x.shape}, W ${weight.shape}, labels ${labels.shape} disagree`);
  }
  const b = io(args.backend);
  const loss = b.make([]);
  const dx = b.make([B, d]);
  const dw = b.make([d, K]);
  const lab = labels.dtype === "int32" ? b.i32(labels) : Int32Array.from(b.f32(labels));
  const value = state.engine.marginStep(b.f32(x), b.f32(weight), lab, b.f32(dx), b.f32(dw), {
    batch: B,
    dim: d,
    classes: K,
  }, a);
  b.f32(loss)[0] = value;
  state.calls++;
  return [loss, dx, dw];
}

function normalizeKernel(args: KernelArgs): tf.TensorInfo {
  const state = store[STATE_KEY];
  if (!state) throw new Error(`${NORMALIZE_COLUMNS_KERNEL}: not registered`);
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const [d, K] = x.shape;
  const b = io(args.backend);
  const out = b.make([d, K]);
  state.engine.normalizeColumns(b.f32(x), b.f32(out), d, K);
  return out;
}
