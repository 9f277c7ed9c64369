/**
 * The multi-class baselines of the paper's comparison, as OpenSphere defines them (`shared/notes/opensphere.md` §2):
 * Softmax (with per-class bias), NormFace/CocoLoss, SphereFace (A-Softmax), CosFace and ArcFace. All use
 * cross-entropy with a mean over the batch.
 *
 * The margin heads compute logits s·ψ(c) where only the target's ψ carries the margin, and — like OpenSphere,
 * which adds the margin as a detached shift `cos + (ψ − cos)` — back-propagate as if the logits were s·c:
 * dL/dc = s·(softmax(logits) − Y)/B. The value uses the clipped cosine, the gradient the unclipped one.
 *
 * @example
 * ```ts
 * import { arcfaceTarget } from "./softmax_family.ts";
 * arcfaceTarget(Math.cos(1), 0.5); // cos(1.5)
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ArcFaceConfig, CosFaceConfig, NormFaceConfig, SoftmaxConfig, SphereFaceConfig } from "./config.ts";
import { fusedLoss, MARGIN_FUSED_KERNEL, type MarginKernelParams } from "../backend/head_kernels.ts";
import { BaseHead, cosines, type HeadDetails, oneHotFloat, xavierNormal } from "./head.ts";

/** OpenSphere's clip of cos before acos in SphereFace and ArcFace. */
const COS_CLIP = 1e-5;
/** ArcFace's clip of θ after the margin. */
const THETA_MIN = 1e-5;
const THETA_MAX = 3.14159;

// ---------------------------------------------------------------------------------------------------------
// Scalar target transforms ψ(c) (pure, for analyses)

/** SphereFace's ψ(θ) = (−1)^k cos(mθ) − 2k with k = ⌊mθ/π⌋, a monotone extension of cos(mθ) to [0, π]. */
export function spherefaceTarget(c: number, m: number): number {
  const theta = Math.acos(Math.min(Math.max(c, -1 + COS_CLIP), 1 - COS_CLIP));
  const mt = m * theta;
  const k = Math.floor(mt / Math.PI);
  return (k % 2 === 0 ? 1 : -1) * Math.cos(mt) - 2 * k;
}

/** CosFace's target logit before scaling: c − m. */
export function cosfaceTarget(c: number, m: number): number {
  return c - m;
}

/** ArcFace's target: cos(θ + m), θ + m clipped to [1e-5, 3.14159] (no easy-margin fallback). */
export function arcfaceTarget(c: number, m: number): number {
  const theta = Math.acos(Math.min(Math.max(c, -1 + COS_CLIP), 1 - COS_CLIP));
  return Math.cos(Math.min(Math.max(theta + m, THETA_MIN), THETA_MAX));
}

// ---------------------------------------------------------------------------------------------------------
// Tensor heads

/** How a margin head turns cosines into logits/s: the non-target transform and the target one. */
interface MarginRule {
  nonTarget(cos: tf.Tensor2D): tf.Tensor2D;
  target(cy: tf.Tensor1D): tf.Tensor1D;
}

function marginLogits(cos: tf.Tensor2D, y: tf.Tensor2D, s: number, rule: MarginRule): tf.Tensor2D {
  return tf.tidy(() => {
    const base = rule.nonTarget(cos);
    const cy = tf.sum(tf.mul(cos, y), 1) as tf.Tensor1D;
    const by = tf.sum(tf.mul(base, y), 1);
    const psi = tf.add(base, tf.mul(y, tf.expandDims(tf.sub(rule.target(cy), by), 1)));
    return tf.mul(psi, s) as tf.Tensor2D;
  });
}

/** Per-sample cross-entropy −log softmax(logits)_y. */
function crossEntropyRows(logits: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), y), 1)) as tf.Tensor1D);
}

/** Cross-entropy over margin logits with OpenSphere's detached-margin gradient dL/dc = s(p − Y)/B. */
export function marginLossFromCos(
  cos: tf.Tensor2D,
  labels: tf.Tensor1D,
  s: number,
  rule: MarginRule,
): tf.Scalar {
  const numClasses = cos.shape[1];
  const fn = tf.customGrad(
    ((c: tf.Tensor, save: tf.GradSaveFunc) => {
      const [value, dc] = tf.tidy(() => {
        const y = oneHotFloat(labels, numClasses);
        const logits = marginLogits(c as tf.Tensor2D, y, s, rule);
        const loss = tf.mean(crossEntropyRows(logits, y));
        const grad = tf.mul(tf.sub(tf.softmax(logits), y), s / c.shape[0]);
        return [loss, grad];
      });
      save([dc]);
      return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(saved[0], dy)] };
    }) as Parameters<typeof tf.customGrad>[0],
  );
  return fn(cos) as tf.Scalar;
}

const clipCos = (c: tf.Tensor2D | tf.Tensor1D) => tf.clipByValue(c, -1 + COS_CLIP, 1 - COS_CLIP);

/** Margin rules of the four normalised baselines. */
export const MARGIN_RULES = {
  normface: (): MarginRule => ({ nonTarget: (c) => c.clone(), target: (cy) => cy.clone() }),
  cosface: (m: number): MarginRule => ({
    nonTarget: (c) => c.clone(),
    target: (cy) => tf.sub(cy, m) as tf.Tensor1D,
  }),
  sphereface: (m: number): MarginRule => ({
    // For θ ∈ [0, π) k = 0, so non-targets are cos(acos(clip c)) = clip c.
    nonTarget: (c) => clipCos(c) as tf.Tensor2D,
    target: (cy) =>
      tf.tidy(() => {
        const mt = tf.mul(tf.acos(clipCos(cy)), m);
        const k = tf.floor(tf.div(mt, Math.PI));
        const sign = tf.sub(1, tf.mul(tf.mod(k, 2), 2));
        return tf.sub(tf.mul(sign, tf.cos(mt)), tf.mul(k, 2)) as tf.Tensor1D;
      }),
  }),
  arcface: (m: number): MarginRule => ({
    // Non-targets: cos(clip θ) with θ = acos(clip c) is one clip of c.
    nonTarget: (c) =>
      tf.clipByValue(
        c,
        Math.max(-1 + COS_CLIP, Math.cos(THETA_MAX)),
        Math.min(1 - COS_CLIP, Math.cos(THETA_MIN)),
      ) as tf.Tensor2D,
    target: (cy) =>
      tf.tidy(() => tf.cos(tf.clipByValue(tf.add(tf.acos(clipCos(cy)), m), THETA_MIN, THETA_MAX)) as tf.Tensor1D),
  }),
};

/** The numbers of a margin head for the fused kernel: its kind, s, m and the non-target clip of each rule above. */
export function marginKernelParams(config: MarginConfig): MarginKernelParams {
  const s = config.s;
  switch (config.type) {
    case "normface":
      return { kind: 0, s, m: 0, lo: -Infinity, hi: Infinity };
    case "cosface":
      return { kind: 1, s, m: config.m, lo: -Infinity, hi: Infinity };
    case "sphereface":
      return { kind: 2, s, m: config.m, lo: -1 + COS_CLIP, hi: 1 - COS_CLIP };
    case "arcface":
      return {
        kind: 3,
        s,
        m: config.m,
        lo: Math.max(-1 + COS_CLIP, Math.cos(THETA_MAX)),
        hi: Math.min(1 - COS_CLIP, Math.cos(THETA_MIN)),
      };
  }
}

/**
 * The loss of {@link marginLossFromCos} over {@link cosines}, with dL/dx and dL/dW, from the fused native kernel
 * (lib/backend/head_kernels.ts): the cosines are held once (B×K), the softmax gradient written over them in place.
 */
export function marginFusedLoss(
  x: tf.Tensor2D,
  weight: tf.Tensor2D,
  labels: tf.Tensor1D,
  p: MarginKernelParams,
): tf.Scalar {
  const int = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
  try {
    return fusedLoss(MARGIN_FUSED_KERNEL, ["x", "weight"], [x, weight], { labels: int }, p as never);
  } finally {
    if (int !== labels) int.dispose();
  }
}

type MarginConfig = NormFaceConfig | SphereFaceConfig | CosFaceConfig | ArcFaceConfig;

function ruleFor(config: MarginConfig): MarginRule {
  switch (config.type) {
    case "normface":
      return MARGIN_RULES.normface();
    case "cosface":
      return MARGIN_RULES.cosface(config.m);
    case "sphereface":
      return MARGIN_RULES.sphereface(config.m);
    case "arcface":
      return MARGIN_RULES.arcface(config.m);
  }
}

/** NormFace/CocoLoss, SphereFace, CosFace, ArcFace: normalised W (d×K), no bias, logits s·ψ(c). */
export class MarginSoftmaxHead extends BaseHead {
  readonly type: MarginConfig["type"];
  readonly normalizesWeight = true;
  private readonly rule: MarginRule;

  constructor(readonly config: MarginConfig, featDim: number, numClasses: number, seed?: number) {
    super(featDim, numClasses, { weight: xavierNormal(featDim, numClasses, seed), bias: null, name: config.type });
    this.type = config.type;
    this.rule = ruleFor(config);
  }

  lossOf(x: tf.Tensor2D, labels: tf.Tensor1D, weight: tf.Tensor2D): tf.Scalar {
    if (tf.getKernel(MARGIN_FUSED_KERNEL, tf.getBackend()) !== undefined) {
      return marginFusedLoss(x, weight, labels, marginKernelParams(this.config));
    }
    return tf.tidy(() => marginLossFromCos(cosines(x, weight), labels, this.config.s, this.rule));
  }

  inspect(x: tf.Tensor2D, labels: tf.Tensor1D): HeadDetails {
    return tf.tidy(() => {
      this.prepare();
      const cos = cosines(x, this.weight);
      const y = oneHotFloat(labels, this.numClasses);
      const logits = marginLogits(cos, y, this.config.s, this.rule);
      const targetLoss = crossEntropyRows(logits, y);
      return {
        cos,
        logits,
        targetLoss,
        nonTargetLoss: tf.zerosLike(targetLoss),
        loss: tf.mean(targetLoss) as tf.Scalar,
      };
    });
  }
}

/** Plain softmax cross-entropy on xW + b: no normalisation anywhere, per-class bias initialised to 0. */
export class SoftmaxHead extends BaseHead {
  readonly type = "softmax";
  readonly normalizesWeight = false;

  constructor(readonly config: SoftmaxConfig, featDim: number, numClasses: number, seed?: number) {
    super(featDim, numClasses, {
      weight: xavierNormal(featDim, numClasses, seed),
      bias: config.bias ? tf.zeros([numClasses]) as tf.Tensor1D : null,
      name: "softmax",
    });
  }

  private logits(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor2D {
    return tf.tidy(() => {
      const xw = tf.matMul(x, weight);
      return (bias ? tf.add(xw, bias) : xw) as tf.Tensor2D;
    });
  }

  lossOf(x: tf.Tensor2D, labels: tf.Tensor1D, weight: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Scalar {
    return tf.tidy(() => {
      const y = oneHotFloat(labels, this.numClasses);
      return tf.mean(crossEntropyRows(this.logits(x, weight, bias), y));
    });
  }

  inspect(x: tf.Tensor2D, labels: tf.Tensor1D): HeadDetails {
    return tf.tidy(() => {
      const y = oneHotFloat(labels, this.numClasses);
      const logits = this.logits(x, this.weight, this.bias);
      const targetLoss = crossEntropyRows(logits, y);
      return {
        cos: tf.matMul(x, this.weight) as tf.Tensor2D,
        logits,
        targetLoss,
        nonTargetLoss: tf.zerosLike(targetLoss),
        loss: tf.mean(targetLoss) as tf.Scalar,
      };
    });
  }
}
