/**
 * `deno task reproduce [--out results/reproduce] [--profile smoke] [--points 201] [--backend NAME]`: the
 * reproduction pipeline. Until training lands it runs the paper's loss analyses (pure float64 maths) and writes
 * `analyses.json`, `figures/*.svg` and `report.md` into `--out`, replacing a previous results folder only once
 * the new one is complete. Progress goes to stderr; the last stdout line is a JSON summary.
 * @module
 */
import { z } from "zod";
import { lossAnalyses } from "../lib/analysis/loss_terms.ts";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { lossFigures } from "../lib/report/loss_figures.ts";
import { lossReport } from "../lib/report/loss_report.ts";
import { runMetadata } from "../lib/report/metadata.ts";
import { formatJson, writeDirAtomic, writeFileIn } from "../lib/report/write.ts";

/** Profiles: `smoke` is the only one until training exists (then: the paper's full runs). */
const PROFILES = ["smoke"] as const;

const Flags = z.strictObject({
  backend: backendFlag,
  out: z.string().min(1).default("results/reproduce"),
  profile: z.enum(PROFILES, {
    error: (issue) => `unknown profile ${JSON.stringify(issue.input)}; allowed: ${PROFILES.join(", ")}`,
  }).default("smoke"),
  points: z.coerce.number().int().min(3).max(100_001).default(201),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "reproduce");
  if (positionals.length) throw new UsageError(`reproduce: unexpected argument ${positionals[0]}`);
  // The analyses are pure maths, but every task reports its backend, and training will use it.
  const backend = await startBackend(flags.backend);
  const started = performance.now();

  console.error(`reproduce: profile ${flags.profile}: loss analyses on ${flags.points} points`);
  const analyses = lossAnalyses({ points: flags.points });
  console.error("reproduce: rendering figures");
  const figures = lossFigures(analyses);
  const meta = await runMetadata({ profile: flags.profile, points: flags.points, backend: backend.name });

  console.error(`reproduce: writing ${flags.out}`);
  await writeDirAtomic(flags.out, async (dir) => {
    await writeFileIn(dir, "analyses.json", formatJson({ meta, ...analyses }));
    for (const f of figures) await writeFileIn(dir, `figures/${f.file}`, f.svg);
    await writeFileIn(dir, "report.md", lossReport(analyses, figures, meta));
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
    kitCommit: meta.kitCommit,
  }));
});
