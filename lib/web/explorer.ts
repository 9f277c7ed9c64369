/**
 * The loss explorer's model (no DOM): the page's controls → the curves, b₀ and decision boundaries it draws, all
 * computed by the kit's scalar functions ({@link initialBias}, {@link termValues}, {@link decisionCos}), the same ones
 * the notebooks and `reproduce` use. `explorer_page.ts` renders this with Observable Plot; the browser test reads
 * the b₀ the page shows and compares it with {@link initialBias} at the same controls.
 *
 * @example
 * ```ts
 * import { explore, PAPER_CONTROLS } from "./explorer.ts";
 * const view = explore(PAPER_CONTROLS);
 * view.b0; // ≈ 5.78457 (C, λ 0.7, r 40, m 0.4, t 3, K 8631)
 * view.boundaries.target; // cos θ where the target logit crosses 0
 * ```
 * @module
 */
import { cosGrid, decisionCos, PAPER_SETTINGS, sphereface2Params, TERMS } from "../analysis/loss_terms.ts";
import {
  GRAD_FORMS,
  type GradForm,
  MARGIN_RANGE,
  SPHEREFACE2_VARIANTS,
  type SphereFace2Variant,
} from "../losses/config.ts";
import { initialBias, termValues } from "../losses/sphereface2.ts";

/** What the page's controls set. */
export interface ExplorerControls {
  variant: SphereFace2Variant;
  gradForm: GradForm;
  lambda: number;
  r: number;
  m: number;
  t: number;
  /** K, the number of classes (identities). */
  numClasses: number;
}

/** The paper's setting for a variant (VGGFace2's K, r 40, t 3, λ 0.7, the variant's margin, detached gradients). */
export function paperControls(variant: SphereFace2Variant = "C"): ExplorerControls {
  return {
    variant,
    gradForm: "detached",
    lambda: PAPER_SETTINGS.lambda,
    r: PAPER_SETTINGS.r,
    m: PAPER_SETTINGS.margins[variant],
    t: PAPER_SETTINGS.t,
    numClasses: PAPER_SETTINGS.numClasses,
  };
}

export const PAPER_CONTROLS: ExplorerControls = paperControls("C");

/** Slider ranges; the margin's depends on the variant (the config schema's own {@link MARGIN_RANGE}). */
export function controlRanges(variant: SphereFace2Variant): Record<"lambda" | "r" | "m" | "t" | "numClasses", {
  min: number;
  max: number;
  step: number;
}> {
  const [mLo, mHi] = MARGIN_RANGE[variant];
  return {
    lambda: { min: 0.05, max: 0.95, step: 0.01 },
    r: { min: 1, max: 128, step: 1 },
    m: { min: mLo, max: Math.floor(mHi * 100) / 100, step: 0.01 },
    t: { min: 1, max: 10, step: 0.1 },
    numClasses: { min: 2, max: 100_000, step: 1 },
  };
}

/** One point of a curve. */
export interface ExplorerRow {
  /** "current" (the controls) or "paper" (the variant's paper setting). */
  setting: "current" | "paper";
  term: "target" | "nonTarget";
  cos: number;
  loss: number;
  /** |dℓ/dcos θ| in the chosen gradient form. */
  grad: number;
}

export interface ExplorerView {
  controls: ExplorerControls;
  /** The initial shared bias b₀ at the controls' values (paper's Sec. 3.1 stationarity condition). */
  b0: number;
  /** b₀ at the variant's paper setting. */
  paperB0: number;
  /** cos θ where the target / non-target logit crosses 0 at b = b₀ (null: no crossing in [−1, 1]). */
  boundaries: { target: number | null; nonTarget: number | null };
  paperBoundaries: { target: number | null; nonTarget: number | null };
  rows: ExplorerRow[];
}

/** Checks and completes controls from any source (URL, form); errors name the field and its range. */
export function parseControls(input: Partial<Record<keyof ExplorerControls, string | number>>): ExplorerControls {
  const variant = String(input.variant ?? "C").toUpperCase() as SphereFace2Variant;
  if (!SPHEREFACE2_VARIANTS.includes(variant)) throw new Error(`variant must be one of C, A, M, got ${input.variant}`);
  const gradForm = String(input.gradForm ?? "detached") as GradForm;
  if (!GRAD_FORMS.includes(gradForm)) throw new Error(`gradForm must be detached or through-g, got ${input.gradForm}`);
  const base = paperControls(variant);
  const ranges = controlRanges(variant);
  const num = (key: keyof typeof ranges) => {
    const raw = input[key];
    const v = raw === undefined || raw === "" ? base[key] : Number(raw);
    const { min, max } = ranges[key];
    if (!(v >= min && v <= max)) throw new Error(`${key} must be in [${min}, ${max}], got ${raw}`);
    return v;
  };
  return {
    variant,
    gradForm: variant === "C" ? gradForm : "detached",
    lambda: num("lambda"),
    r: num("r"),
    m: num("m"),
    t: num("t"),
    numClasses: Math.round(num("numClasses")),
  };
}

function curves(c: ExplorerControls, setting: ExplorerRow["setting"], points: number) {
  const params = sphereface2Params({
    variant: c.variant,
    gradForm: c.gradForm,
    lambda: c.lambda,
    r: c.r,
    m: c.m,
    t: c.t,
  });
  const b0 = initialBias(params, c.numClasses);
  const rows: ExplorerRow[] = [];
  for (const term of TERMS) {
    for (const cos of cosGrid(points)) {
      const v = termValues(cos, params, b0, term);
      rows.push({ setting, term, cos, loss: v.loss, grad: Math.abs(v.dLossDcos) });
    }
  }
  const boundaries = { target: decisionCos(params, b0, "target"), nonTarget: decisionCos(params, b0, "nonTarget") };
  return { b0, rows, boundaries };
}

/** Everything the explorer draws for `controls`, plus the paper setting of the same variant for reference. */
export function explore(controls: ExplorerControls, points = 201): ExplorerView {
  const current = curves(controls, "current", points);
  const paper = curves(paperControls(controls.variant), "paper", points);
  return {
    controls,
    b0: current.b0,
    paperB0: paper.b0,
    boundaries: current.boundaries,
    paperBoundaries: paper.boundaries,
    rows: [...current.rows, ...paper.rows],
  };
}
