/**
 * Figures of the trained experiments: mean ± std over seeds (error bars), each seed as a faint dot, and the
 * random-initialisation control as a dashed line, so the reader sees both the effect and the spread.
 * Three shapes: an axis family (λ, t) over its numeric axis; a multi-series family (label noise) as one line per
 * loss; a categorical family (margins, comparison) as one row per setting.
 *
 * Returns Plot options ({@link SvgPlotOptions}): `renderSvg` makes the report's SVG, `plotFigure` the notebook's.
 *
 * @example
 * ```ts
 * import { experimentPlot } from "./experiment_plots.ts";
 * import { plotFigure } from "./figure.ts";
 * // results: a GridResults; experiment: an Experiment (see lib/experiments)
 * // plotFigure(experimentPlot(results, experiment, "synthetic"));
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { GridResults } from "../experiments/grid.ts";
import { CONTROL_CELL } from "../experiments/jobs.ts";
import { cellId, type Experiment } from "../experiments/spec.ts";
import { cellStat, datasetSets, PRIMARY_METRIC } from "../experiments/summary.ts";
import type { SvgPlotOptions } from "../render/svg.ts";

export interface ExperimentPlotOptions {
  /** Pair set (default: the dataset's first). */
  set?: string;
  metric?: string;
  width?: number;
  idPrefix?: string;
}

/** Plot options for one family on one dataset. */
export function experimentPlot(
  results: GridResults,
  experiment: Experiment,
  dataset: string,
  options: ExperimentPlotOptions = {},
): SvgPlotOptions {
  const set = options.set ?? datasetSets(results, dataset)[0];
  const metric = options.metric ?? PRIMARY_METRIC;
  const rows = experiment.rows.map((r) => {
    const s = cellStat(results, dataset, cellId(r.head, r.noise), set, metric);
    return { label: r.label, x: r.x, series: r.series ?? "", s };
  }).filter((r) => r.s !== null).map((r) => ({
    ...r,
    mean: r.s!.mean,
    lo: r.s!.mean - r.s!.std,
    hi: r.s!.mean + r.s!.std,
  }));
  const seeds = rows.flatMap((r) => r.s!.values.map((v) => ({ ...r, v })));
  const control = cellStat(results, dataset, CONTROL_CELL, set, metric);
  const short = experiment.title.split(":")[0].replace(/\s*\(.*\)\s*$/, "");
  const heading = `${short} — ${dataset}, ${set}`;
  const yLabel = `↑ ${metric} (%), mean ± std over seeds`;
  const common = { heading, width: options.width ?? 640, idPrefix: options.idPrefix };
  const controlNote = control ? `dashed: random init ${control.mean.toFixed(1)}%` : "";

  const multi = rows.some((r) => r.series);
  const numeric = rows.every((r) => typeof r.x === "number");
  if (numeric) {
    const domain = [...new Set(rows.map((r) => r.x!))].sort((a, b) => a - b);
    return {
      ...common,
      height: 320,
      swatches: multi ? "line" : false,
      color: multi ? { legend: false } : undefined,
      x: { label: `${experiment.axis} →`, ticks: domain },
      y: { label: yLabel, grid: true },
      marks: [
        ...(control ? [Plot.ruleY([control.mean], { stroke: "#999", strokeDasharray: "4,3" })] : []),
        Plot.dot(seeds, { x: "x", y: "v", r: 2, fill: multi ? "series" : "#bbb", fillOpacity: 0.4 }),
        Plot.ruleX(rows, { x: "x", y1: "lo", y2: "hi", stroke: multi ? "series" : "steelblue", strokeWidth: 2 }),
        Plot.line(rows, { x: "x", y: "mean", stroke: multi ? "series" : "steelblue", z: multi ? "series" : undefined }),
        Plot.dot(rows, { x: "x", y: "mean", fill: multi ? "series" : "steelblue", r: 3.5 }),
        ...(controlNote ? [Plot.text([controlNote], { frameAnchor: "bottom-right", dy: -4, fill: "#777" })] : []),
      ],
    };
  }
  const labels = rows.map((r) => r.label);
  return {
    ...common,
    height: 60 + 32 * rows.length,
    marginLeft: 230,
    x: { label: `${metric} (%), mean ± std over seeds →`, grid: true },
    y: { label: null, domain: labels },
    marks: [
      ...(control ? [Plot.ruleX([control.mean], { stroke: "#999", strokeDasharray: "4,3" })] : []),
      Plot.dot(seeds, { x: "v", y: "label", r: 2, fill: "#bbb", fillOpacity: 0.5 }),
      Plot.ruleY(rows, { y: "label", x1: "lo", x2: "hi", stroke: "steelblue", strokeWidth: 2 }),
      Plot.dot(rows, { x: "mean", y: "label", fill: "steelblue", r: 3.5 }),
      ...(controlNote ? [Plot.text([controlNote], { frameAnchor: "top-right", dy: -12, fill: "#777" })] : []),
    ],
  };
}
