/**
 * Analytic geometry of SphereFace2 for notebooks 02 and 03 (pure float64 maths, no tensors): how ∂L/∂b
 * balances the target pull against the K − 1 non-target pushes (which fixes b₀), and where the decision
 * boundaries on cos θ sit as functions of m and t.
 *
 * @example
 * ```ts
 * import { biasDerivativeCurve, boundaryGrid } from "./geometry.ts";
 * biasDerivativeCurve({ numClasses: 8631 }).find((r) => r.isB0); // the zero crossing
 * boundaryGrid([0.2, 0.4], [1, 3]); // target / non-target boundary per (m, t) at b₀
 * ```
 * @module
 */
import { biasAnchors, initialBias, sigmoid } from "../losses/sphereface2.ts";
import { decisionCos, type SphereFace2Overrides, sphereface2Params, VGGFACE2_CLASSES } from "./loss_terms.ts";

/** One point of ∂L/∂b at c = 0 as a function of b. */
export interface BiasDerivativeRow {
  b: number;
  /** λ(1 − σ(a_y + b)): the target term pulling b up. */
  pull: number;
  /** (1 − λ)(K − 1)σ(a_i + b): the K − 1 non-target terms pushing b down. */
  push: number;
  /** (r/lw)·B·∂L/∂b = push − pull (zero at b₀). */
  derivative: number;
  /** Whether this row is b₀ itself (inserted into the grid). */
  isB0: boolean;
}

export interface BiasDerivativeOptions extends SphereFace2Overrides {
  numClasses?: number;
  /** Grid half-width around b₀ (default 15) and its points (default 121). */
  span?: number;
  points?: number;
}

/** ∂L/∂b (per sample, without the lw/r factor) at c = 0 over b ∈ b₀ ± span, with b₀ included exactly. */
export function biasDerivativeCurve(options: BiasDerivativeOptions = {}): BiasDerivativeRow[] {
  const { numClasses = VGGFACE2_CLASSES, span = 15, points = 121, ...overrides } = options;
  const p = sphereface2Params(overrides);
  const b0 = initialBias(p, numClasses);
  const { ay, ai } = biasAnchors(p);
  const row = (b: number, isB0: boolean): BiasDerivativeRow => {
    const pull = p.lambda * (1 - sigmoid(ay + b));
    const push = (1 - p.lambda) * (numClasses - 1) * sigmoid(ai + b);
    return { b, pull, push, derivative: push - pull, isB0 };
  };
  const grid = Array.from({ length: points }, (_, i) => b0 - span + (2 * span * i) / (points - 1));
  return [...grid.map((b) => row(b, false)), row(b0, true)].sort((a, b) => a.b - b.b);
}

/** Decision boundaries of variant C at its b₀ for one (m, t). */
export interface BoundaryRow {
  m: number;
  t: number;
  b0: number;
  /** cos θ where the target logit r(g(cos) − m) + b₀ crosses 0 (null: none in [−1, 1]). */
  targetCos: number | null;
  /** cos θ where a non-target logit r(g(cos) + m) + b₀ crosses 0. */
  nonTargetCos: number | null;
  /** targetCos − nonTargetCos: the margin in cosine units (in g-space it is always 2m). */
  gap: number | null;
}

/** Boundaries of SphereFace2-C over a grid of margins and exponents (other settings: the paper's). */
export function boundaryGrid(
  margins: readonly number[],
  ts: readonly number[],
  options: SphereFace2Overrides & { numClasses?: number } = {},
): BoundaryRow[] {
  const { numClasses = VGGFACE2_CLASSES, ...overrides } = options;
  return ts.flatMap((t) =>
    margins.map((m) => {
      const p = sphereface2Params({ ...overrides, variant: "C", m, t });
      const b0 = initialBias(p, numClasses);
      const targetCos = decisionCos(p, b0, "target");
      const nonTargetCos = decisionCos(p, b0, "nonTarget");
      return {
        m,
        t,
        b0,
        targetCos,
        nonTargetCos,
        gap: targetCos === null || nonTargetCos === null ? null : targetCos - nonTargetCos,
      };
    })
  );
}
