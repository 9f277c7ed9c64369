/**
 * The one interface every classification head implements, and the weight handling they share.
 *
 * Conventions, as in OpenSphere (`shared/notes/opensphere.md` §1–2):
 * - `x` is the raw B×d embedding; heads that work on the sphere normalise it *inside* the graph, so dL/dx
 *   includes the projection (I − x̂x̂ᵀ)/‖x‖.
 * - `W` is d×K (column k = class centre k). Normalised heads use it with unit columns: {@link Head.prepare}
 *   re-normalises the stored variable outside the gradient before each forward pass, so dL/dW is taken with
 *   respect to the normalised W with no normalisation Jacobian, exactly like OpenSphere's in-place
 *   `w.data = F.normalize(w.data)`. SGD and weight decay then move W off the sphere until the next `prepare`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { parseHeadConfig } from "./config.ts";
 * import { createHead } from "./registry.ts";
 * import { headGradients } from "./head.ts";
 * const head = createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: 4, numClasses: 3, seed: 1 });
 * const x = tf.randomNormal([2, 4]) as tf.Tensor2D;
 * const g = headGradients(head, x, tf.tensor1d([0, 2], "int32"));
 * console.log(g.loss.dataSync()[0], g.gradX.shape);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { NORMALIZE_COLUMNS_KERNEL } from "../backend/head_kernels.ts";

/** Values a head exposes for analysis (notebooks, reports); all tensors are owned by the caller. */
export interface HeadDetails {
  /** B×K cosines x̂·ŵ_k (for softmax: the raw logits' inner products). */
  cos: tf.Tensor2D;
  /** B×K logits fed to the loss (SphereFace2: z = r·s + b; CE heads: s·ψ). */
  logits: tf.Tensor2D;
  /** Per-sample loss on the target term (SphereFace2: λ·softplus(−z_y)·lw/r; CE: −log p_y). */
  targetLoss: tf.Tensor1D;
  /** Per-sample loss of the non-target terms (SphereFace2 only; zero for CE heads). */
  nonTargetLoss: tf.Tensor1D;
  /** The batch loss, as {@link Head.loss} returns it. */
  loss: tf.Scalar;
}

/** A loss head: classifier weights plus the loss on top of the embedding. */
export interface Head {
  /** Registry name, e.g. `sphereface2`, `arcface`. */
  readonly type: string;
  /** Embedding size d. */
  readonly featDim: number;
  /** Number of classes K. */
  readonly numClasses: number;
  /** Class centres, d×K. */
  readonly weight: tf.Variable<tf.Rank.R2>;
  /** Bias: shared scalar ([1]) for SphereFace2, per class ([K]) for Softmax, absent otherwise. */
  readonly bias: tf.Variable<tf.Rank.R1> | null;
  /** Whether {@link prepare} re-normalises W (false only for Softmax). */
  readonly normalizesWeight: boolean;
  /** The trainable variables, W first. */
  trainables(): tf.Variable[];
  /** Re-normalises W's columns in place, outside any gradient; call before every forward pass. */
  prepare(): void;
  /**
   * The batch loss as a differentiable function of explicit tensors, so gradients can be taken with respect
   * to x, W and b alike. `labels` are int32 class indices.
   */
  lossOf(x: tf.Tensor2D, labels: tf.Tensor1D, weight: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Scalar;
  /** The batch loss with the head's own variables (use inside `tf.variableGrads`). */
  loss(x: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar;
  /** Cosines, logits and per-term losses, for analysis; not differentiable. */
  inspect(x: tf.Tensor2D, labels: tf.Tensor1D): HeadDetails;
  /** Frees the variables. */
  dispose(): void;
}

/** Initial weight values: xavier-normal, std √(2/(d+K)), as OpenSphere's `nn.init.xavier_normal_`. */
export function xavierNormal(featDim: number, numClasses: number, seed?: number): tf.Tensor2D {
  const std = Math.sqrt(2 / (featDim + numClasses));
  return tf.randomNormal([featDim, numClasses], 0, std, "float32", seed) as tf.Tensor2D;
}

/** Rows of x divided by max(‖x‖, 1e-12), differentiably (torch's `F.normalize`). */
export function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12);
    return tf.div(x, norm) as tf.Tensor2D;
  });
}

/** Columns of W divided by max(‖w‖, 1e-12). */
export function normalizeColumns(w: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(w), 0, true)), 1e-12);
    return tf.div(w, norm) as tf.Tensor2D;
  });
}

/** B×K cosines between the rows of x (normalised in the graph) and W's columns (used as given). */
export function cosines(x: tf.Tensor2D, weight: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(normalizeRows(x), weight));
}

/** Float one-hot of int labels, B×K. */
export function oneHotFloat(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(labels, "int32"), numClasses), "float32") as tf.Tensor2D);
}

/** State shared by every head: the variables and their normalisation. */
export abstract class BaseHead implements Head {
  abstract readonly type: string;
  abstract readonly normalizesWeight: boolean;
  readonly weight: tf.Variable<tf.Rank.R2>;
  readonly bias: tf.Variable<tf.Rank.R1> | null;

  constructor(
    readonly featDim: number,
    readonly numClasses: number,
    init: { weight: tf.Tensor2D; bias: tf.Tensor1D | null; name: string },
  ) {
    this.weight = tf.variable(init.weight, true, uniqueName(`${init.name}/W`));
    this.bias = init.bias ? tf.variable(init.bias, true, uniqueName(`${init.name}/b`)) : null;
    init.weight.dispose();
    init.bias?.dispose();
  }

  trainables(): tf.Variable[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  prepare(): void {
    if (!this.normalizesWeight) return;
    // The native kernel (lib/backend/head_kernels.ts) when registered for this backend: one threaded pass.
    const unit = tf.getKernel(NORMALIZE_COLUMNS_KERNEL, tf.getBackend()) !== undefined
      ? tf.engine().runKernel(NORMALIZE_COLUMNS_KERNEL, { x: this.weight }, {}) as tf.Tensor2D
      : normalizeColumns(this.weight);
    this.weight.assign(unit);
    unit.dispose();
  }

  abstract lossOf(
    x: tf.Tensor2D,
    labels: tf.Tensor1D,
    weight: tf.Tensor2D,
    bias: tf.Tensor1D | null,
  ): tf.Scalar;

  loss(x: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    return this.lossOf(x, labels, this.weight, this.bias);
  }

  abstract inspect(x: tf.Tensor2D, labels: tf.Tensor1D): HeadDetails;

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}

let nameCounter = 0;
/** tfjs variable names must be unique per process. */
function uniqueName(base: string): string {
  nameCounter += 1;
  return `${base}#${nameCounter}`;
}

/** Loss and gradients of a head for one batch, as plain tensors owned by the caller. */
export interface HeadGradients {
  loss: tf.Scalar;
  gradX: tf.Tensor2D;
  gradW: tf.Tensor2D;
  gradBias: tf.Tensor1D | null;
}

/**
 * One forward + backward pass of a head on a fixed batch, after {@link Head.prepare}: the loss and dL/dx,
 * dL/dW (with respect to the normalised W, as OpenSphere reports it) and dL/db.
 */
export function headGradients(head: Head, x: tf.Tensor2D, labels: tf.Tensor1D): HeadGradients {
  head.prepare();
  const bias = head.bias;
  const inputs: tf.Tensor[] = bias ? [x, head.weight, bias] : [x, head.weight];
  const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) =>
    head.lossOf(
      args[0] as tf.Tensor2D,
      labels,
      args[1] as tf.Tensor2D,
      bias ? args[2] as tf.Tensor1D : null,
    )
  )(inputs);
  return {
    loss: value,
    gradX: grads[0] as tf.Tensor2D,
    gradW: grads[1] as tf.Tensor2D,
    gradBias: bias ? grads[2] as tf.Tensor1D : null,
  };
}
