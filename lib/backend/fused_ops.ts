/**
 * Fused training ops: the conv + bias + ReLU of a training step as one kernel with its gradient, and the momentum-SGD
 * update of one parameter as one kernel. Each computes the same float32 values, in the same order, as the tfjs ops it
 * replaces, so training is byte-for-byte what it was; it only makes fewer passes over memory.
 *
 * Why: tfjs refuses to fuse a conv's activation while a gradient is recorded (`shouldFuse` in tfjs-core allows only
 * `linear` then), so every ReLU conv of a training step ran as Conv2D, then a bias Add and a Relu over the output,
 * and its backward as Step, Cast and Multiply over it: five single-threaded wasm passes per conv, where
 * {@link conv2dRelu} runs the forward in `FusedConv2D` (oneDNN + one threaded epilogue) and the backward's mask in
 * one threaded pass ({@link RELU_GRAD_KERNEL}). The SGD update was six tfjs ops per parameter tensor
 * ({@link SGD_KERNEL}: one). Backends without these kernels (cpu, WebGPU, wasm without the C helper) run the same
 * maths as tfjs ops.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv2dRelu } from "./fused_ops.ts";
 * const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D, w = tf.ones([3, 3, 2, 3]) as tf.Tensor4D;
 * const y = conv2dRelu(x, w, tf.zeros([3]), 1, 1); // [1, 4, 4, 3], as tf.fused.conv2d with activation "relu"
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Kernel name of the ReLU gradient from the ReLU's output: `dx = dy · (y > 0 ? 1 : 0)`; inputs `{dy, y}`. */
export const RELU_GRAD_KERNEL = "SF2ReluGrad";

/**
 * Kernel name of one momentum-SGD update (PyTorch's rule): inputs `{w, g, buf}`, attrs {@link SgdStepAttrs}, outputs
 * `[w', buf']` with `g ← g·gradScale; d ← g + weightDecay·w; buf' ← momentum·buf + d; w' ← w − lr·buf'`.
 */
export const SGD_KERNEL = "SF2SgdStep";

/** Attributes of {@link SGD_KERNEL}. */
export interface SgdStepAttrs {
  lr: number;
  momentum: number;
  weightDecay: number;
  gradScale: number;
  [key: string]: number;
}

/** Whether the active backend has a kernel of this name. */
function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** The gradient through a ReLU from its output y: `dy · step(y)`, tfjs's own formula, in one pass where it can. */
export function reluGradient(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (hasKernel(RELU_GRAD_KERNEL) && dy.dtype === "float32" && y.dtype === "float32") {
    return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, y }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(dy, tf.step(y)));
}

/**
 * `relu(conv2d(x, filter) + bias)` (NHWC, "same"-style symmetric padding `pad`, dilation 1) as one `FusedConv2D`
 * kernel whether or not a gradient is recorded; the gradient is tfjs's own for a fused ReLU conv (`fused.conv2d`):
 * the mask `dy · step(y)`, then `Conv2DBackpropInput`, `Conv2DBackpropFilter` and the bias sum over it.
 */
export function conv2dRelu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor | undefined,
  strides: number,
  pad: number,
): tf.Tensor4D {
  const conv = { strides: [strides, strides], pad, dataFormat: "NHWC", dimRoundingMode: undefined };
  const attrs = {
    ...conv,
    dilations: [1, 1],
    activation: "relu",
    leakyreluAlpha: undefined,
  } as unknown as tf.NamedAttrMap;
  const inputs = bias === undefined ? [x, filter] : [x, filter, bias];
  // One op for both arities: customGrad passes the inputs, then `save`.
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xs, f, b] = args.slice(0, inputs.length) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
      const save = args[inputs.length] as tf.GradSaveFunc;
      const y = tf.engine().runKernel("FusedConv2D", b ? { x: xs, filter: f, bias: b } : { x: xs, filter: f }, attrs);
      save([xs, f, y as tf.Tensor]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sf, sy] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor];
          const dyAct = reluGradient(dy, sy);
          const grads = [
            tf.engine().runKernel("Conv2DBackpropInput", { dy: dyAct, filter: sf }, {
              ...conv,
              inputShape: sx.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor,
            tf.engine().runKernel("Conv2DBackpropFilter", { x: sx, dy: dyAct }, {
              ...conv,
              filterShape: sf.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor,
          ];
          // The bias gradient as tfjs's fused conv takes it (getFusedBiasGradient): a sum over every axis but C.
          if (b) grads.push(tf.reshape(tf.sum(dyAct, [0, 1, 2]), b.shape));
          dyAct.dispose();
          return grads;
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(...inputs) as tf.Tensor4D;
}

/**
 * One momentum-SGD update of `w` with gradient `g` and momentum buffer `buf` as one kernel: `[w', buf']`, or null
 * when the active backend has no {@link SGD_KERNEL} (the caller then runs the same rule as tfjs ops).
 */
export function sgdStepFused(
  w: tf.Tensor,
  g: tf.Tensor,
  buf: tf.Tensor,
  attrs: SgdStepAttrs,
): [tf.Tensor, tf.Tensor] | null {
  if (!hasKernel(SGD_KERNEL) || w.dtype !== "float32" || g.dtype !== "float32" || buf.dtype !== "float32") return null;
  return tf.engine().runKernel(SGD_KERNEL, { w, g, buf }, attrs) as unknown as [tf.Tensor, tf.Tensor];
}
