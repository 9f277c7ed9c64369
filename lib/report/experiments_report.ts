/**
 * The report section of the trained experiments (issue: the paper's Section 3 and appendix at CPU scale): where
 * the numbers come from, the verdict on each claim of the paper with its evidence, and per family the question,
 * the claim, a table (mean ± std over seeds, both protocols, TPR@FPR, config hash) and a figure per dataset.
 *
 * @example
 * ```ts
 * import { readReference } from "../experiments/reference.ts";
 * import { loadExperiments } from "../experiments/spec.ts";
 * import { experimentsSection } from "./experiments_report.ts";
 * import { toMarkdown } from "./document.ts";
 * const results = await readReference("cpu");
 * if (results) console.log(toMarkdown(experimentsSection(results, await loadExperiments()).blocks));
 * ```
 * @module
 */
import { checkClaims, type ClaimCheck, gradientFormFindings, SAME_RANGE_PP } from "../experiments/claims.ts";
import type { GridResults } from "../experiments/grid.ts";
import { METRIC_KEYS } from "../experiments/jobs.ts";
import type { Experiment } from "../experiments/spec.ts";
import {
  controlRow,
  datasetSets,
  difference,
  experimentTable,
  formatStat,
  PRIMARY_METRIC,
  TABLE_METRICS,
  type TableRow,
} from "../experiments/summary.ts";
import { experimentPlot } from "../plots/experiment_plots.ts";
import { renderSvg } from "../render/svg.ts";
import type { Block } from "./document.ts";
import type { Figure } from "./loss_figures.ts";
import type { Align, Cell } from "../render/markdown.ts";

const SET_NAMES: Record<string, string> = {
  "view1-test": "View 1 test",
  view2: "View 2 (overlaps training ids)",
};
const METRIC_NAMES: Record<string, string> = {
  [METRIC_KEYS.tenFoldAcc]: "ACC 10-fold",
  [METRIC_KEYS.bestAcc]: "ACC best thr.",
  "TPR@FPR=1e-2": "TPR@1e-2",
  "TPR@FPR=1e-1": "TPR@1e-1",
};

/**
 * Index of the row each row is compared with: the family's row of role "paper" (the paper's setting; under label
 * noise the paper's series at the same ratio), else the first row.
 */
function referenceIndex(experiment: Experiment, rows: readonly TableRow[], i: number): number {
  const paper = experiment.rows.map((r, j) => ({ r, j })).filter(({ r }) => r.role === "paper");
  if (!paper.length) return 0;
  if (experiment.family !== "noise") return paper[0].j;
  return paper.find(({ j }) => rows[j].x === rows[i].x)?.j ?? -1;
}

/** A family's table on one dataset: rows as Markdown/HTML cells. */
export function experimentTableBlock(
  results: GridResults,
  experiment: Experiment,
  dataset: string,
): Extract<Block, { kind: "table" }> {
  const sets = datasetSets(results, dataset);
  const rows = [...experimentTable(results, experiment, dataset), controlRow(results, dataset)];
  const headers = ["setting"];
  for (const set of sets) {
    for (const m of TABLE_METRICS) headers.push(`${SET_NAMES[set] ?? set}: ${METRIC_NAMES[m] ?? m}`);
  }
  headers.push("Δ 10-fold vs ref.", "seeds", "config");
  const out: Cell[][] = rows.map((row, i) => {
    const cells: Cell[] = [row.label];
    for (const set of sets) for (const m of TABLE_METRICS) cells.push(formatStat(row.stats[set]?.[m]));
    const ref = i < rows.length - 1 ? referenceIndex(experiment, rows, i) : -1;
    const a = row.stats[sets[0]]?.[PRIMARY_METRIC], b = rows[ref]?.stats[sets[0]]?.[PRIMARY_METRIC];
    let delta = "";
    if (ref === i) delta = "ref.";
    else if (a && b) {
      const d = difference(a, b);
      delta = `${d.delta >= 0 ? "+" : ""}${d.delta.toFixed(1)}${d.beyond ? " *" : ""}`;
    }
    cells.push(delta, `${row.seeds}${row.diverged ? ` (${row.diverged} diverged)` : ""}`, row.configHash);
    return cells;
  });
  const align: Align[] = headers.map((_, i) => (i === 0 ? "left" : "right"));
  return { kind: "table", headers, rows: out, align };
}

/**
 * One family on one dataset: heading, table, figure (mean ± std, each seed, the control) and, when given, the
 * verdict. The report's sections and the notebooks' displays are both made of these.
 */
export function familyBlocks(
  results: GridResults,
  experiment: Experiment,
  dataset: string,
  options: { level?: 3 | 4; prefix?: string; claim?: ClaimCheck } = {},
): { blocks: Block[]; figure: Figure } {
  const id = [options.prefix, experiment.family, dataset].filter(Boolean).join("_");
  const plot = experimentPlot(results, experiment, dataset, { idPrefix: id });
  const figure: Figure = {
    file: `${id}.svg`,
    title: plot.heading ?? id,
    caption:
      `${experiment.family} on ${dataset}: mean ± std over seeds (bars), each seed (faint dots), random init (dashed).`,
    svg: renderSvg(plot),
  };
  const blocks: Block[] = [
    { kind: "heading", level: options.level ?? 4, text: `${experiment.family} — ${dataset}` },
    experimentTableBlock(results, experiment, dataset),
    { kind: "figure", figure },
  ];
  const c = options.claim;
  if (c) blocks.push({ kind: "paragraph", text: `**Verdict (${dataset}): ${c.verdict}.** ${c.evidence}` });
  return { blocks, figure };
}

export interface SectionOptions {
  /** Heading level of the section (default 2). */
  level?: 1 | 2;
  /** Prefix of figure files and SVG ids (default "exp"). */
  prefix?: string;
  /** Section title. */
  title?: string;
}

/** Blocks and figure files of the experiments section. */
export function experimentsSection(
  results: GridResults,
  experiments: readonly Experiment[],
  options: SectionOptions = {},
): { blocks: Block[]; figures: Figure[] } {
  const level = options.level ?? 2;
  const sub = (level + 1) as 2 | 3;
  const prefix = options.prefix ?? "exp";
  const blocks: Block[] = [];
  const figures: Figure[] = [];
  const datasets = results.datasets;
  blocks.push({
    kind: "heading",
    level,
    text: options.title ?? `Trained experiments (profile \`${results.profile}\`)`,
  });
  blocks.push({ kind: "paragraph", text: results.description });
  blocks.push({
    kind: "list",
    items: [
      `Machine: ${results.machine}; backend \`${results.backend}\`; kit commit ${
        results.kitCommits.map((c) => `\`${c.slice(0, 12)}\``).join(", ")
      }; written ${results.date}.`,
      `Cost: ${results.records.length} jobs, ${
        (results.jobSeconds / 3600).toFixed(2)
      } h of single-process wall time in total (two processes ran side by side).`,
      `Seeds: ${
        results.seeds.join(", ")
      }. Every cell is mean ± sample std over the seeds; the 10-fold accuracy of one seed is itself the mean over its 10 folds.`,
      ...datasets.map((d) =>
        `Dataset \`${d.name}\`: ${d.note} Base config \`${d.config}\`${
          d.overrides.length ? ` with ${d.overrides.map((o) => `\`${o}\``).join(" ")}` : ""
        }.`
      ),
      `Verdicts: reproduced / not reproduced (the models learned but the claimed ordering does not show beyond the ` +
      `spread, or the opposite does) / not testable (no row of the family beats the random-init control beyond the ` +
      `spread; for label noise also when no loss does at the highest ratio). The margins claim's "same range" ` +
      `counts a difference against it only when it is beyond the spread and larger than ${SAME_RANGE_PP} pp.`,
      "A 10-fold accuracy of 50.0 with a best-threshold accuracy above it means collapsed embeddings: every test pair's " +
      "cosine within 0.005 of 1, finer than insightface's threshold grid (squared distance in steps of 0.01), so no " +
      "threshold chosen on nine folds separates the tenth. The verdicts use the 10-fold accuracy, whose threshold is " +
      "never fitted on the pairs it scores.",
      "Columns: 10-fold accuracy (insightface/LFW protocol, folds balanced), best-threshold accuracy (OpenSphere), TPR at FPR 1e-2 and 1e-1 (OpenSphere's interpolated ROC). Δ: difference in 10-fold accuracy from the family's reference row; * marks a difference beyond the seed-to-seed spread (|Δ| > 2·√(s₁²/n₁ + s₂²/n₂)).",
    ],
  });

  const claims = checkClaims(results, experiments);
  blocks.push({ kind: "heading", level: sub, text: "The paper's claims at this scale" });
  blocks.push({
    kind: "table",
    headers: ["family", "dataset", "verdict", "evidence (10-fold ACC, %)"],
    rows: claims.map((c) => [c.family, c.dataset, `**${c.verdict}**`, c.evidence]),
  });

  for (const e of experiments) {
    blocks.push({ kind: "heading", level: sub, text: e.title });
    blocks.push({ kind: "paragraph", text: `**Question.** ${e.question}` });
    blocks.push({ kind: "paragraph", text: `**The paper's claim.** ${e.claim}` });
    for (const d of datasets) {
      const c = claims.find((x) => x.family === e.family && x.dataset === d.name);
      const family = familyBlocks(results, e, d.name, { level: (sub + 1) as 3 | 4, prefix, claim: c });
      figures.push(family.figure);
      blocks.push(...family.blocks);
    }
    if (e.family === "margins") {
      const findings = gradientFormFindings(results, e);
      if (findings.length) {
        blocks.push({
          kind: "paragraph",
          text: "**The kit's finding: gradient forms.** OpenSphere's branches differ in whether the gradient of " +
            "SphereFace2-C flows through g and the margin (ICLR branch) or not (v0, main); the paper does not say. " +
            findings.map((f) => `${f.dataset}: ${f.text}.`).join(" "),
        });
      }
    }
  }
  return { blocks, figures };
}
