/**
 * Kernel fixes for the TensorFlow.js 4.22 WebGPU backend.
 *
 * tfjs-webgpu's `AddN` compiles one shader over all its inputs; with more than 5 inputs it returns the sum of the
 * first 5 on Mesa's llvmpipe under Deno (measured: addN of the scalars 1..8 gives 15, of 1..12 also 15). The
 * training loop's gradient norm is an `addN` over every parameter's squared sum, so the logged norm was wrong and
 * gradient clipping would have been too. The fix sums in chunks of at most 4 inputs with the backend's own kernel.
 *
 * `Acos` runs WGSL's `acos`, which llvmpipe approximates to 1.6e-4 (measured over [-1, 1]); ArcFace and SphereFace
 * take θ = acos(cos θ), so their losses missed the golden vectors by 8e-4 and 1.4e-3. The fix computes
 * atan2(√((1−x)(1+x)), x) with the backend's kernels (3.4e-6; (1−x)(1+x) rather than 1−x², which cancels near ±1).
 * Gradients are unaffected: tfjs derives them from the op, not the kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { registerWebgpuKernelFixes } from "./webgpu_kernels.ts";
 * await tf.setBackend("webgpu");
 * registerWebgpuKernelFixes();
 * console.log(await tf.addN([1, 2, 3, 4, 5, 6, 7, 8].map((v) => tf.scalar(v))).data()); // [36]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

const BACKEND = "webgpu";
/** Inputs per call of the stock kernel: it is correct up to 5 (measured), 4 leaves a margin. */
const CHUNK = 4;

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The stock kernels, kept on globalThis so a second copy of this module does not wrap the wrapper. */
const STATE_KEY = Symbol.for("sf2.webgpuKernelFixes");
type State = { originals: tf.KernelConfig[] };
const store = globalThis as unknown as Record<symbol, State | undefined>;

function chunkedAddN(original: tf.KernelConfig): tf.KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    let terms = inputs as unknown as tf.TensorInfo[];
    const temporaries: tf.TensorInfo[] = [];
    while (terms.length > CHUNK) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < terms.length; i += CHUNK) {
        const group = terms.slice(i, i + CHUNK);
        if (group.length === 1) {
          next.push(group[0]);
          continue;
        }
        const sum = original.kernelFunc({
          inputs: group as unknown as tf.NamedTensorInfoMap,
          backend,
          attrs,
        }) as tf.TensorInfo;
        temporaries.push(sum);
        next.push(sum);
      }
      terms = next;
    }
    const out = original.kernelFunc({
      inputs: terms as unknown as tf.NamedTensorInfoMap,
      backend,
      attrs,
    }) as tf.TensorInfo;
    const b = backend as unknown as { disposeData(id: object): void };
    for (const t of temporaries) b.disposeData(t.dataId);
    return out;
  };
}

/** acos(x) = atan2(√((1−x)(1+x)), x) from the backend's own elementwise kernels. */
function preciseAcos(): tf.KernelFunc {
  const k = (name: string) => tf.getKernel(name, BACKEND)!.kernelFunc;
  return ({ inputs, backend }: KernelArgs) => {
    const x = (inputs as tf.NamedTensorInfoMap).x as tf.TensorInfo;
    const b = backend as unknown as {
      makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
      disposeData(id: object): void;
    };
    const call = (name: string, ins: Record<string, tf.TensorInfo>) =>
      k(name)({ inputs: ins as tf.NamedTensorInfoMap, backend, attrs: {} }) as tf.TensorInfo;
    const one = b.makeTensorInfo([], "float32", new Float32Array([1]));
    const minus = call("Sub", { a: one, b: x });
    const plus = call("Add", { a: one, b: x });
    const prod = call("Multiply", { a: minus, b: plus });
    const root = call("Sqrt", { x: prod });
    const out = call("Atan2", { a: root, b: x });
    for (const t of [one, minus, plus, prod, root]) b.disposeData(t.dataId);
    return out;
  };
}

/**
 * Replaces tfjs-webgpu's `AddN` (chunked) and `Acos` (precise); idempotent. Call after `tf.setBackend("webgpu")`.
 */
export function registerWebgpuKernelFixes(): void {
  if (store[STATE_KEY]) return;
  const addN = tf.getKernel("AddN", BACKEND);
  const acos = tf.getKernel("Acos", BACKEND);
  if (!addN || !acos) return;
  store[STATE_KEY] = { originals: [addN, acos] };
  tf.unregisterKernel("AddN", BACKEND);
  tf.registerKernel({ kernelName: "AddN", backendName: BACKEND, kernelFunc: chunkedAddN(addN) });
  tf.unregisterKernel("Acos", BACKEND);
  tf.registerKernel({ kernelName: "Acos", backendName: BACKEND, kernelFunc: preciseAcos() });
}

/** Restores the stock kernels (tests). */
export function unregisterWebgpuKernelFixes(): void {
  const state = store[STATE_KEY];
  if (!state) return;
  for (const original of state.originals) {
    tf.unregisterKernel(original.kernelName, BACKEND);
    tf.registerKernel(original);
  }
  store[STATE_KEY] = undefined;
}
