/**
 * The paper's loss analyses as data (no tensors): the initial bias b₀ for the paper's settings with its
 * stationarity check, the per-term loss and gradient curves over cos θ, the similarity adjustment g, and the
 * decision boundaries ("universal threshold") of the target and non-target classifiers.
 *
 * Every curve is evaluated at b = b₀ for its own setting (λ, r, m, t and K = 8631, VGGFace2), i.e. at
 * initialisation, where the paper argues about the shape of the loss. Loss values include OpenSphere's lw/r
 * factor (lw = 10 in the paper's configs), so they are the terms of the training loss as logged.
 *
 * All outputs are plain objects (rows such as `{series, term, cos, loss, grad}`), ready for JSON and Plot.
 *
 * @example
 * ```ts
 * import { initialBiasTable, lossAnalyses } from "./loss_terms.ts";
 * initialBiasTable()[0].b0; // ≈ 5.78457 (VGGFace2, SphereFace2-C)
 * const a = lossAnalyses({ points: 201 });
 * a.variants.filter((r) => r.series === "C" && r.term === "target").length; // 201
 * ```
 * @module
 */
import { parseHeadConfig, type SphereFace2Config, type SphereFace2Variant } from "../losses/config.ts";
import {
  biasAnchors,
  g,
  gPrime,
  initialBias,
  sigmoid,
  type SphereFace2Params,
  termValues,
} from "../losses/sphereface2.ts";

/** Identities in VGGFace2's training split, the K of every paper experiment. */
export const VGGFACE2_CLASSES = 8631;
/** Identities in MS1MV2 (MS1M-refine), the K of OpenSphere main's `ms1m_iresnet100_sphereface2`. */
export const MS1M_CLASSES = 85742;

/** The paper's settings (Sec. 3.1 and appendix configs) around which the sweeps vary one knob. */
export const PAPER_SETTINGS = {
  numClasses: VGGFACE2_CLASSES,
  r: 40,
  t: 3,
  lambda: 0.7,
  lw: 10,
  margins: { C: 0.4, A: 0.5, M: 1.7 } as Record<SphereFace2Variant, number>,
  lambdas: [0.3, 0.5, 0.7, 0.9],
  ts: [1, 2, 3, 4, 5],
} as const;

/** The two binary terms of every sample: its own class (target) and any other class (non-target). */
export type Term = "target" | "nonTarget";
export const TERMS: readonly Term[] = ["target", "nonTarget"];

/** The fields a caller may set; the rest take the paper defaults of {@link parseHeadConfig}. */
export type SphereFace2Overrides = Partial<Omit<SphereFace2Params, "angleEps" | "angleMax">>;

/** A validated SphereFace2 config at the paper's settings with some fields overridden. */
export function sphereface2Params(overrides: SphereFace2Overrides = {}): SphereFace2Config {
  const variant = overrides.variant ?? "C";
  const config = parseHeadConfig({
    type: "sphereface2",
    lambda: PAPER_SETTINGS.lambda,
    r: PAPER_SETTINGS.r,
    t: PAPER_SETTINGS.t,
    lw: PAPER_SETTINGS.lw,
    m: PAPER_SETTINGS.margins[variant],
    ...overrides,
  }, "loss analysis");
  if (config.type !== "sphereface2") throw new Error("unreachable: parsed a non-SphereFace2 config");
  return config;
}

// ---------------------------------------------------------------------------------------------------------
// Initial bias

/** Both sides of the stationarity condition ∂L/∂b = 0 at c = 0 (they are equal at b = b₀). */
export interface Stationarity {
  /** λ(1 − σ(a_y + b)): the pull of the target term. */
  lhs: number;
  /** (1 − λ)(K − 1)σ(a_i + b): the push of the K − 1 non-target terms. */
  rhs: number;
  /** |lhs − rhs|. */
  residual: number;
}

/** λ(1 − σ(a_y + b)) versus (1 − λ)(K − 1)σ(a_i + b), with a_y, a_i = r·s at θ = π/2. */
export function stationarity(p: SphereFace2Params, numClasses: number, bias: number): Stationarity {
  const { ay, ai } = biasAnchors(p);
  const lhs = p.lambda * (1 - sigmoid(ay + bias));
  const rhs = (1 - p.lambda) * (numClasses - 1) * sigmoid(ai + bias);
  return { lhs, rhs, residual: Math.abs(lhs - rhs) };
}

export interface InitialBiasRow {
  /** Short name of the setting, e.g. "VGGFace2 C". */
  setting: string;
  dataset: "VGGFace2" | "MS1MV2";
  variant: SphereFace2Variant;
  numClasses: number;
  lambda: number;
  r: number;
  m: number;
  t: number;
  /** r·s_y and r·s_i at c = 0. */
  ay: number;
  ai: number;
  /** The closed-form b₀ (float64). */
  b0: number;
  /** b₀ as evaluated from OpenSphere's formula in shared/notes/opensphere.md, 5 decimals. */
  reference: number;
  stationarity: Stationarity;
}

/**
 * b₀ = log(2ζ) − a_i − log(1 − ζ + √((1 − ζ)² + 4ζe^{a_y − a_i})), ζ = λ/((1 − λ)(K − 1)), for the paper's
 * VGGFace2 settings (r 40, t 3, λ 0.7: C m 0.4, A m 0.5, M m 1.7) and OpenSphere main's MS1M config
 * (C, λ 0.8, r 64, m 0.5, t 3), each with both sides of λ(1 − σ(a_y + b₀)) = (1 − λ)(K − 1)σ(a_i + b₀).
 */
export function initialBiasTable(): InitialBiasRow[] {
  const settings: Array<
    { dataset: InitialBiasRow["dataset"]; numClasses: number; reference: number } & SphereFace2Overrides
  > = [
    { dataset: "VGGFace2", numClasses: VGGFACE2_CLASSES, variant: "C", reference: 5.78457 },
    { dataset: "VGGFace2", numClasses: VGGFACE2_CLASSES, variant: "A", reference: 21.78457 },
    { dataset: "VGGFace2", numClasses: VGGFACE2_CLASSES, variant: "M", reference: 21.78457 },
    { dataset: "MS1MV2", numClasses: MS1M_CLASSES, variant: "C", lambda: 0.8, r: 64, m: 0.5, t: 3, reference: 6.02725 },
  ];
  return settings.map(({ dataset, numClasses, reference, ...overrides }) => {
    const p = sphereface2Params(overrides);
    const b0 = initialBias(p, numClasses);
    const { ay, ai } = biasAnchors(p);
    return {
      setting: `${dataset} ${p.variant}`,
      dataset,
      variant: p.variant,
      numClasses,
      lambda: p.lambda,
      r: p.r,
      m: p.m,
      t: p.t,
      ay,
      ai,
      b0,
      reference,
      stationarity: stationarity(p, numClasses, b0),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Curves

/** `points` evenly spaced values from −1 to 1, both ends exact. */
export function cosGrid(points: number): number[] {
  if (!Number.isInteger(points) || points < 2) throw new Error(`cosGrid: points must be an integer ≥ 2, got ${points}`);
  return Array.from({ length: points }, (_, i) => (i === points - 1 ? 1 : -1 + (2 * i) / (points - 1)));
}

/** One point of g or g'. */
export interface GRow {
  /** e.g. "t = 3". */
  series: string;
  t: number;
  fn: "g" | "g'";
  /** The argument z (a cosine). */
  cos: number;
  value: number;
}

/** g(z) = 2((z + 1)/2)^t − 1 and g'(z) = t((z + 1)/2)^(t − 1) over z ∈ [−1, 1] (paper eq. 9). */
export function gCurves(points: number, ts: readonly number[] = PAPER_SETTINGS.ts): GRow[] {
  const grid = cosGrid(points);
  const rows: GRow[] = [];
  for (const fn of ["g", "g'"] as const) {
    for (const t of ts) {
      for (const cos of grid) {
        rows.push({ series: `t = ${t}`, t, fn, cos, value: fn === "g" ? g(cos, t) : gPrime(cos, t) });
      }
    }
  }
  return rows;
}

/** A named configuration for the term curves; the bias is its own b₀ for `numClasses`. */
export interface CurveSetting {
  series: string;
  params: SphereFace2Config;
  numClasses: number;
}

/** One point of a term curve. */
export interface TermRow {
  series: string;
  term: Term;
  cos: number;
  /** z = r·s(cos) + b₀. */
  logit: number;
  /** (lw/r)·λ·softplus(−z) for the target, (lw/r)·(1 − λ)·softplus(z) for a non-target. */
  loss: number;
  /** |dℓ/dcos| in the setting's gradient form: lw·w'·|σ(z) − y|, times g'(cos) when through-g. */
  grad: number;
}

/**
 * Loss and gradient magnitude of the target term λ·softplus(−(r·s_y + b)) and of one non-target term
 * (1 − λ)·softplus(r·s_i + b) (paper eq. 6 per class, times lw/r) over cos θ ∈ [−1, 1], at b = b₀.
 */
export function termCurves(settings: readonly CurveSetting[], points: number): TermRow[] {
  const grid = cosGrid(points);
  const rows: TermRow[] = [];
  for (const { series, params, numClasses } of settings) {
    const b0 = initialBias(params, numClasses);
    for (const term of TERMS) {
      for (const cos of grid) {
        const v = termValues(cos, params, b0, term);
        rows.push({ series, term, cos, logit: v.logit, loss: v.loss, grad: Math.abs(v.dLossDcos) });
      }
    }
  }
  return rows;
}

const K = VGGFACE2_CLASSES;

/** C (m 0.4), A (m 0.5), M (m 1.7) at r 40, t 3, λ 0.7, detached gradients. */
export function variantSettings(): CurveSetting[] {
  return (["C", "A", "M"] as const).map((variant) => ({
    series: variant,
    params: sphereface2Params({ variant }),
    numClasses: K,
  }));
}

/** Variant C at the paper's settings with λ ∈ {0.3, 0.5, 0.7, 0.9}. */
export function lambdaSettings(lambdas: readonly number[] = PAPER_SETTINGS.lambdas): CurveSetting[] {
  return lambdas.map((lambda) => ({ series: `λ = ${lambda}`, params: sphereface2Params({ lambda }), numClasses: K }));
}

/** Variant C at the paper's settings with t ∈ {1, …, 5}. */
export function tSettings(ts: readonly number[] = PAPER_SETTINGS.ts): CurveSetting[] {
  return ts.map((t) => ({ series: `t = ${t}`, params: sphereface2Params({ t }), numClasses: K }));
}

/** Variant C, t 3: OpenSphere v0/main's detached gradient against the ICLR branch's gradient through g. */
export function gradFormSettings(): CurveSetting[] {
  return (["detached", "through-g"] as const).map((gradForm) => ({
    series: gradForm,
    params: sphereface2Params({ gradForm }),
    numClasses: K,
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Decision boundaries

/**
 * The cos θ at which a term's logit r·s(cos) + b crosses 0, i.e. where σ(z) = ½ and the binary classifier
 * flips (the paper's "universal threshold": the same for every class because b is shared). Found by bisection
 * on [−1, 1], which is valid because s is non-decreasing in cos for every variant. Returns null when the logit
 * keeps one sign over the whole range.
 */
export function decisionCos(p: SphereFace2Params, bias: number, term: Term): number | null {
  const logit = (c: number) => termValues(c, p, bias, term).logit;
  let lo = -1;
  let hi = 1;
  const zLo = logit(lo);
  const zHi = logit(hi);
  if (zLo === 0) return lo;
  if (zHi === 0) return hi;
  if (Math.sign(zLo) === Math.sign(zHi)) return null;
  // 200 halvings exhaust float64 long before the loop ends; stop when the midpoint no longer moves.
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    const z = logit(mid);
    if (z === 0) return mid;
    if (Math.sign(z) === Math.sign(zLo)) lo = mid;
    else hi = mid;
  }
  return Math.abs(logit(lo)) <= Math.abs(logit(hi)) ? lo : hi;
}

export interface ThresholdRow {
  /** Which sweep the row belongs to. */
  group: "variant" | "lambda" | "t";
  series: string;
  variant: SphereFace2Variant;
  lambda: number;
  r: number;
  m: number;
  t: number;
  b0: number;
  /** cos θ where the target logit crosses 0 (null: no crossing in [−1, 1]). */
  targetCos: number | null;
  /** cos θ where a non-target logit crosses 0. */
  nonTargetCos: number | null;
  /** The same boundaries as angles, degrees. */
  targetDeg: number | null;
  nonTargetDeg: number | null;
  /** targetCos − nonTargetCos: the margin between the two boundaries, in cosine units. */
  gap: number | null;
}

/** Decision boundaries of one setting at its b₀. */
export function thresholdRow(group: ThresholdRow["group"], setting: CurveSetting): ThresholdRow {
  const p = setting.params;
  const b0 = initialBias(p, setting.numClasses);
  const targetCos = decisionCos(p, b0, "target");
  const nonTargetCos = decisionCos(p, b0, "nonTarget");
  const deg = (c: number | null) => (c === null ? null : (Math.acos(c) * 180) / Math.PI);
  return {
    group,
    series: setting.series,
    variant: p.variant,
    lambda: p.lambda,
    r: p.r,
    m: p.m,
    t: p.t,
    b0,
    targetCos,
    nonTargetCos,
    targetDeg: deg(targetCos),
    nonTargetDeg: deg(nonTargetCos),
    gap: targetCos === null || nonTargetCos === null ? null : targetCos - nonTargetCos,
  };
}

/** Decision boundaries for the variants (C/A/M), the λ sweep and the t sweep (variant C), each at its b₀. */
export function thresholdTable(): ThresholdRow[] {
  return [
    ...variantSettings().map((s) => thresholdRow("variant", s)),
    ...lambdaSettings().map((s) => thresholdRow("lambda", s)),
    ...tSettings().map((s) => thresholdRow("t", s)),
  ];
}

/** Decision boundaries of C, A and M as λ runs over a grid (0.05 … 0.95 by default), for a figure. */
export function thresholdsOverLambda(lambdas: readonly number[] = lambdaGrid()): ThresholdRow[] {
  return (["C", "A", "M"] as const).flatMap((variant) =>
    lambdas.map((lambda) =>
      thresholdRow("lambda", { series: variant, params: sphereface2Params({ variant, lambda }), numClasses: K })
    )
  );
}

/** λ = 0.05, 0.10, …, 0.95 (rounded so the values print cleanly). */
function lambdaGrid(): number[] {
  return Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100);
}

// ---------------------------------------------------------------------------------------------------------
// Everything

export interface LossAnalysesOptions {
  /** Points on the cos θ grid of every curve (default 201). */
  points?: number;
}

export interface LossAnalyses {
  settings: {
    points: number;
    numClasses: number;
    r: number;
    t: number;
    lambda: number;
    lw: number;
    margins: Record<SphereFace2Variant, number>;
    lambdas: number[];
    ts: number[];
    bias: string;
    gradForm: string;
  };
  initialBias: InitialBiasRow[];
  g: GRow[];
  variants: TermRow[];
  lambda: TermRow[];
  t: TermRow[];
  gradForms: TermRow[];
  thresholds: ThresholdRow[];
  thresholdsOverLambda: ThresholdRow[];
}

/** All of the analyses above at one curve resolution. */
export function lossAnalyses(options: LossAnalysesOptions = {}): LossAnalyses {
  const points = options.points ?? 201;
  return {
    settings: {
      points,
      numClasses: K,
      r: PAPER_SETTINGS.r,
      t: PAPER_SETTINGS.t,
      lambda: PAPER_SETTINGS.lambda,
      lw: PAPER_SETTINGS.lw,
      margins: { ...PAPER_SETTINGS.margins },
      lambdas: [...PAPER_SETTINGS.lambdas],
      ts: [...PAPER_SETTINGS.ts],
      bias: "each curve at its own b₀ for K = 8631",
      gradForm: "detached unless the series says through-g",
    },
    initialBias: initialBiasTable(),
    g: gCurves(points),
    variants: termCurves(variantSettings(), points),
    lambda: termCurves(lambdaSettings(), points),
    t: termCurves(tSettings(), points),
    gradForms: termCurves(gradFormSettings(), points),
    thresholds: thresholdTable(),
    thresholdsOverLambda: thresholdsOverLambda(),
  };
}
