/**
 * What one shard computes on its block of classes, as plain tensor functions (the worker calls them; tests can
 * call them in-process). Both heads see the all-gathered batch x (B×d), the labels mapped to the shard
 * (−1 outside its block, see `partition.ts`) and the shard's unit-column W_r (d×k_r).
 *
 * **SphereFace2** is a sum of independent binary terms, so the unsharded loss splits exactly:
 *
 *   L = Σ_r L_r,   L_r = lw/(r·B) · Σ_i Σ_{j∈block r} w'_ij·softplus(±z_ij),
 *
 * with the global B in the scale. Each shard runs the library's own `sphereface2LossFromCos` on its columns and
 * gets L_r, dL/dW_r (final), dL/db_r (summed over shards: the shared bias) and its share of dL/dx (summed over
 * shards). Nothing crosses shards before the reduction.
 *
 * **Softmax family** (CosFace, ArcFace, …): the normaliser couples every class, so a shard needs three reductions
 * over all shards per row i (insightface Partial FC): the row max M_i = max_r max_j ℓ_ij ({@link marginForward}),
 * the sum S_i = Σ_r Σ_j exp(ℓ_ij − M_i) ({@link marginSumExp}), and the target term. Then p = exp(ℓ − M)/S,
 * dL/dc_r = s·(p − Y_r)/B and L = mean_i(M_i + log S_i − ℓ_{i,y_i}) ({@link marginBackward}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { parseHeadConfig, type SphereFace2Config } from "../losses/config.ts";
 * import { sphereface2Shard } from "./shard_math.ts";
 * const cfg = parseHeadConfig({ type: "sphereface2" }) as SphereFace2Config;
 * const g = sphereface2Shard(tf.randomNormal([2, 4]), tf.tensor1d([1, -1], "int32"), tf.randomNormal([4, 3]), tf.tensor1d([5]), cfg);
 * tf.dispose([g.loss, g.gradX, g.gradW, ...(g.gradBias ? [g.gradBias] : [])]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { cosines, normalizeRows, oneHotFloat } from "../losses/head.ts";
import { sphereface2LossFromCos, type SphereFace2Params } from "../losses/sphereface2.ts";
import { MARGIN_RULES } from "../losses/softmax_family.ts";

/** A shard's loss and gradients; the caller owns the tensors. */
export interface ShardGradients {
  /** This shard's partial loss L_r (scalar). */
  loss: tf.Scalar;
  /** Its share of dL/dx (B×d); the shards' shares add up to dL/dx. */
  gradX: tf.Tensor2D;
  /** dL/dW_r (d×k_r), final. */
  gradW: tf.Tensor2D;
  /** Its share of dL/db ([1]) for SphereFace2's shared bias; null for the softmax family. */
  gradBias: tf.Tensor1D | null;
}

/** SphereFace2 on one block: the library's loss on the shard's columns, differentiated as `headGradients` does. */
export function sphereface2Shard(
  x: tf.Tensor2D,
  localLabels: tf.Tensor1D,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D,
  p: SphereFace2Params,
): ShardGradients {
  const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) =>
    sphereface2LossFromCos(
      cosines(args[0] as tf.Tensor2D, args[1] as tf.Tensor2D),
      args[2] as tf.Tensor1D,
      localLabels,
      p,
    )
  )([x, weight, bias]);
  return {
    loss: value,
    gradX: grads[0] as tf.Tensor2D,
    gradW: grads[1] as tf.Tensor2D,
    gradBias: grads[2] as tf.Tensor1D,
  };
}

/** The margin rule of a softmax-family head (`MARGIN_RULES` in the loss library). */
export type MarginRule = ReturnType<typeof MARGIN_RULES.arcface>;

/** State a softmax-family shard keeps between its three reductions; dispose with {@link disposeMarginState}. */
export interface MarginState {
  xhat: tf.Tensor2D;
  /** One-hot of the local labels (zero rows for samples whose class lives elsewhere). */
  y: tf.Tensor2D;
  /** Margin logits s·ψ (B×k_r). */
  logits: tf.Tensor2D;
  /** exp(logits − M), set by {@link marginSumExp}. */
  shifted: tf.Tensor2D | null;
}

/**
 * Forward pass: margin logits exactly as the unsharded head forms them (target ψ only where the label is local),
 * plus the row max (first all-reduce, MAX) and the target logit (third all-reduce, SUM; zero off the owner).
 */
export function marginForward(
  x: tf.Tensor2D,
  localLabels: tf.Tensor1D,
  weight: tf.Tensor2D,
  s: number,
  rule: MarginRule,
): { state: MarginState; rowMax: tf.Tensor1D; targetLogit: tf.Tensor1D } {
  const out = tf.tidy(() => {
    const xhat = normalizeRows(x);
    const cos = tf.matMul(xhat, weight) as tf.Tensor2D;
    const y = oneHotFloat(localLabels, weight.shape[1]);
    // The same expression as softmax_family.ts's marginLogits (not exported there).
    const base = rule.nonTarget(cos);
    const cy = tf.sum(tf.mul(cos, y), 1) as tf.Tensor1D;
    const by = tf.sum(tf.mul(base, y), 1);
    const logits = tf.mul(tf.add(base, tf.mul(y, tf.expandDims(tf.sub(rule.target(cy), by), 1))), s) as tf.Tensor2D;
    return {
      xhat,
      y,
      logits,
      rowMax: tf.max(logits, 1) as tf.Tensor1D,
      targetLogit: tf.sum(tf.mul(logits, y), 1) as tf.Tensor1D,
    };
  });
  const { xhat, y, logits, rowMax, targetLogit } = out;
  return { state: { xhat, y, logits, shifted: null }, rowMax, targetLogit };
}

/** Second reduction: Σ_j exp(ℓ_ij − M_i) over the shard's classes, given the global row max M. */
export function marginSumExp(state: MarginState, globalMax: tf.Tensor1D): tf.Tensor1D {
  const shifted = tf.tidy(() => tf.exp(tf.sub(state.logits, tf.expandDims(globalMax, 1))) as tf.Tensor2D);
  state.shifted?.dispose();
  state.shifted = shifted;
  return tf.tidy(() => tf.sum(shifted, 1) as tf.Tensor1D);
}

/**
 * Backward, given the global S: p = exp(ℓ − M)/S, dL/dc = s·(p − Y)/B (OpenSphere's detached-margin form),
 * dL/dW_r = x̂ᵀ·dc and this shard's share of dL/dx through the row normalisation.
 */
export function marginBackward(
  state: MarginState,
  x: tf.Tensor2D,
  weight: tf.Tensor2D,
  globalSumExp: tf.Tensor1D,
  s: number,
): { gradX: tf.Tensor2D; gradW: tf.Tensor2D } {
  if (!state.shifted) throw new Error("marginBackward: call marginSumExp first");
  const shifted = state.shifted;
  return tf.tidy(() => {
    const batch = x.shape[0];
    const p = tf.div(shifted, tf.expandDims(globalSumExp, 1));
    const dc = tf.mul(tf.sub(p, state.y), s / batch) as tf.Tensor2D;
    const gradW = tf.matMul(state.xhat, dc, true, false) as tf.Tensor2D;
    const dxhat = tf.matMul(dc, weight, false, true);
    const gradX = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(normalizeRows(xx as tf.Tensor2D), dxhat)))(x) as tf.Tensor2D;
    return { gradX, gradW };
  });
}

/** Frees a {@link MarginState}. */
export function disposeMarginState(state: MarginState): void {
  tf.dispose([state.xhat, state.y, state.logits, ...(state.shifted ? [state.shifted] : [])]);
  state.shifted = null;
}

/**
 * The softmax-family loss from the three reduced rows: L = mean_i (M_i + log S_i − ℓ_{i,y_i}), i.e. −mean log p_y
 * (Partial FC all-reduces p_y itself; the target logit is the same B numbers and stays exact when p_y underflows).
 */
export function marginLoss(rowMax: Float32Array, sumExp: Float32Array, targetLogit: Float32Array): number {
  let total = 0;
  for (let i = 0; i < rowMax.length; i++) total += rowMax[i] + Math.log(sumExp[i]) - targetLogit[i];
  return total / rowMax.length;
}

/** SphereFace2 over a block stored in column chunks (see {@link sphereface2Blocks}). */
export interface ChunkedShardResult {
  loss: tf.Scalar;
  gradX: tf.Tensor2D;
  gradBias: tf.Tensor1D;
}

/**
 * {@link sphereface2Shard} over the block W_r = [W_r,0 | W_r,1 | …], stored as one variable per column chunk
 * (`chunkSizes` in `partition.ts`), one chunk after the other. Exact, because the loss is a sum of per-class terms
 * with the global scale lw/(r·B): chunk losses, feature gradients and bias gradients add up, and each chunk's
 * dL/dW columns are final and touch no other chunk. So with `lr` ≠ 0 each chunk is updated in place
 * (Ŵ_j ← Ŵ_j − lr·dL/dŴ_j) right after its gradient, and the peak memory is the stored block plus one chunk's
 * activations (about twenty B×c float32 tensors inside the loss) and its gradient. One chunk holding the whole
 * block is the unsharded head's computation. The softmax family cannot do this without the two-pass normaliser.
 */
export function sphereface2Blocks(
  x: tf.Tensor2D,
  localLabels: Int32Array,
  blocks: readonly tf.Variable<tf.Rank.R2>[],
  bias: tf.Tensor1D,
  p: SphereFace2Params,
  lr: number,
): ChunkedShardResult {
  let loss = tf.scalar(0);
  let gradX = tf.zerosLike(x) as tf.Tensor2D;
  let gradBias = tf.zeros([1]) as tf.Tensor1D;
  const add = <T extends tf.Tensor>(acc: T, t: T): T => {
    const next = tf.add(acc, t) as T;
    tf.dispose([acc, t]);
    return next;
  };
  let start = 0;
  for (const block of blocks) {
    const size = block.shape[1];
    const end = start + size;
    const labels = tf.tensor1d(localLabels.map((y) => (y >= start && y < end ? y - start : -1)), "int32");
    const g = sphereface2Shard(x, labels, block, bias, p);
    loss = add(loss, g.loss);
    gradX = add(gradX, g.gradX);
    gradBias = add(gradBias, g.gradBias!);
    if (lr !== 0) {
      const next = tf.tidy(() => tf.sub(block, tf.mul(g.gradW, lr)) as tf.Tensor2D);
      block.assign(next);
      next.dispose();
    }
    tf.dispose([labels, g.gradW]);
    start = end;
  }
  return { loss, gradX, gradBias };
}
