/**
 * The figures of the loss analyses ({@link lossAnalyses}) as standalone SVGs, each with the caption the report
 * prints under it (what the figure shows and what to look at).
 *
 * @example
 * ```ts
 * import { lossAnalyses } from "../analysis/loss_terms.ts";
 * import { lossFigures } from "./loss_figures.ts";
 * for (const f of lossFigures(lossAnalyses({ points: 101 }))) console.log(f.file, f.svg.length);
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { LossAnalyses, Term, TermRow, ThresholdRow } from "../analysis/loss_terms.ts";
import { renderSvg, type SvgPlotOptions } from "../render/svg.ts";

export interface Figure {
  /** File name under `figures/`, e.g. `g.svg`. */
  file: string;
  /** Heading drawn in the SVG and used as the report's alt text. */
  title: string;
  /** One line for the report: what to look at. */
  caption: string;
  /** The SVG file's text. */
  svg: string;
}

const TERM_LABEL: Record<Term, string> = { target: "target term", nonTarget: "non-target term" };
const QUANTITY_LABEL = { loss: "loss ℓ", grad: "|dℓ/dcos θ|" } as const;
type Quantity = keyof typeof QUANTITY_LABEL;

/** Long format for faceting: one row per (series, term, quantity, cos). */
interface LongRow {
  series: string;
  term: Term;
  quantity: Quantity;
  cos: number;
  value: number;
}

function long(rows: readonly TermRow[], quantities: readonly Quantity[]): LongRow[] {
  return quantities.flatMap((quantity) =>
    rows.map(({ series, term, cos }, i) => ({ series, term, quantity, cos, value: rows[i][quantity] }))
  );
}

/** Series names in order of first appearance, so legends follow the analysis (C, A, M) rather than A–Z. */
function seriesOrder(rows: readonly { series: string }[]): string[] {
  return [...new Set(rows.map((r) => r.series))];
}

/** Settings shared by every figure: size, white background (readable in dark-mode viewers), in-SVG legend. */
function base(heading: string): SvgPlotOptions {
  return {
    heading,
    swatches: "line",
    width: 760,
    style: "background: white",
    grid: true,
    marginRight: 70,
  };
}

/** Target/non-target in columns, optionally loss/|gradient| in rows, one line per series. */
function termFigure(heading: string, rows: readonly TermRow[], quantities: readonly Quantity[]): string {
  const data = long(rows, quantities);
  return renderSvg({
    ...base(heading),
    height: quantities.length > 1 ? 520 : 300,
    x: { label: "cos θ", domain: [-1, 1] },
    y: { label: quantities.length > 1 ? null : QUANTITY_LABEL[quantities[0]] },
    fx: { label: null, tickFormat: (t: Term) => TERM_LABEL[t], domain: ["target", "nonTarget"] },
    fy: quantities.length > 1
      ? { label: null, tickFormat: (q: Quantity) => QUANTITY_LABEL[q], domain: [...quantities] }
      : undefined,
    color: { domain: seriesOrder(rows) },
    marks: [
      Plot.frame({ strokeOpacity: 0.3 }),
      Plot.line(data, {
        x: "cos",
        y: "value",
        stroke: "series",
        fx: "term",
        fy: quantities.length > 1 ? "quantity" : undefined,
      }),
    ],
  });
}

function gFigure(heading: string, analyses: LossAnalyses, fn: "g" | "g'"): string {
  return renderSvg({
    ...base(heading),
    height: 300,
    x: { label: "z (a cosine)", domain: [-1, 1] },
    y: { label: fn === "g" ? "g(z)" : "g'(z)" },
    marks: [
      Plot.frame({ strokeOpacity: 0.3 }),
      Plot.ruleY([0]),
      Plot.line(analyses.g.filter((r) => r.fn === fn), { x: "cos", y: "value", stroke: "series" }),
    ],
  });
}

function thresholdFigure(heading: string, rows: readonly ThresholdRow[]): string {
  const data = rows.flatMap((r) => [
    { series: r.series, term: "target" as Term, lambda: r.lambda, cos: r.targetCos },
    { series: r.series, term: "nonTarget" as Term, lambda: r.lambda, cos: r.nonTargetCos },
  ]).filter((r) => r.cos !== null);
  return renderSvg({
    ...base(heading),
    height: 300,
    x: { label: "λ", domain: [0, 1] },
    y: { label: "cos θ at which r·s + b₀ = 0" },
    color: { domain: seriesOrder(rows) },
    fx: { label: null, tickFormat: (t: Term) => TERM_LABEL[t], domain: ["target", "nonTarget"] },
    marks: [
      Plot.frame({ strokeOpacity: 0.3 }),
      Plot.line(data, { x: "lambda", y: "cos", stroke: "series", fx: "term" }),
      Plot.dot(data, { x: "lambda", y: "cos", stroke: "series", fx: "term", r: 2 }),
    ],
  });
}

/** The z at which g'(z) = 1: 2·t^(−1/(t−1)) − 1 (for t = 1, g' ≡ 1 and the crossing is taken as −1). */
function unitCrossing(t: number): number {
  return t === 1 ? -1 : 2 * Math.pow(t, -1 / (t - 1)) - 1;
}

/** "0.66–0.71" (or one value when all agree to two decimals) over the non-null values of a column. */
function range(rows: readonly ThresholdRow[], key: "targetCos" | "nonTargetCos"): string {
  const values = rows.map((r) => r[key]).filter((v): v is number => v !== null);
  if (!values.length) return "–";
  const lo = Math.min(...values).toFixed(2);
  const hi = Math.max(...values).toFixed(2);
  return lo === hi ? lo : `${lo}–${hi}`;
}

/** All figures of the report, in reading order. */
export function lossFigures(a: LossAnalyses): Figure[] {
  const s = a.settings;
  const at = `r ${s.r}, t ${s.t}, λ ${s.lambda}, b = b₀ (K = ${s.numClasses})`;
  const variantRows = a.thresholds.filter((r) => r.group === "variant");
  const noTargetBoundary = a.thresholds.filter((r) => r.group === "t" && r.targetCos === null).map((r) => r.series);
  const specs: Array<Omit<Figure, "svg"> & { render: (title: string) => string }> = [
    {
      file: "g.svg",
      title: "Similarity adjustment g(z) = 2((z + 1)/2)^t − 1",
      caption: "t = 1 is the identity; larger t bends g down (g(0) = 2^(1−t) − 1), so a pair needs a higher " +
        "cos θ to reach the same score while g(±1) = ±1 stays fixed.",
      render: (title) => gFigure(title, a, "g"),
    },
    {
      file: "g_prime.svg",
      title: "g'(z) = t((z + 1)/2)^(t − 1), the extra factor of the through-g gradient",
      caption: `Below 1 for cos θ < ${unitCrossing(s.t).toFixed(3)} (t = ${s.t}) and up to t at cos θ = 1: ` +
        "through g, low-cosine pairs (easy negatives, badly aligned positives) get smaller gradients and " +
        "high-cosine pairs (hard negatives, well aligned positives) larger ones than with the detached form.",
      render: (title) => gFigure(title, a, "g'"),
    },
    {
      file: "variants.svg",
      title: `Variants C (m ${s.margins.C}), A (m ${s.margins.A}), M (m ${s.margins.M}): ${at}`,
      caption: "Each loss curve bends, and each gradient is half its maximum, at the term's decision boundary " +
        `(logit 0): the non-target terms all at cos θ ≈ ${range(variantRows, "nonTargetCos")}, the target terms ` +
        `at ${range(variantRows, "targetCos")}.`,
      render: (title) => termFigure(title, a.variants, ["loss", "grad"]),
    },
    {
      file: "lambda.svg",
      title: `λ sweep, variant C (m ${s.margins.C}, r ${s.r}, t ${s.t}), each at its b₀`,
      caption: "λ trades the weight of the one target term against the K − 1 non-target terms; through b₀ it " +
        "also shifts both boundaries a little (higher λ: lower thresholds).",
      render: (title) => termFigure(title, a.lambda, ["loss", "grad"]),
    },
    {
      file: "t.svg",
      title: `t sweep, variant C (m ${s.margins.C}, r ${s.r}, λ ${s.lambda}), each at its b₀`,
      caption: "t reshapes the curves through g and moves b₀" +
        (noTargetBoundary.length
          ? `; for ${noTargetBoundary.join(", ")} the target logit stays below 0 even at cos θ = 1 at b₀ ` +
            "(no target boundary), so the bias has to move before any positive pair is classified as one."
          : "."),
      render: (title) => termFigure(title, a.t, ["loss", "grad"]),
    },
    {
      file: "grad_forms.svg",
      title: `Gradient forms, variant C (m ${s.margins.C}, t ${s.t}): detached (v0, main) vs through g (ICLR)`,
      caption: "The losses are identical; only |dℓ/dcos θ| differs, by the factor g'(cos θ): smaller below " +
        `cos θ ≈ ${unitCrossing(s.t).toFixed(3)}, larger (up to ${s.t}×) above it.`,
      render: (title) => termFigure(title, a.gradForms, ["grad"]),
    },
    {
      file: "thresholds.svg",
      title: `Decision boundaries over λ (r ${s.r}, t ${s.t}, b = b₀ for K = ${s.numClasses})`,
      caption:
        "The non-target boundary is practically the same for C, A and M (it is set by b₀); the target boundary " +
        "sits higher, and the gap between the two is the margin the loss enforces.",
      render: (title) => thresholdFigure(title, a.thresholdsOverLambda),
    },
  ];
  return specs.map(({ render, ...f }) => ({ ...f, svg: render(f.title) }));
}
