/**
 * SphereFace2: K independent binary (one-vs-all) classifiers on the hypersphere with one shared bias
 * (Wen et al., ICLR 2022), implemented to match OpenSphere's heads value for value (shared/vectors/heads.json).
 *
 * With c_ij = x̂_i·ŵ_j, the adjusted similarity s_ij (variant C/A/M, below), logits z_ij = r·s_ij + b and
 * one-hot Y, the loss is OpenSphere's weighted binary cross-entropy
 *
 *   L = lw/(r·B) · Σ_i [ λ·softplus(−z_{i,y_i}) + (1−λ)·Σ_{j≠y_i} softplus(z_ij) ]          (paper eq. 6, scaled)
 *
 * The pure scalar functions ({@link g}, {@link targetSimilarity}, {@link initialBias}, {@link termValues}) state
 * the maths for notebooks and reports; {@link SphereFace2Head} is the batched tensor version used in training.
 *
 * @example
 * ```ts
 * import { initialBias } from "./sphereface2.ts";
 * import { parseHeadConfig } from "./config.ts";
 * const cfg = parseHeadConfig({ type: "sphereface2" });
 * initialBias(cfg as never, 8631); // ≈ 5.78457 (C, r 40, t 3, λ 0.7, m 0.4)
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedHeadKernelsActive, fusedLoss, SF2_FUSED_KERNEL, type Sf2FusedAttrs } from "../backend/head_kernels.ts";
import type { SphereFace2Config } from "./config.ts";
import { BaseHead, cosines, type HeadDetails, oneHotFloat, xavierNormal } from "./head.ts";

/** The parameters the maths needs (a parsed {@link SphereFace2Config} satisfies it). */
export type SphereFace2Params = Pick<
  SphereFace2Config,
  "variant" | "lambda" | "r" | "m" | "t" | "lw" | "gradForm" | "angleEps" | "angleMax"
>;

// ---------------------------------------------------------------------------------------------------------
// Scalar maths

/**
 * The similarity adjustment g(z) = 2((z+1)/2)^t − 1 (paper eq. 9): monotone, maps [−1, 1] onto itself, and
 * for t > 1 pushes cosines down so that the decision threshold sits at a higher cos θ.
 */
export function g(z: number, t: number): number {
  return 2 * Math.pow(Math.max((z + 1) / 2, 0), t) - 1;
}

/** g'(z) = t·((z+1)/2)^(t−1). */
export function gPrime(z: number, t: number): number {
  return t * Math.pow(Math.max((z + 1) / 2, 0), t - 1);
}

/**
 * The cosine range that A/M leave after OpenSphere's clips: cos is clipped to [−1+ε, 1−ε] before acos and θ to
 * [ε, angleMax] after the margin; for a non-target (no margin) both clips together equal one clip of cos.
 */
export function clipRange(p: Pick<SphereFace2Params, "angleEps" | "angleMax">): [number, number] {
  return [Math.max(-1 + p.angleEps, Math.cos(p.angleMax)), Math.min(1 - p.angleEps, Math.cos(p.angleEps))];
}

/** Target similarity s_y from the target cosine: C g(c) − m; A g(cos(θ+m)); M g(cos(m·θ)). */
export function targetSimilarity(c: number, p: SphereFace2Params): number {
  if (p.variant === "C") return g(c, p.t) - p.m;
  const theta = Math.acos(Math.min(Math.max(c, -1 + p.angleEps), 1 - p.angleEps));
  const shifted = p.variant === "A" ? theta + p.m : theta * p.m;
  return g(Math.cos(Math.min(Math.max(shifted, p.angleEps), p.angleMax)), p.t);
}

/** Non-target similarity s_j: C g(c) + m; A and M put no margin on negatives (only the clip). */
export function nonTargetSimilarity(c: number, p: SphereFace2Params): number {
  if (p.variant === "C") return g(c, p.t) + p.m;
  const [lo, hi] = clipRange(p);
  return g(Math.min(Math.max(c, lo), hi), p.t);
}

/** Numerically stable softplus log(1 + eᵘ) = max(u, 0) + log1p(e^−|u|): no overflow for |u| in the hundreds. */
export function softplus(u: number): number {
  return Math.max(u, 0) + Math.log1p(Math.exp(-Math.abs(u)));
}

/** Logistic σ(u), stable for large |u|. */
export function sigmoid(u: number): number {
  if (u >= 0) return 1 / (1 + Math.exp(-u));
  const e = Math.exp(u);
  return e / (1 + e);
}

/**
 * The closed-form initial bias b₀ (OpenSphere, all branches): the b at which ∂L/∂b = 0 when every cosine is 0,
 * i.e. the solution of λ(1 − σ(a_y + b)) = (1 − λ)(K − 1)σ(a_i + b) with a_y = r·s_y(0), a_i = r·s_i(0):
 *
 *   b₀ = log(2ζ) − a_i − log(1 − ζ + √((1 − ζ)² + 4ζ·e^{a_y − a_i})),   ζ = λ / ((1 − λ)(K − 1)).
 *
 * When ζ > 1 (few classes, large λ) the last term is evaluated as 4ζe^{a_y−a_i} / (√(…) − (1 − ζ)) to avoid
 * cancellation. Computed in float64; a float32 head stores it rounded.
 */
export function initialBias(p: SphereFace2Params, numClasses: number): number {
  if (!(numClasses >= 2)) throw new Error(`initialBias: numClasses must be ≥ 2, got ${numClasses}`);
  const { ay, ai } = biasAnchors(p);
  const zeta = p.lambda / ((1 - p.lambda) * (numClasses - 1));
  const q = 4 * zeta * Math.exp(ay - ai);
  const root = Math.sqrt((1 - zeta) * (1 - zeta) + q);
  const denom = 1 - zeta >= 0 ? 1 - zeta + root : q / (root - (1 - zeta));
  return Math.log(2 * zeta) - ai - Math.log(denom);
}

/**
 * The pair-verification threshold a trained head implies. At test time there is no margin: a face belongs to a class
 * iff r·g(cos θ) + b > 0, the same boundary for every class because b is shared (the paper's "universal threshold"):
 *
 *   cos* = g⁻¹(−b/r) = 2·((1 − b/r)/2)^{1/t} − 1,   clamped to [−1, 1].
 *
 * Two faces are taken for the same identity when the cosine of their embeddings exceeds cos*.
 */
export function verificationThreshold(p: Pick<SphereFace2Params, "r" | "t">, bias: number): number {
  const u = (1 - bias / p.r) / 2;
  if (u <= 0) return -1;
  return Math.min(1, Math.max(-1, 2 * Math.pow(u, 1 / p.t) - 1));
}

/** a_y = r·s_y and a_i = r·s_i at c = 0 (θ = π/2), the anchors of {@link initialBias}. */
export function biasAnchors(p: SphereFace2Params): { ay: number; ai: number } {
  const base = Math.pow(2, 1 - p.t) - 1; // g(0)
  switch (p.variant) {
    case "C":
      return { ay: p.r * (base - p.m), ai: p.r * (base + p.m) };
    case "A":
      return { ay: p.r * g(Math.cos(Math.min(Math.PI, Math.PI / 2 + p.m)), p.t), ai: p.r * base };
    case "M":
      return { ay: p.r * g(Math.cos(Math.min(Math.PI, p.m * Math.PI / 2)), p.t), ai: p.r * base };
  }
}

/** Loss and gradient of one binary term at a given cosine, for analyses (notebooks, reports). */
export interface TermValues {
  /** Adjusted similarity s. */
  similarity: number;
  /** Logit z = r·s + b. */
  logit: number;
  /** This term's contribution to L per sample (times B): (lw/r)·λ·softplus(−z) or (lw/r)·(1−λ)·softplus(z). */
  loss: number;
  /** d(loss)/dcos in the configured gradient form (detached: lw·w'·(σ(z) − y); through-g: times g'(c)). */
  dLossDcos: number;
}

/** The target (positive) and one non-target (negative) term as functions of their cosine. */
export function termValues(
  c: number,
  p: SphereFace2Params,
  bias: number,
  kind: "target" | "nonTarget",
): TermValues {
  const isTarget = kind === "target";
  const similarity = isTarget ? targetSimilarity(c, p) : nonTargetSimilarity(c, p);
  const logit = p.r * similarity + bias;
  const weight = isTarget ? p.lambda : 1 - p.lambda;
  const loss = (p.lw / p.r) * weight * softplus(isTarget ? -logit : logit);
  const dLossDz = (p.lw / p.r) * weight * (sigmoid(logit) - (isTarget ? 1 : 0));
  const chain = p.gradForm === "through-g" ? p.r * gPrime(c, p.t) : p.r;
  return { similarity, logit, loss, dLossDcos: chain * dLossDz };
}

// ---------------------------------------------------------------------------------------------------------
// Tensor maths

/**
 * uᵗ elementwise. Small integer exponents (the paper's t ∈ {1…5}) use repeated multiplication: wasm's Pow
 * calls powf per element and cost 36 ms of a 760 ms head step at B 256, K 10,000.
 */
function powTensor(u: tf.Tensor, t: number): tf.Tensor {
  if (!Number.isInteger(t) || t < 0 || t > 8) return tf.pow(u, t);
  return tf.tidy(() => {
    let result: tf.Tensor | null = null;
    let square = u;
    for (let e = t; e > 0; e >>= 1) {
      if (e & 1) result = result ? tf.mul(result, square) : square;
      if (e > 1) square = tf.mul(square, square);
    }
    return result ? (result === u ? u.clone() : result) : tf.onesLike(u);
  });
}

/** g applied elementwise; the base is clamped at 0 so that float32 cosines a hair below −1 stay finite. */
export function gTensor(c: tf.Tensor, t: number): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.mul(2, powTensor(tf.relu(tf.mul(tf.add(c, 1), 0.5)), t)), 1));
}

/** g' applied elementwise. */
export function gPrimeTensor(c: tf.Tensor, t: number): tf.Tensor {
  return tf.tidy(() => tf.mul(t, powTensor(tf.relu(tf.mul(tf.add(c, 1), 0.5)), t - 1)));
}

/** Stable softplus: relu(u) + log1p(exp(−|u|)). */
export function softplusTensor(u: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.relu(u), tf.log1p(tf.exp(tf.neg(tf.abs(u))))));
}

/**
 * The adjusted similarities s (B×K) from cosines and the one-hot labels. The target column is computed on the
 * B target cosines only (acos/cos for A and M), the rest with one elementwise pass.
 */
export function similarityTensor(cos: tf.Tensor2D, y: tf.Tensor2D, p: SphereFace2Params): tf.Tensor2D {
  return tf.tidy(() => {
    if (p.variant === "C") {
      // g(c) + m everywhere, − 2m on the target.
      return tf.add(gTensor(cos, p.t), tf.sub(p.m, tf.mul(y, 2 * p.m))) as tf.Tensor2D;
    }
    const [lo, hi] = clipRange(p);
    const nonTarget = gTensor(tf.clipByValue(cos, lo, hi), p.t);
    const cy = tf.sum(tf.mul(cos, y), 1);
    const theta = tf.acos(tf.clipByValue(cy, -1 + p.angleEps, 1 - p.angleEps));
    const shifted = p.variant === "A" ? tf.add(theta, p.m) : tf.mul(theta, p.m);
    const sy = gTensor(tf.cos(tf.clipByValue(shifted, p.angleEps, p.angleMax)), p.t);
    const syNonTarget = gTensor(tf.clipByValue(cy, lo, hi), p.t);
    return tf.add(nonTarget, tf.mul(y, tf.expandDims(tf.sub(sy, syNonTarget), 1))) as tf.Tensor2D;
  });
}

/** Per-element weights w' = λ on the target, 1 − λ elsewhere. */
function termWeights(y: tf.Tensor2D, lambda: number): tf.Tensor2D {
  return tf.tidy(() => tf.add(1 - lambda, tf.mul(y, 2 * lambda - 1)) as tf.Tensor2D);
}

/** Elementwise loss terms w'·softplus(±z), before the lw/(r·B) factor. */
function weightedTerms(z: tf.Tensor2D, y: tf.Tensor2D, weights: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const signed = tf.mul(z, tf.sub(1, tf.mul(y, 2))); // −z on the target, z elsewhere
    return tf.mul(weights, softplusTensor(signed)) as tf.Tensor2D;
  });
}

/** Sums per row first, so a float32 sum over K up to 10⁶ keeps its precision within each sample. */
function sumAll(t: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.sum(t, 1)));
}

/**
 * The loss as a function of cosines and bias, with OpenSphere's gradients supplied analytically:
 * dL/dz = lw/(r·B)·w'·(σ(z) − Y); dL/dc = r·dL/dz (detached) or r·g'(c)·dL/dz (through-g); dL/db = Σ dL/dz.
 * Writing the gradient out (rather than through autodiff with a stop-gradient) is both exact and one pass.
 */
export function sphereface2LossFromCos(
  cos: tf.Tensor2D,
  bias: tf.Tensor1D,
  labels: tf.Tensor1D,
  p: SphereFace2Params,
): tf.Scalar {
  const numClasses = cos.shape[1];
  const fn = tf.customGrad(
    ((c: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      const [value, dc, db] = tf.tidy(() => {
        const c2 = c as tf.Tensor2D;
        const batch = c2.shape[0];
        const y = oneHotFloat(labels, numClasses);
        const s = similarityTensor(c2, y, p);
        const z = tf.add(tf.mul(s, p.r), b) as tf.Tensor2D;
        const weights = termWeights(y, p.lambda);
        const scale = p.lw / (p.r * batch);
        const loss = tf.mul(sumAll(weightedTerms(z, y, weights)), scale);
        const dz = tf.mul(tf.mul(weights, tf.sub(tf.sigmoid(z), y)), scale);
        const dcTensor = p.gradForm === "through-g" ? tf.mul(dz, tf.mul(gPrimeTensor(c2, p.t), p.r)) : tf.mul(dz, p.r);
        return [loss, dcTensor, tf.reshape(sumAll(dz as tf.Tensor2D), [1])];
      });
      save([dc, db]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(saved[0], dy), tf.mul(saved[1], dy)],
      };
    }) as Parameters<typeof tf.customGrad>[0],
  );
  return fn(cos, bias) as tf.Scalar;
}

/**
 * The same loss and gradients as {@link sphereface2LossFromCos} over {@link cosines}, from the fused native kernel
 * (lib/backend/head_kernels.ts): one pass over blocks of classes that never holds the B×K matrix, with dL/dx,
 * dL/dW and dL/db computed alongside the loss and handed to autodiff as the custom gradient.
 */
export function sphereface2FusedLoss(
  x: tf.Tensor2D,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D,
  labels: tf.Tensor1D,
  p: SphereFace2Params,
): tf.Scalar {
  const [lo, hi] = clipRange(p);
  const attrs: Sf2FusedAttrs = {
    variant: ["C", "A", "M"].indexOf(p.variant),
    t: p.t,
    r: p.r,
    m: p.m,
    lambda: p.lambda,
    lw: p.lw,
    throughG: p.gradForm === "through-g" ? 1 : 0,
    angleEps: p.angleEps,
    angleMax: p.angleMax,
    lo,
    hi,
  };
  const int = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
  try {
    return fusedLoss(SF2_FUSED_KERNEL, ["x", "weight", "bias"], [x, weight, bias], { labels: int }, attrs as never);
  } finally {
    if (int !== labels) int.dispose();
  }
}

/** The SphereFace2 head: W (d×K, unit columns after `prepare`) and one shared scalar bias initialised to b₀. */
export class SphereFace2Head extends BaseHead {
  readonly type = "sphereface2";
  readonly normalizesWeight = true;

  constructor(
    readonly config: SphereFace2Config,
    featDim: number,
    numClasses: number,
    seed?: number,
  ) {
    super(featDim, numClasses, {
      weight: xavierNormal(featDim, numClasses, seed),
      bias: tf.tensor1d([initialBias(config, numClasses)]),
      name: "sphereface2",
    });
  }

  lossOf(x: tf.Tensor2D, labels: tf.Tensor1D, weight: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Scalar {
    if (!bias) throw new Error("SphereFace2 needs its bias");
    if (fusedHeadKernelsActive()) return sphereface2FusedLoss(x, weight, bias, labels, this.config);
    return tf.tidy(() => sphereface2LossFromCos(cosines(x, weight), bias, labels, this.config));
  }

  inspect(x: tf.Tensor2D, labels: tf.Tensor1D): HeadDetails {
    const p = this.config;
    return tf.tidy(() => {
      this.prepare();
      const cos = cosines(x, this.weight);
      const y = oneHotFloat(labels, this.numClasses);
      const z = tf.add(tf.mul(similarityTensor(cos, y, p), p.r), this.bias!) as tf.Tensor2D;
      const terms = tf.mul(weightedTerms(z, y, termWeights(y, p.lambda)), p.lw / p.r);
      const targetLoss = tf.sum(tf.mul(terms, y), 1) as tf.Tensor1D;
      const nonTargetLoss = tf.sum(tf.mul(terms, tf.sub(1, y)), 1) as tf.Tensor1D;
      const loss = tf.mean(tf.add(targetLoss, nonTargetLoss)) as tf.Scalar;
      return { cos, logits: z, targetLoss, nonTargetLoss, loss };
    });
  }
}
