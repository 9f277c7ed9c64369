/**
 * The layers backbones are built from, as plain functions over named tensors (no tf.layers: less overhead, and
 * the weights are ordinary variables a checkpoint can read and write). NHWC throughout.
 *
 * Convs use PyTorch's symmetric padding (`pad: 1` for 3×3), not TF's `same`: for stride 2 `same` pads 0 rows on
 * top and 1 at the bottom while PyTorch pads 1 on both sides, which would shift every stride-2 window by a
 * pixel and make PyTorch weights give different features.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { conv, ForwardContext } from "./layers.ts";
 * const vars = new Map<string, tf.Tensor>([["c.weight", tf.ones([3, 3, 3, 4])], ["c.bias", tf.zeros([4])]]);
 * const ctx = new ForwardContext((n) => vars.get(n)!, false);
 * const y = conv(ctx, "c", tf.ones([1, 8, 8, 3]) as tf.Tensor4D, { stride: 2, relu: true }); // [1, 4, 4, 4]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { conv2dRelu } from "../backend/fused_ops.ts";

/** PyTorch's BatchNorm defaults. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** New running statistics computed by a training forward, applied by the model after the step. */
export interface BatchStatUpdate {
  name: string;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** What a forward pass reads: parameters by name, the mode, and where BN puts its running-stat updates. */
export class ForwardContext {
  readonly bnUpdates: BatchStatUpdate[] = [];
  constructor(readonly param: (name: string) => tf.Tensor, readonly training: boolean) {}
}

export interface ConvOptions {
  stride?: number;
  /** Symmetric zero padding; default (k − 1)/2. */
  pad?: number;
  /** Add `NAME.bias` (default true). */
  bias?: boolean;
  relu?: boolean;
}

/** Conv with `NAME.weight` `[k, k, cin, cout]` (+ bias, + ReLU fused where tfjs can fuse). */
export function conv(ctx: ForwardContext, name: string, x: tf.Tensor4D, o: ConvOptions = {}): tf.Tensor4D {
  const filter = ctx.param(`${name}.weight`) as tf.Tensor4D;
  const k = filter.shape[0];
  const bias = o.bias === false ? undefined : ctx.param(`${name}.bias`);
  // tfjs unfuses a ReLU conv while a gradient is recorded (five passes over the output); conv2dRelu keeps it fused.
  if (o.relu) return conv2dRelu(x, filter, bias, o.stride ?? 1, o.pad ?? (k - 1) / 2);
  return tf.fused.conv2d({
    x,
    filter,
    strides: o.stride ?? 1,
    pad: o.pad ?? (k - 1) / 2,
    bias,
    activation: "linear",
  });
}

/**
 * BatchNorm over all axes but the last (BN2d on NHWC, BN1d on [B, C]). Training: batch mean and biased variance
 * normalise, and the running stats move by momentum 0.1 toward the batch mean and the *unbiased* variance
 * (PyTorch); eval: the running stats.
 */
export function batchNorm<T extends tf.Tensor>(ctx: ForwardContext, name: string, x: T): T {
  const gamma = ctx.param(`${name}.weight`) as tf.Tensor1D;
  const beta = ctx.param(`${name}.bias`) as tf.Tensor1D;
  const runMean = ctx.param(`${name}.runningMean`) as tf.Tensor1D;
  const runVar = ctx.param(`${name}.runningVar`) as tf.Tensor1D;
  if (!ctx.training) return tf.batchNorm(x, runMean, runVar, beta, gamma, BN_EPS) as T;
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const n = x.size / x.shape[x.shape.length - 1];
  // Kept past the enclosing tidy/gradient scope; the model assigns and disposes them after the step.
  const update = tf.tidy(() => ({
    mean: tf.add(tf.mul(runMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)) as tf.Tensor1D,
    variance: tf.add(
      tf.mul(runVar, 1 - BN_MOMENTUM),
      tf.mul(variance, (BN_MOMENTUM * n) / Math.max(1, n - 1)),
    ) as tf.Tensor1D,
  }));
  ctx.bnUpdates.push({ name, mean: tf.keep(update.mean), variance: tf.keep(update.variance) });
  return tf.batchNorm(x, mean as tf.Tensor1D, variance as tf.Tensor1D, beta, gamma, BN_EPS) as T;
}

/** PReLU with per-channel slopes `NAME.weight` `[C]`. */
export function prelu<T extends tf.Tensor>(ctx: ForwardContext, name: string, x: T): T {
  return tf.prelu(x, ctx.param(`${name}.weight`)) as T;
}

/** x·W + b with `NAME.weight` `[in, out]`. */
export function linear(ctx: ForwardContext, name: string, x: tf.Tensor2D, bias = true): tf.Tensor2D {
  return tf.fused.matMul({
    a: x,
    b: ctx.param(`${name}.weight`) as tf.Tensor2D,
    bias: bias ? ctx.param(`${name}.bias`) : undefined,
  }) as tf.Tensor2D;
}

/**
 * Flattens an NHWC map to [B, H·W·C] in H, W, C order: no transpose per step. PyTorch flattens NCHW in C, H, W
 * order, so the FC rows of a PyTorch checkpoint must be permuted once on import ({@link chwRowsToHwc}).
 */
export function flatten(x: tf.Tensor4D): tf.Tensor2D {
  const [b, h, w, c] = x.shape;
  return tf.reshape(x, [b, h * w * c]);
}

/**
 * Permutes the rows of an FC weight `[C·H·W, out]` written for PyTorch's C,H,W flatten into the kit's H,W,C order
 * (transpose PyTorch's `[out, in]` weight to `[in, out]` first). Returns a new tensor.
 */
export function chwRowsToHwc(weight: tf.Tensor2D, c: number, h: number, w: number): tf.Tensor2D {
  return tf.tidy(() => {
    const out = weight.shape[1];
    return tf.reshape(tf.transpose(tf.reshape(weight, [c, h, w, out]), [1, 2, 0, 3]), [h * w * c, out]);
  });
}
