/**
 * What the experiment notebooks (05–08) call: their results, read from the committed reference by default or
 * retrained on a profile's grid (restricted to the notebook's families), and one display per family and dataset
 * (the report's table, figure and verdict, inline). The notebooks stay thin; the logic is the report's.
 *
 * @example
 * ```ts
 * import { experimentResults, familyDisplay } from "./experiments.ts";
 * const { results, experiments } = await experimentResults(["lambda", "t"], { source: "reference", profile: "cpu" });
 * familyDisplay(results, experiments[0], "synthetic"); // in a cell: table, figure, verdict
 * ```
 * @module
 */
import { z } from "zod";
import { checkClaims, type ClaimCheck, gradientFormFindings } from "../experiments/claims.ts";
import { type GridResults, runGrid } from "../experiments/grid.ts";
import { experimentsIn } from "../experiments/summary.ts";
import { readReference, referencePath } from "../experiments/reference.ts";
import {
  type Experiment,
  type Family,
  investigationsOf,
  loadExperiments,
  loadProfile,
  withSyntheticDir,
} from "../experiments/spec.ts";
import { type Block, blocksHtml, toMarkdown } from "../report/document.ts";
import { svgToPng } from "../plots/png.ts";
import { familyBlocks } from "../report/experiments_report.ts";
import * as tf from "@tensorflow/tfjs";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "../fs/paths.ts";
import { cacheDir } from "./cache.ts";
import { type Displayable, displayable, escapeHtml, FIGURE_PNG_SCALE, pngImgHtml, svgSize } from "../render/display.ts";

/** The parameters every experiment notebook takes (spread them into its schema). */
export const experimentParamsShape = {
  /** `reference`: the committed results of `experimentsProfile`; `retrain`: train its grid now. */
  experimentsSource: z.enum(["reference", "retrain"]).default("reference"),
  /** Profile of configs/experiments/profiles.json: `cpu` (committed reference), `smoke` (minutes). */
  experimentsProfile: z.string().default("cpu"),
  /** Where a retrained grid keeps its runs (resumable; relative to the kit's root); default under the notebook cache. */
  experimentsWorkDir: z.string().optional(),
  /**
   * A retrained grid's synthetic faces: another folder for the profile's synthetic datasets (relative to the kit's
   * root, generated when absent), like `deno task experiments --data`.
   */
  experimentsData: z.string().optional(),
};
export const ExperimentParams = z.object(experimentParamsShape);

export type ExperimentParamsValue = z.output<typeof ExperimentParams>;

export interface NotebookExperiments {
  results: GridResults;
  experiments: Experiment[];
  /** Where the numbers came from, for the notebook's text. */
  source: string;
  claims: ClaimCheck[];
}

/** The notebook's families: committed results, or a (resumable) retraining of the profile's grid. */
export async function experimentResults(
  families: readonly Family[],
  params: {
    source: "reference" | "retrain";
    profile: string;
    workDir?: string;
    data?: string;
    log?: (line: string) => void;
  },
): Promise<NotebookExperiments> {
  const experiments = await loadExperiments(undefined, families);
  let results: GridResults;
  let source: string;
  if (params.source === "reference") {
    const ref = await readReference(params.profile);
    if (!ref) {
      throw new Error(
        `no committed results at ${referencePath(params.profile)}: set experimentsSource "retrain" to train them`,
      );
    }
    results = ref;
    const present = experimentsIn(ref, experiments).map((e) => e.family);
    const absent = families.filter((f) => !present.includes(f));
    if (absent.length) {
      throw new Error(
        `${referencePath(params.profile)} has no results for ${absent.join(", ")}: choose another profile`,
      );
    }
    source = `the committed reference ${referencePath(params.profile).replace(/^.*\/data\//, "data/")}`;
  } else {
    const loaded = { ...(await loadProfile(params.profile)), families: [...families] };
    const profile = params.data ? withSyntheticDir(loaded, params.data) : loaded;
    const workDir = params.workDir
      ? resolve(REPO_ROOT, params.workDir)
      : resolve(join(cacheDir(), `experiments-${params.profile}`));
    // Profiles name configs and data folders relative to the kit's root; a notebook's kernel runs in notebooks/.
    const here = Deno.cwd();
    Deno.chdir(REPO_ROOT);
    let out;
    try {
      out = await runGrid(params.profile, profile, experiments, {
        workDir,
        log: params.log ?? console.log,
        backend: tf.getBackend(),
      });
    } finally {
      Deno.chdir(here);
    }
    if (!out.results) throw new Error(`grid ${params.profile}: ${out.missing} jobs without results`);
    results = out.results;
    source = `a grid trained just now (profile ${params.profile}, runs in ${workDir})`;
  }
  return { results, experiments, source, claims: checkClaims(results, experiments) };
}

/** One family on one dataset, as the report shows it: table, figure (mean ± std, seeds, control) and verdict. */
export function familyDisplay(results: GridResults, experiment: Experiment, dataset: string): Displayable {
  const claim = checkClaims(results, [experiment]).find((c) => c.dataset === dataset);
  const { blocks: full } = familyBlocks(results, experiment, dataset, { claim });
  const blocks = full.flatMap((b) => (b.kind === "table" ? compactTables(b) : [b]));
  if (experiment.family === "margins") {
    for (const f of gradientFormFindings(results, experiment).filter((f) => f.dataset === dataset)) {
      blocks.push({ kind: "paragraph", text: `**Gradient forms (the kit's finding).** ${f.text}.` });
    }
  }
  const md = toMarkdown(blocks.filter((b) => b.kind !== "figure"));
  // Figures as PNG <img> (figureBundle's form), not inline SVG, which GitHub's sanitiser strips.
  const html = blocksHtml(blocks.map((b): Block =>
    b.kind === "figure"
      ? {
        kind: "markdown",
        markdown: "",
        html: `<figure>${
          pngImgHtml(
            svgToPng(b.figure.svg, { scale: FIGURE_PNG_SCALE }),
            svgSize(b.figure.svg).width,
            b.figure.caption,
          )
        }` +
          `<figcaption>${escapeHtml(b.figure.caption)}</figcaption></figure>`,
      }
      : b
  ));
  return displayable({ "text/html": html, "text/markdown": md, "text/plain": md });
}

type TableBlock = Extract<Block, { kind: "table" }>;

/**
 * The report's family table made readable in a notebook: one table per pair set (the report puts every set's metrics
 * side by side, 12 columns on LFW), each titled with its set, and without the config-hash column (the hashes stay in
 * the report and the grid's records). The Δ and seeds columns go with the first set, the one Δ is computed on.
 */
export function compactTables(table: TableBlock): Block[] {
  const keep = table.headers.map((h) => h !== "config");
  const setOf = (h: string) => (h.includes(": ") ? h.slice(0, h.indexOf(": ")) : null);
  const sets = [...new Set(table.headers.map(setOf).filter((s): s is string => s !== null))];
  if (sets.length === 0) return [table];
  return sets.flatMap((set, k): Block[] => {
    const columns = table.headers.map((h, i) =>
      keep[i] && (i === 0 || setOf(h) === set || (k === 0 && setOf(h) === null))
    );
    const pick = <T>(cells: readonly T[]) => cells.filter((_, i) => columns[i]);
    return [
      { kind: "paragraph", text: `**${set}**` },
      {
        kind: "table",
        headers: pick(table.headers).map((h) => (setOf(h) === set ? h.slice(set.length + 2) : h)),
        rows: table.rows.map(pick),
        align: table.align ? pick(table.align) : undefined,
      },
    ];
  });
}

/**
 * The committed follow-ups of the notebook's profile (`investigates` in profiles.json, e.g. the 4× budgets of `cpu`)
 * that train `experiment`'s family: for each, a heading with its question and the family on each of its datasets, as
 * {@link familyDisplay} shows it. Empty for a retrained grid (follow-ups are committed results only).
 */
export async function followUpDisplays(
  experiment: Experiment,
  params: { source: "reference" | "retrain"; profile: string },
): Promise<Displayable[]> {
  if (params.source !== "reference") return [];
  const out: Displayable[] = [];
  for (const name of await investigationsOf(params.profile)) {
    const results = await readReference(name);
    if (!results || !experimentsIn(results, [experiment]).length) continue;
    const text = `#### Follow-up \`${name}\`\n\n${results.description} (${results.records.length} jobs, seeds ` +
      `${results.seeds.join(", ")}, committed in ${referencePath(name).replace(/^.*\/data\//, "data/")}.)`;
    out.push(displayable({ "text/markdown": text, "text/plain": text }));
    for (const d of results.datasets) out.push(familyDisplay(results, experiment, d.name));
  }
  return out;
}

/** Where the results came from: profile, machine, backend, commits, cost, seeds. */
export function provenance(r: NotebookExperiments): Displayable {
  const res = r.results;
  const text = `Results from ${r.source}: profile \`${res.profile}\` (${res.description}) on ${res.machine}, ` +
    `backend \`${res.backend}\`, kit commit ${res.kitCommits.map((c) => `\`${c.slice(0, 12)}\``).join(", ")}, ` +
    `${res.records.length} jobs, seeds ${res.seeds.join(", ")}.`;
  return displayable({ "text/markdown": text, "text/plain": text });
}

/** Verdicts of the notebook's families as key numbers: `{family: {dataset: verdict}}`. */
export function verdictNumbers(claims: readonly ClaimCheck[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const c of claims) (out[c.family] ??= {})[c.dataset] = c.verdict;
  return out;
}
