/**
 * The reproduction pipeline behind `deno task reproduce`, headless, into one results folder (`report.md`,
 * `report.html`, `figures/`, JSON) that replaces a previous one only once complete:
 * 1. the paper's loss analyses (pure float64 maths);
 * 2. the profile's single run, if it has one (smoke: SphereFace2 on the synthetic faces, verified against its random
 *    initialisation);
 * 3. the paper's experiments (configs/experiments/) on the profile's grid, or its committed reference.
 *
 * What differs between profiles is data, not code: the `reproduce` fields of `configs/experiments/profiles.json`
 * ({@link ReproduceSpec}: singleRun, dataFlag, reference, scratch, requireData, showReference, sectionTitle), read by
 * {@link reproduceDecisions}.
 *
 * @example
 * ```ts
 * import { reproduce } from "./pipeline.ts";
 * const r = await reproduce({ profile: "smoke", out: "results/reproduce", points: 21, trainSteps: 0,
 *   skipExperiments: true, backend: { name: "cpu", message: "backend: cpu" } });
 * console.log(r.summary.report);
 * ```
 * @module
 */
import { lossAnalyses } from "../analysis/loss_terms.ts";
import { UsageError } from "../cli/flags.ts";
import { ensureSyntheticDataset } from "../data/synthetic.ts";
import { checkClaims } from "../experiments/claims.ts";
import { type GridResults, runGrid } from "../experiments/grid.ts";
import { planProfile } from "../experiments/plan.ts";
import { gridPaths, readReference, REFERENCE_DIR, referencePath, writeResults } from "../experiments/reference.ts";
import {
  EXPERIMENTS_DIR,
  investigationsOf,
  loadExperiments,
  loadProfile,
  type Profile,
  withSyntheticDir,
} from "../experiments/spec.ts";
import { experimentsIn } from "../experiments/summary.ts";
import { pathExists } from "../fs/paths.ts";
import { type Block, toHtml, toMarkdown } from "../report/document.ts";
import { experimentsSection } from "../report/experiments_report.ts";
import { lossFigures } from "../report/loss_figures.ts";
import { lossReport } from "../report/loss_report.ts";
import { runMetadata } from "../fs/metadata.ts";
import { trainingFigures, trainingSection } from "../report/training_report.ts";
import { formatJson, writeDirAtomic, writeFileIn } from "../fs/write.ts";
import { loadTrainConfig, type TrainConfig } from "../train/config.ts";
import { trainAndEvaluate } from "../train/experiment.ts";

export interface ReproduceOptions {
  profile: string;
  out: string;
  /** Retrain the grid even when the profile has a committed reference. */
  recompute?: boolean;
  /** Loss analyses (and the single run) only. */
  skipExperiments?: boolean;
  /** Print the plan, the data it needs and a time and memory estimate; train nothing. */
  dryRun?: boolean;
  /** `[index, count]`: this process's share of the grid. */
  shard?: [number, number];
  /** The grid's work folder (default: results/experiments/NAME, or a temporary one for a `scratch` profile). */
  work?: string;
  points: number;
  /** Steps of the single run (default: the profile's; 0: no single run). */
  trainSteps?: number;
  /** Config of the single run (default: the profile's). */
  trainConfig?: string;
  /** Synthetic-face folder of the single run and of a `dataFlag` profile's grid (default data/cache/synthetic). */
  data?: string;
  backend: { name: string; message: string };
  /** Where profiles.json and the experiment files are (tests). */
  experimentsDir?: string;
  /** Where the committed references are (tests). */
  referenceDir?: string;
}

/** What the pipeline does for a profile and options: every branch of {@link reproduce}, as data. */
export interface ReproduceDecisions {
  /** The profile as trained (its synthetic datasets pointed at `--data` for a `dataFlag` profile). */
  profile: Profile;
  /** Read the committed reference (when present) instead of training the grid. */
  readReference: boolean;
  /** Write the grid's results as the committed reference. */
  writeReference: boolean;
  /** Train in a temporary folder removed afterwards. */
  scratch: boolean;
  /** Refuse to train when the plan's data is missing. */
  requireData: boolean;
  /** The single run: its config file, steps and data folder; null when none. */
  singleRun: { config: string; steps: number; data: string } | null;
  /** Another profile whose committed reference is shown first (and on which the claims are checked). */
  showReference: string | null;
  /** Heading of the grid's section. */
  sectionTitle: string;
}

/** The default synthetic-face folder of `--data`. */
export const DEFAULT_DATA = "data/cache/synthetic";

/** Reads the profile's `reproduce` fields into decisions (pure: no file is read). */
export function reproduceDecisions(name: string, loaded: Profile, options: ReproduceOptions): ReproduceDecisions {
  const r = loaded.reproduce;
  const data = options.data ?? DEFAULT_DATA;
  const steps = options.trainSteps ?? r.singleRun?.steps ?? 0;
  return {
    profile: r.dataFlag ? withSyntheticDir(loaded, data) : loaded,
    readReference: r.reference,
    writeReference: r.reference,
    scratch: r.scratch && !options.work,
    requireData: r.requireData,
    singleRun: r.singleRun && steps > 0 ? { config: options.trainConfig ?? r.singleRun.config, steps, data } : null,
    showReference: options.skipExperiments ? null : r.showReference ?? null,
    sectionTitle: r.sectionTitle ??
      `Trained experiments: the kit's reproduction of the paper's Section 3 (profile \`${name}\`)`,
  };
}

export interface ReproduceResult {
  /** Lines for stdout before the summary (the dry run's plan). */
  lines: string[];
  /** The summary (the task prints it as its last stdout line). */
  summary: Record<string, unknown>;
}

const say = (line: string) => console.error(`reproduce: ${line}`);

/** Runs the pipeline; progress on stderr. See the module doc. */
export async function reproduce(options: ReproduceOptions): Promise<ReproduceResult> {
  const started = performance.now();
  const name = options.profile;
  const experimentsDir = options.experimentsDir ?? EXPERIMENTS_DIR;
  const referenceDir = options.referenceDir ?? REFERENCE_DIR;
  const d = reproduceDecisions(name, await loadProfile(name, experimentsDir), options);
  const profile = d.profile;
  const experiments = await loadExperiments(experimentsDir, profile.families);

  if (options.dryRun) {
    say(`planning profile ${name} (measuring training steps)`);
    const plan = await planProfile(name, profile, experiments, { workDir: options.work });
    return {
      lines: plan.lines,
      summary: {
        profile: name,
        dryRun: true,
        jobs: plan.jobs,
        trainingJobs: plan.trainingJobs,
        missingData: plan.data.filter((x) => !x.present).map((x) => x.path),
        estimate: plan.estimate,
        totalHours: plan.totalSeconds === null ? null : Number((plan.totalSeconds / 3600).toFixed(2)),
      },
    };
  }

  // 1. The grid first: a shard that leaves others unfinished writes no report.
  let grid: GridResults | null;
  const reference = d.readReference ? await readReference(name, referenceDir) : null;
  if (options.skipExperiments) {
    grid = null;
  } else if (reference && !options.recompute && !options.shard) {
    say(`using the committed ${referencePath(name, referenceDir)} (--recompute retrains)`);
    grid = reference;
  } else {
    if (d.requireData) {
      const plan = await planProfile(name, profile, experiments, { measure: false });
      const missing = plan.data.filter((x) => !x.present);
      if (missing.length) {
        throw new UsageError(
          `reproduce: profile ${name} needs data that is missing:\n${
            missing.map((m) => `  ${m.path}: ${m.what}`).join("\n")
          }\n` +
            `see \`deno task reproduce --profile ${name} --dry-run\``,
        );
      }
    }
    // A scratch grid is minutes and never resumed: a private folder keeps concurrent runs apart.
    const scratch = d.scratch ? await Deno.makeTempDir({ prefix: `sf2-${name}-` }) : null;
    const outcome = await runGrid(name, profile, experiments, {
      workDir: options.work ?? scratch ?? gridPaths(name).workDir,
      shard: options.shard,
      recompute: options.recompute,
      backend: options.backend.name,
    }).finally(() => scratch && Deno.remove(scratch, { recursive: true }));
    grid = outcome.results;
    if (!grid) {
      say(`${outcome.missing} jobs of the grid are still without results (other shards); no report yet`);
      return { lines: [], summary: { profile: name, jobs: outcome.jobs, missing: outcome.missing, report: null } };
    }
    if (d.writeReference) {
      const results = referencePath(name, referenceDir);
      await writeResults(results, grid);
      say(`wrote ${results}`);
    }
  }
  // The committed reference of another profile (smoke shows cpu's: the numbers that mean something).
  const shown = d.showReference ? await readReference(d.showReference, referenceDir) : null;
  // Follow-ups (longer budgets) of the reference shown, or of this profile's grid, shown after it when committed.
  const investigated = shown ? d.showReference : grid ? name : null;
  const investigations: GridResults[] = [];
  if (investigated) {
    for (const follow of await investigationsOf(investigated, experimentsDir)) {
      const r = await readReference(follow, referenceDir);
      if (r) investigations.push(r);
    }
  }

  say(`profile ${name}: loss analyses on ${options.points} points`);
  const analyses = lossAnalyses({ points: options.points });
  const figures = lossFigures(analyses);
  const meta = await runMetadata({ profile: name, points: options.points, backend: options.backend.name });

  let config: TrainConfig | null = null;
  if (d.singleRun) {
    const run = d.singleRun;
    config = await loadTrainConfig(run.config, [`--train.steps=${run.steps}`, `--data.dir=${run.data}`]);
    if (!(await pathExists(`${run.data}/pairs.txt`))) {
      say(`generating the embedded synthetic face dataset into ${run.data}`);
      await ensureSyntheticDataset(run.data);
    }
  }

  say(`writing ${options.out}`);
  const training = await writeDirAtomic(options.out, async (dir) => {
    const svgs = new Map<string, string>();
    const blocks: Block[] = [];
    let trainingSummary: Record<string, unknown> | null = null;
    let trainingMd = "";
    if (config && d.singleRun) {
      say(`training ${config.name} for ${config.train.steps} steps`);
      const t0 = performance.now();
      const r = await trainAndEvaluate(config, {
        runDir: `${dir}/train/${config.name}`,
        backendDetail: options.backend.message,
      });
      const seconds = (performance.now() - t0) / 1000;
      const trainFigures = trainingFigures(r);
      for (const f of trainFigures) svgs.set(`figures/${f.file}`, f.svg);
      trainingMd = trainingSection(
        r,
        config,
        { seconds, dataset: d.singleRun.data, backend: options.backend.message },
        trainFigures,
      );
      const pick = (model: string, metric: string, protocol: RegExp) =>
        r.evaluations.find((e) => e.model === model)?.table.find((t) =>
          t.metric === metric && protocol.test(t.protocol)
        )?.value;
      trainingSummary = {
        config: config.name,
        steps: r.train.steps,
        seconds: Number(seconds.toFixed(1)),
        finalLoss: r.train.finalLoss,
        accBestThreshold: { randomInit: pick("random init", "ACC", /best/), trained: pick("trained", "ACC", /best/) },
        acc10Fold: { randomInit: pick("random init", "ACC", /10-fold/), trained: pick("trained", "ACC", /10-fold/) },
      };
      await writeFileIn(
        dir,
        "training.json",
        formatJson({ meta, summary: trainingSummary, curve: r.curve, evaluations: r.evaluations }),
      );
    }
    for (const f of figures) svgs.set(`figures/${f.file}`, f.svg);
    const svgFor = (src: string) => svgs.get(src);
    blocks.push({ kind: "markdown", markdown: lossReport(analyses, figures, meta), svgFor });
    if (trainingMd) blocks.push({ kind: "markdown", markdown: trainingMd, svgFor });

    const sections: Array<[GridResults, string, string]> = grid ? [[grid, name, d.sectionTitle]] : [];
    if (shown && d.showReference) {
      sections.unshift([
        shown,
        d.showReference,
        `Trained experiments: the kit's reproduction of the paper's Section 3 (committed \`${d.showReference}\` reference)`,
      ]);
    }
    for (const r of investigations) {
      sections.push([r, r.profile, `Investigation (profile \`${r.profile}\`, a follow-up of \`${investigated}\`)`]);
    }
    for (const [results, prefix, title] of sections) {
      const s = experimentsSection(results, experimentsIn(results, experiments), { prefix, title });
      for (const f of s.figures) await writeFileIn(dir, `figures/${f.file}`, f.svg);
      blocks.push(...s.blocks);
      await writeFileIn(dir, `experiments-${prefix}.json`, formatJson(results));
    }
    for (const [file, svg] of svgs) await writeFileIn(dir, file, svg);
    await writeFileIn(dir, "analyses.json", formatJson({ meta, ...analyses }));
    await writeFileIn(dir, "report.md", toMarkdown(blocks));
    await writeFileIn(dir, "report.html", toHtml(blocks, "SphereFace2: the kit's reproduction"));
    return trainingSummary;
  });

  const claimSource = shown ?? grid;
  const claims = claimSource ? checkClaims(claimSource, experiments) : [];
  const worst = Math.max(...analyses.initialBias.map((r) => Math.abs(r.b0 - r.reference)));
  say(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return {
    lines: [],
    summary: {
      out: options.out,
      profile: name,
      figures: figures.length,
      report: `${options.out}/report.md`,
      html: `${options.out}/report.html`,
      analyses: `${options.out}/analyses.json`,
      b0: Object.fromEntries(analyses.initialBias.map((r) => [r.setting, Number(r.b0.toFixed(6))])),
      b0MaxDeviation: Number(worst.toExponential(2)),
      training,
      experiments: grid ? { profile: grid.profile, records: grid.records.length } : null,
      claims: Object.fromEntries(claims.map((c) => [`${c.family}/${c.dataset}`, c.verdict])),
      kitCommit: meta.kitCommit,
    },
  };
}
