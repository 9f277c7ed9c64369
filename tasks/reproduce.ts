/**
 * `deno task reproduce [--profile smoke|cpu|paper] [--out results/reproduce] [--recompute] [--dry-run]
 * [--shard I/N] [--work DIR] [--skip-experiments] [--points 201] [--train-steps N] [--train-config FILE] [--data DIR] [--backend NAME]`:
 * the reproduction pipeline, headless, into `--out` (`report.md`, `report.html`, `figures/`, JSON), which
 * replaces a previous results folder only once complete:
 * 1. the paper's loss analyses (pure float64 maths);
 * 2. `smoke` only: SphereFace2 trained on the embedded synthetic faces (1,000 steps, ~1.5 min), verified against
 *    its random initialisation;
 * 3. the paper's experiments (configs/experiments/) on the profile's grid:
 *    - `smoke` (default, minutes): every row trained for real, tiny; plus the committed `cpu` reference tables;
 *    - `cpu`: the committed reference (data/reference/experiments-cpu.json) unless `--recompute` retrains the grid
 *      (about 1 h on 2 cores, resumable after a kill: rerun the command; `--shard 1/2` and `--shard 2/2` split it
 *      across processes, the last one to finish writes the reference and the report);
 *    - `paper`: the paper's own configurations on user-supplied VGGFace2; `--dry-run` prints the plan, the data it
 *      needs and a time and memory estimate from measured steps.
 * Progress and ETA go to stderr; the last stdout line is JSON.
 * @module
 */
import { z } from "zod";
import { lossAnalyses } from "../lib/analysis/loss_terms.ts";
import { backendFlag, parseFlags, runTask, shardFlag, startBackend, UsageError } from "../lib/cli/flags.ts";
import { checkClaims } from "../lib/experiments/claims.ts";
import { type GridResults, runGrid } from "../lib/experiments/grid.ts";
import { planProfile } from "../lib/experiments/plan.ts";
import { gridPaths, readReference, referencePath, writeResults } from "../lib/experiments/reference.ts";
import {
  investigationsOf,
  loadExperiments,
  loadProfile,
  profileNames,
  withSyntheticDir,
} from "../lib/experiments/spec.ts";
import { experimentsIn } from "../lib/experiments/summary.ts";
import { type Block, toHtml, toMarkdown } from "../lib/report/document.ts";
import { experimentsSection } from "../lib/report/experiments_report.ts";
import { lossFigures } from "../lib/report/loss_figures.ts";
import { lossReport } from "../lib/report/loss_report.ts";
import { runMetadata } from "../lib/fs/metadata.ts";
import { trainingFigures, trainingSection } from "../lib/report/training_report.ts";
import { formatJson, writeDirAtomic, writeFileIn } from "../lib/fs/write.ts";
import { ensureSyntheticDataset } from "../lib/data/synthetic.ts";
import { pathExists } from "../lib/fs/paths.ts";
import { loadTrainConfig } from "../lib/train/config.ts";
import { trainAndEvaluate } from "../lib/train/experiment.ts";

/** What `smoke` trains first: SFNet-10 at width 0.25 on 56×56 synthetic faces, SphereFace2-C at the paper's settings. */
const SMOKE = { config: "configs/train/cpu-synthetic-sfnet10-sphereface2.json", steps: 1000 };
const PROFILES = await profileNames();

const Flags = z.strictObject({
  backend: backendFlag,
  out: z.string().min(1).default("results/reproduce"),
  profile: z.string().default("smoke").refine((p) => PROFILES.includes(p), {
    error: (issue) => `unknown profile ${JSON.stringify(issue.input)}; allowed: ${PROFILES.join(", ")}`,
  }),
  recompute: z.boolean().default(false),
  /** Loss analyses (and smoke's single training) only. */
  skipExperiments: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  shard: shardFlag,
  work: z.string().optional(),
  points: z.coerce.number().int().min(3).max(100_001).default(201),
  trainSteps: z.coerce.number().int().min(0).max(10_000_000).default(SMOKE.steps),
  trainConfig: z.string().min(1).default(SMOKE.config),
  data: z.string().min(1).default("data/cache/synthetic"),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "reproduce");
  if (positionals.length) throw new UsageError(`reproduce: unexpected argument ${positionals[0]}`);
  const backend = await startBackend(flags.backend);
  const started = performance.now();
  const loaded = await loadProfile(flags.profile);
  // The smoke grid trains on the same synthetic folder as the single run (--data).
  const profile = flags.profile === "smoke" ? withSyntheticDir(loaded, flags.data) : loaded;
  const experiments = await loadExperiments(undefined, profile.families);

  if (flags.dryRun) {
    console.error(`reproduce: planning profile ${flags.profile} (measuring training steps)`);
    const plan = await planProfile(flags.profile, profile, experiments, { workDir: flags.work });
    for (const line of plan.lines) console.log(line);
    console.log(JSON.stringify({
      profile: flags.profile,
      dryRun: true,
      jobs: plan.jobs,
      trainingJobs: plan.trainingJobs,
      missingData: plan.data.filter((d) => !d.present).map((d) => d.path),
      estimate: plan.estimate,
      totalHours: plan.totalSeconds === null ? null : Number((plan.totalSeconds / 3600).toFixed(2)),
    }));
    return;
  }

  // 1. The grid first: a shard that leaves others unfinished writes no report.
  let grid: GridResults | null;
  const reference = flags.profile === "smoke" ? null : await readReference(flags.profile);
  if (flags.skipExperiments) {
    grid = null;
  } else if (reference && !flags.recompute && !flags.shard) {
    console.error(`reproduce: using the committed ${referencePath(flags.profile)} (--recompute retrains)`);
    grid = reference;
  } else {
    if (flags.profile === "paper") {
      const plan = await planProfile(flags.profile, profile, experiments, { measure: false });
      const missing = plan.data.filter((d) => !d.present);
      if (missing.length) {
        throw new UsageError(
          `reproduce: profile paper needs data that is missing:\n${
            missing.map((m) => `  ${m.path}: ${m.what}`).join("\n")
          }\n` +
            "see `deno task reproduce --profile paper --dry-run`",
        );
      }
    }
    // smoke is minutes and never resumed: a private folder keeps concurrent runs apart.
    const scratch = flags.profile === "smoke" && !flags.work ? await Deno.makeTempDir({ prefix: "sf2-smoke-" }) : null;
    const outcome = await runGrid(flags.profile, profile, experiments, {
      workDir: flags.work ?? scratch ?? gridPaths(flags.profile).workDir,
      shard: flags.shard,
      recompute: flags.recompute,
      backend: backend.name,
    }).finally(() => scratch && Deno.remove(scratch, { recursive: true }));
    grid = outcome.results;
    if (!grid) {
      console.error(
        `reproduce: ${outcome.missing} jobs of the grid are still without results (other shards); no report yet`,
      );
      console.log(
        JSON.stringify({ profile: flags.profile, jobs: outcome.jobs, missing: outcome.missing, report: null }),
      );
      return;
    }
    if (flags.profile !== "smoke") {
      const { results } = gridPaths(flags.profile);
      await writeResults(results, grid);
      console.error(`reproduce: wrote ${results}`);
    }
  }
  // smoke also shows the committed cpu reference: the numbers that mean something.
  const cpuReference = flags.profile === "smoke" && !flags.skipExperiments ? await readReference("cpu") : null;
  // Follow-ups of the cpu grid (longer budgets), shown after it when committed.
  const investigations: GridResults[] = [];
  if (cpuReference || (flags.profile === "cpu" && grid)) {
    for (const name of await investigationsOf("cpu")) {
      const r = await readReference(name);
      if (r) investigations.push(r);
    }
  }

  console.error(`reproduce: profile ${flags.profile}: loss analyses on ${flags.points} points`);
  const analyses = lossAnalyses({ points: flags.points });
  const figures = lossFigures(analyses);
  const meta = await runMetadata({ profile: flags.profile, points: flags.points, backend: backend.name });

  const config = flags.profile === "smoke" && flags.trainSteps > 0
    ? await loadTrainConfig(flags.trainConfig, [`--train.steps=${flags.trainSteps}`, `--data.dir=${flags.data}`])
    : null;
  if (config && !(await pathExists(`${flags.data}/pairs.txt`))) {
    console.error(`reproduce: generating the embedded synthetic face dataset into ${flags.data}`);
    await ensureSyntheticDataset(flags.data);
  }

  console.error(`reproduce: writing ${flags.out}`);
  const summary = await writeDirAtomic(flags.out, async (dir) => {
    const svgs = new Map<string, string>();
    const blocks: Block[] = [];
    let trainingSummary: Record<string, unknown> | null = null;
    let trainingMd = "";
    if (config) {
      console.error(`reproduce: training ${config.name} for ${config.train.steps} steps`);
      const t0 = performance.now();
      const r = await trainAndEvaluate(config, {
        runDir: `${dir}/train/${config.name}`,
        backendDetail: backend.message,
      });
      const seconds = (performance.now() - t0) / 1000;
      const trainFigures = trainingFigures(r);
      for (const f of trainFigures) svgs.set(`figures/${f.file}`, f.svg);
      trainingMd = trainingSection(r, config, { seconds, dataset: flags.data, backend: backend.message }, trainFigures);
      const pick = (model: string, metric: string, protocol: RegExp) =>
        r.evaluations.find((e) => e.model === model)?.table.find((t) =>
          t.metric === metric && protocol.test(t.protocol)
        )
          ?.value;
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

    const sections: Array<[GridResults, string, string]> = grid
      ? [[
        grid,
        flags.profile,
        flags.profile === "smoke"
          ? "Trained experiments, smoke scale (paths executed; the numbers mean nothing at 40 steps)"
          : `Trained experiments: the kit's reproduction of the paper's Section 3 (profile \`${flags.profile}\`)`,
      ]]
      : [];
    if (cpuReference) {
      sections.unshift([
        cpuReference,
        "cpu",
        "Trained experiments: the kit's reproduction of the paper's Section 3 (committed `cpu` reference)",
      ]);
    }
    for (const r of investigations) {
      sections.push([r, r.profile, `Investigation (profile \`${r.profile}\`, a follow-up of \`cpu\`)`]);
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

  const claimSource = cpuReference ?? grid;
  const claims = claimSource ? checkClaims(claimSource, experiments) : [];
  const worst = Math.max(...analyses.initialBias.map((r) => Math.abs(r.b0 - r.reference)));
  console.error(`reproduce: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify({
    out: flags.out,
    profile: flags.profile,
    figures: figures.length,
    report: `${flags.out}/report.md`,
    html: `${flags.out}/report.html`,
    analyses: `${flags.out}/analyses.json`,
    b0: Object.fromEntries(analyses.initialBias.map((r) => [r.setting, Number(r.b0.toFixed(6))])),
    b0MaxDeviation: Number(worst.toExponential(2)),
    training: summary,
    experiments: grid ? { profile: grid.profile, records: grid.records.length } : null,
    claims: Object.fromEntries(claims.map((c) => [`${c.family}/${c.dataset}`, c.verdict])),
    kitCommit: meta.kitCommit,
  }));
});
