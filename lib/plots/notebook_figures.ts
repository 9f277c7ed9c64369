/**
 * The figures of the notebooks (sections 01–03) that the loss report does not already draw
 * (`lib/report/loss_figures.ts` has g, g', the term curves and thresholds over λ). Each function takes plain
 * rows from `lib/analysis` and returns a {@link PlotFigure}: inline in a notebook, `.svg`/`.png` in a task,
 * a golden file in the tests.
 *
 * @example
 * ```ts
 * import { biasDerivativeCurve } from "../analysis/geometry.ts";
 * import { biasDerivativeFigure } from "./notebook_figures.ts";
 * biasDerivativeFigure(biasDerivativeCurve());
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { BiasDerivativeRow, BoundaryRow } from "../analysis/geometry.ts";
import type { SoftmaxVsBinaryResult } from "../analysis/toy_experiments.ts";
import { type PlotFigure, plotFigure } from "./figure.ts";
import type { SvgPlotOptions } from "../render/svg.ts";

/** Size, white background, grid, in-SVG legend: shared by every figure here. */
function base(heading: string, extra: Partial<SvgPlotOptions> = {}): SvgPlotOptions {
  return { heading, swatches: true, width: 760, style: "background: white", ...extra };
}

const NONE = "none (rejected)";

/**
 * 2-D embeddings on the unit circle, one panel per head: samples (drawn slightly inside the circle, radius
 * jittered only to show density), class centres as rays, and an outer ring coloured by the class each direction
 * would be assigned to, grey where no class accepts it.
 */
export function decisionRingFigure(result: SoftmaxVsBinaryResult, heading?: string): PlotFigure {
  const label = (k: number) => (k < 0 ? NONE : `class ${k}`);
  const points = result.heads.flatMap((h) =>
    h.points.map((p, i) => {
      const radius = 0.8 + 0.12 * ((i * 0.6180339887) % 1);
      return { head: h.name, x: p.x * radius, y: p.y * radius, cls: label(p.label) };
    })
  );
  const ring = result.heads.flatMap((h) =>
    h.ring.map((r) => {
      const a = (r.deg * Math.PI) / 180;
      return { head: h.name, x: 1.12 * Math.cos(a), y: 1.12 * Math.sin(a), cls: label(r.label) };
    })
  );
  const rays = result.heads.flatMap((h) =>
    h.centres.map((c) => ({ head: h.name, x: c.x, y: c.y, cls: label(c.label) }))
  );
  const classes = Array.from({ length: result.settings.classes }, (_, k) => label(k));
  const palette = Plot.scale({ color: { type: "categorical", domain: classes } }).range as string[];
  return plotFigure(base(heading ?? "Decision regions on the circle of 2-D embeddings", {
    aspectRatio: 1,
    marginLeft: 10,
    marginRight: 10,
    x: { domain: [-1.25, 1.25], axis: null },
    y: { domain: [-1.25, 1.25], axis: null },
    fx: { label: null, domain: result.heads.map((h) => h.name) },
    color: { domain: [...classes, NONE], range: [...palette.slice(0, classes.length), "#bbbbbb"] },
    marks: [
      Plot.dot(ring, { x: "x", y: "y", fill: "cls", fx: "head", r: 2.2 }),
      Plot.dot(points, { x: "x", y: "y", stroke: "cls", fx: "head", r: 1.6 }),
      Plot.link(rays, {
        x1: 0,
        y1: 0,
        x2: "x",
        y2: "y",
        stroke: "cls",
        fx: "head",
        strokeWidth: 2,
        markerEnd: "arrow",
      }),
    ],
  }));
}

/** A row of {@link cosineHistogramFigure}: which panel, positive or negative, the cosine. */
export interface CosineSample {
  panel: string;
  kind: "positive" | "negative";
  cos: number;
}

/**
 * Histograms of positive and negative cosines (normalised per kind, so a handful of positives against many
 * negatives stays visible), one panel per setting, with a rule at each panel's threshold.
 */
export function cosineHistogramFigure(
  samples: readonly CosineSample[],
  thresholds: ReadonlyArray<{ panel: string; cos: number }>,
  heading: string,
  options: { columns?: number } = {},
): PlotFigure {
  const panels = [...new Set(samples.map((s) => s.panel))];
  const bins = histogramRows(samples, 40);
  const columns = options.columns ?? Math.min(panels.length, 3);
  const rows = Math.ceil(panels.length / columns);
  const cell = (panel: string) => panels.indexOf(panel);
  const fx = (d: { panel: string }) => cell(d.panel) % columns;
  const fy = (d: { panel: string }) => Math.floor(cell(d.panel) / columns);
  return plotFigure(base(heading, {
    height: 60 + 150 * rows,
    marginRight: 20,
    x: { label: "cos θ", domain: [-1, 1] },
    y: { label: "fraction", grid: true },
    fx: { axis: null },
    fy: { axis: null },
    color: { domain: ["positive", "negative"], range: ["#1f77b4", "#d62728"] },
    marks: [
      // Explicit y1/y2 (pre-binned) so that the two kinds overlap instead of stacking.
      Plot.rectY(bins, {
        x1: "x1",
        x2: "x2",
        y1: 0,
        y2: "fraction",
        fill: "kind",
        fillOpacity: 0.5,
        fx,
        fy,
        inset: 0.5,
      }),
      Plot.ruleX(thresholds, { x: "cos", fx, fy, stroke: "black", strokeDasharray: "4 3" }),
      Plot.text(panels.map((panel) => ({ panel })), {
        text: "panel",
        fx,
        fy,
        frameAnchor: "top-left",
        dx: 4,
        dy: 4,
        fontWeight: "bold",
      }),
      Plot.frame({ strokeOpacity: 0.3 }),
    ],
  }));
}

/** Fraction of each (panel, kind)'s samples in each of `count` equal bins over [−1, 1]. */
export function histogramRows(
  samples: readonly CosineSample[],
  count: number,
): Array<{ panel: string; kind: CosineSample["kind"]; x1: number; x2: number; fraction: number }> {
  const groups = new Map<string, { panel: string; kind: CosineSample["kind"]; counts: number[]; n: number }>();
  for (const s of samples) {
    const key = `${s.panel}\u0000${s.kind}`;
    let group = groups.get(key);
    if (!group) groups.set(key, group = { panel: s.panel, kind: s.kind, counts: new Array(count).fill(0), n: 0 });
    const i = Math.min(count - 1, Math.max(0, Math.floor(((s.cos + 1) / 2) * count)));
    group.counts[i]++;
    group.n++;
  }
  return [...groups.values()].flatMap((gr) =>
    gr.counts.map((c, i) => ({
      panel: gr.panel,
      kind: gr.kind,
      x1: -1 + (2 * i) / count,
      x2: -1 + (2 * (i + 1)) / count,
      fraction: c / gr.n,
    }))
  );
}

/** ∂L/∂b's two parts at c = 0 against b on a log scale: they cross at b₀. */
export function biasDerivativeFigure(rows: readonly BiasDerivativeRow[], heading?: string): PlotFigure {
  const long = rows.flatMap((r) => [
    { b: r.b, part: "pull λ(1 − σ(a_y + b))", value: r.pull },
    { b: r.b, part: "push (1 − λ)(K − 1)σ(a_i + b)", value: r.push },
  ]).filter((r) => r.value > 0);
  const b0 = rows.find((r) => r.isB0);
  return plotFigure(base(heading ?? "The two parts of ∂L/∂b at cos θ = 0", {
    swatches: "line",
    height: 300,
    grid: true,
    x: { label: "bias b" },
    y: { type: "log", label: "magnitude" },
    marks: [
      Plot.line(long, { x: "b", y: "value", stroke: "part" }),
      ...(b0 ? [Plot.ruleX([b0.b], { stroke: "black", strokeDasharray: "4 3" })] : []),
      ...(b0
        ? [Plot.text([b0], { x: "b", y: "pull", text: () => `b₀ = ${b0.b.toFixed(3)}`, dx: 6, textAnchor: "start" })]
        : []),
    ],
  }));
}

/** Target and non-target decision boundaries (cos θ at logit 0, b = b₀) against m, one panel per t. */
export function boundaryFigure(rows: readonly BoundaryRow[], heading?: string): PlotFigure {
  const long = rows.flatMap((r) => [
    { t: `t = ${r.t}`, m: r.m, boundary: "target (positive pair needs cos above)", cos: r.targetCos },
    { t: `t = ${r.t}`, m: r.m, boundary: "non-target (negative pair needs cos below)", cos: r.nonTargetCos },
  ]).filter((r) => r.cos !== null);
  return plotFigure(base(heading ?? "Decision boundaries of SphereFace2-C at b₀ against the margin m", {
    swatches: "line",
    height: 300,
    grid: true,
    x: { label: "m" },
    y: { label: "cos θ at logit 0" },
    fx: { label: null, domain: [...new Set(long.map((r) => r.t))] },
    marks: [
      Plot.frame({ strokeOpacity: 0.3 }),
      Plot.line(long, { x: "m", y: "cos", stroke: "boundary", fx: "t" }),
      Plot.dot(long, { x: "m", y: "cos", stroke: "boundary", fx: "t", r: 2 }),
    ],
  }));
}

/** A generic line chart of rows `{series, x, y}` (optionally faceted by `panel`), for one-off notebook curves. */
export function linesFigure(
  rows: ReadonlyArray<{ series: string; x: number; y: number; panel?: string }>,
  heading: string,
  labels: { x: string; y: string },
  extra: Partial<SvgPlotOptions> = {},
): PlotFigure {
  const panels = [...new Set(rows.map((r) => r.panel).filter((p): p is string => p !== undefined))];
  return plotFigure(base(heading, {
    swatches: "line",
    height: 300,
    grid: true,
    marginRight: 30,
    x: { label: labels.x },
    y: { label: labels.y },
    color: { domain: [...new Set(rows.map((r) => r.series))] },
    fx: panels.length ? { label: null, domain: panels } : undefined,
    ...extra,
    marks: [
      Plot.frame({ strokeOpacity: 0.3 }),
      Plot.line(rows, { x: "x", y: "y", stroke: "series", fx: panels.length ? "panel" : undefined }),
    ],
  }));
}
