/**
 * The training section of the reproduction report: what was trained, the loss curve, and the verification of the
 * trained network next to the same network at its random initialisation (the control showing the data is a real
 * task), with both ACC protocols and every number's protocol named.
 *
 * @example
 * ```ts
 * import { trainingFigures, trainingSection } from "./training_report.ts";
 * // const r = await trainAndEvaluate(config, { runDir });
 * // const md = trainingSection(r, config, { seconds: 60, dataset: "synthetic" }, trainingFigures(r));
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import { renderSvg } from "../render/svg.ts";
import type { TrainConfig } from "../train/config.ts";
import type { ExperimentResult } from "../train/experiment.ts";
import type { Figure } from "./loss_figures.ts";
import { markdownTable } from "../render/markdown.ts";

/** The loss-curve figure (a 1-in-N thinned log keeps the SVG small). */
export function trainingFigures(r: ExperimentResult, name = "training"): Figure[] {
  const every = Math.max(1, Math.floor(r.curve.length / 400));
  const rows = r.curve.filter((_, i) => i % every === 0 || i === r.curve.length - 1);
  const title = "Training loss (SphereFace2 head, per step)";
  return [{
    file: `${name}_loss.svg`,
    title,
    caption: "The batch loss per step; the learning rate drops ×0.1 at each milestone.",
    svg: renderSvg({
      heading: title,
      width: 640,
      height: 300,
      x: { label: "step →" },
      y: { label: "↑ loss", grid: true },
      marks: [Plot.line(rows, { x: "step", y: "loss", stroke: "steelblue" })],
    }),
  }];
}

/** The Markdown section (figures linked as `figures/<file>`). */
export function trainingSection(
  r: ExperimentResult,
  config: TrainConfig,
  context: { seconds: number; dataset: string; backend: string },
  figures: readonly Figure[],
): string {
  const m = config.model;
  const h = config.head;
  const rows = r.evaluations.flatMap((e) =>
    e.table.filter((t) => ["ACC", "EER", "AUC", "TPR@FPR=1e-2"].includes(t.metric)).map((t) => [
      e.model,
      e.set,
      e.pairs,
      t.metric,
      t.protocol,
      t.std === undefined ? t.value.toFixed(2) : `${t.value.toFixed(2)} ± ${t.std.toFixed(2)}`,
    ])
  );
  const out = [
    "## Training on the embedded dataset",
    "",
    `\`${config.name}\`: ${m.type}-${m.depth} at width ${m.width} on ${m.inputSize}×${m.inputSize} crops ` +
    `(${m.featDim}-d embedding), head ${JSON.stringify(h)}, ${r.train.steps} steps of batch ` +
    `${config.train.batchSize}, SGD lr ${config.train.lr} (×0.1 at ${config.train.milestones.join(", ")}), ` +
    `momentum ${config.train.momentum}, weight decay ${config.train.weightDecay}, seed ${config.seed}. ` +
    `Data: ${context.dataset}. Backend: ${context.backend}. Wall time ${context.seconds.toFixed(0)} s ` +
    `(${r.train.imagesPerSecond.toFixed(0)} images/s median). Final batch loss ${r.train.finalLoss.toFixed(3)}.`,
    "",
    ...figures.flatMap((f) => [`![${f.title}](figures/${f.file})`, "", f.caption, ""]),
    "Verification on held-out identities (open set), the trained network next to the same network at its random " +
    "initialisation. *best threshold* is OpenSphere's ACC (one threshold fitted on the list itself); *10-fold* is " +
    "insightface's (threshold fitted on nine folds, tested on the tenth; the sorted list is dealt into balanced " +
    "folds).",
    "",
    markdownTable(["model", "pairs", "n", "metric", "protocol", "value (%)"], rows, [
      "left",
      "left",
      "right",
      "left",
      "left",
      "right",
    ]),
    "",
    "The run folder (`train/`) holds `run.json` (config, seed, backend, versions, commit), `log.jsonl` and the " +
    "checkpoint; `deno task eval results/reproduce/train/<run>` evaluates it on other protocols.",
  ];
  return out.join("\n");
}
