/**
 * `deno task reproduce [--out results/reproduce] [--profile smoke] [--points 201] [--train-steps N]
 * [--train-config FILE] [--data DIR] [--backend NAME]`: the reproduction pipeline, headless:
 * 1. the paper's loss analyses (pure float64 maths): `analyses.json` and figures;
 * 2. training SphereFace2 on the kit's embedded synthetic face dataset (generated into `--data` on first use; no
 *    download), then verifying the trained network and its random initialisation on held-out identities.
 * Everything goes into `--out` (`report.md`, `figures/`, `train/<run>/`), which replaces a previous results folder
 * only once complete. `--train-steps 0` skips training. Progress goes to stderr; the last stdout line is JSON.
 * @module
 */
import { z } from "zod";
import { lossAnalyses } from "../lib/analysis/loss_terms.ts";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { lossFigures } from "../lib/report/loss_figures.ts";
import { lossReport } from "../lib/report/loss_report.ts";
import { runMetadata } from "../lib/report/metadata.ts";
import { trainingFigures, trainingSection } from "../lib/report/training_report.ts";
import { formatJson, writeDirAtomic, writeFileIn } from "../lib/report/write.ts";
import { writeSyntheticDataset } from "../lib/data/synthetic.ts";
import { pathExists } from "../lib/fs/paths.ts";
import { loadTrainConfig } from "../lib/train/config.ts";
import { trainAndEvaluate } from "../lib/train/experiment.ts";

/** Profiles: `smoke` (minutes on 2 CPU cores) is the only one so far; longer grids come with the experiments. */
const PROFILES = ["smoke"] as const;

/** What `smoke` trains: SFNet-10 at width 0.25 on 56×56 synthetic faces, SphereFace2-C at the paper's settings. */
const SMOKE = { config: "configs/train/cpu-synthetic-sfnet10-sphereface2.json", steps: 1000 };

const Flags = z.strictObject({
  backend: backendFlag,
  out: z.string().min(1).default("results/reproduce"),
  profile: z.enum(PROFILES, {
    error: (issue) => `unknown profile ${JSON.stringify(issue.input)}; allowed: ${PROFILES.join(", ")}`,
  }).default("smoke"),
  points: z.coerce.number().int().min(3).max(100_001).default(201),
  trainSteps: z.coerce.number().int().min(0).max(10_000_000).default(SMOKE.steps),
  trainConfig: z.string().min(1).default(SMOKE.config),
  data: z.string().min(1).default("data/cache/synthetic"),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "reproduce");
  if (positionals.length) throw new UsageError(`reproduce: unexpected argument ${positionals[0]}`);
  // Every task reports its backend; the training stage uses it.
  const backend = await startBackend(flags.backend);
  const started = performance.now();

  console.error(`reproduce: profile ${flags.profile}: loss analyses on ${flags.points} points`);
  const analyses = lossAnalyses({ points: flags.points });
  console.error("reproduce: rendering figures");
  const figures = lossFigures(analyses);
  const meta = await runMetadata({ profile: flags.profile, points: flags.points, backend: backend.name });

  const config = flags.trainSteps > 0
    ? await loadTrainConfig(flags.trainConfig, [`--train.steps=${flags.trainSteps}`, `--data.dir=${flags.data}`])
    : null;
  if (config && !(await pathExists(`${flags.data}/pairs.txt`))) {
    console.error(`reproduce: generating the embedded synthetic face dataset into ${flags.data}`);
    await writeSyntheticDataset(flags.data);
  }

  console.error(`reproduce: writing ${flags.out}`);
  const training = await writeDirAtomic(flags.out, async (dir) => {
    let section = "";
    let summary: Record<string, unknown> | null = null;
    if (config) {
      console.error(`reproduce: training ${config.name} for ${config.train.steps} steps`);
      const t0 = performance.now();
      const r = await trainAndEvaluate(config, {
        runDir: `${dir}/train/${config.name}`,
        backendDetail: backend.message,
      });
      const seconds = (performance.now() - t0) / 1000;
      const trainFigures = trainingFigures(r);
      for (const f of trainFigures) await writeFileIn(dir, `figures/${f.file}`, f.svg);
      section = trainingSection(r, config, { seconds, dataset: flags.data, backend: backend.message }, trainFigures);
      const pick = (model: string, metric: string, protocol: RegExp) =>
        r.evaluations.find((e) => e.model === model)?.table.find((t) =>
          t.metric === metric && protocol.test(t.protocol)
        )
          ?.value;
      summary = {
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
        formatJson({ meta, summary, curve: r.curve, evaluations: r.evaluations }),
      );
    }
    await writeFileIn(dir, "analyses.json", formatJson({ meta, ...analyses }));
    for (const f of figures) await writeFileIn(dir, `figures/${f.file}`, f.svg);
    await writeFileIn(dir, "report.md", lossReport(analyses, figures, meta) + (section ? `\n${section}\n` : ""));
    return summary;
  });

  const worst = Math.max(...analyses.initialBias.map((r) => Math.abs(r.b0 - r.reference)));
  console.error(`reproduce: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify({
    out: flags.out,
    profile: flags.profile,
    figures: figures.length,
    report: `${flags.out}/report.md`,
    analyses: `${flags.out}/analyses.json`,
    b0: Object.fromEntries(analyses.initialBias.map((r) => [r.setting, Number(r.b0.toFixed(6))])),
    b0MaxDeviation: Number(worst.toExponential(2)),
    training,
    kitCommit: meta.kitCommit,
  }));
});
