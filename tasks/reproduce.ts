/**
 * `deno task reproduce [--profile smoke|cpu|paper|…] [--out results/reproduce] [--recompute] [--dry-run]
 * [--shard I/N] [--work DIR] [--skip-experiments] [--points 201] [--train-steps N] [--train-config FILE] [--data DIR] [--backend NAME]`:
 * the reproduction pipeline (lib/reproduce/pipeline.ts), headless, into `--out` (`report.md`, `report.html`,
 * `figures/`, JSON), which replaces a previous results folder only once complete:
 * 1. the paper's loss analyses (pure float64 maths);
 * 2. the profile's single run, if it has one (`smoke`: SphereFace2 trained on the embedded synthetic faces, 1,000
 *    steps, ~1.5 min, verified against its random initialisation);
 * 3. the paper's experiments (configs/experiments/) on the profile's grid:
 *    - `smoke` (default, minutes): every row trained for real, tiny; plus the committed `cpu` reference tables;
 *    - `cpu`: the committed reference (data/reference/experiments-cpu.json) unless `--recompute` retrains the grid
 *      (about 1 h on 2 cores, resumable after a kill: rerun the command; `--shard 1/2` and `--shard 2/2` split it
 *      across processes, the last one to finish writes the reference and the report);
 *    - `paper`: the paper's own configurations on user-supplied VGGFace2; `--dry-run` prints the plan, the data it
 *      needs and a time and memory estimate from measured steps.
 * What each profile does is stated by its `reproduce` fields in configs/experiments/profiles.json.
 * Progress and ETA go to stderr; the last stdout line is JSON.
 * @module
 */
import { z } from "zod";
import { backendFlag, parseFlags, runTask, shardFlag, startBackend, UsageError } from "../lib/cli/flags.ts";
import { profileNames } from "../lib/experiments/spec.ts";
import { reproduce } from "../lib/reproduce/pipeline.ts";

const PROFILES = await profileNames();

const Flags = z.strictObject({
  backend: backendFlag,
  out: z.string().min(1).default("results/reproduce"),
  profile: z.string().default("smoke").refine((p) => PROFILES.includes(p), {
    error: (issue) => `unknown profile ${JSON.stringify(issue.input)}; allowed: ${PROFILES.join(", ")}`,
  }),
  recompute: z.boolean().default(false),
  /** Loss analyses (and the profile's single run) only. */
  skipExperiments: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  shard: shardFlag,
  work: z.string().optional(),
  points: z.coerce.number().int().min(3).max(100_001).default(201),
  /** Default: the profile's single run (`reproduce.singleRun` of profiles.json). */
  trainSteps: z.coerce.number().int().min(0).max(10_000_000).optional(),
  trainConfig: z.string().min(1).optional(),
  data: z.string().min(1).default("data/cache/synthetic"),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "reproduce");
  if (positionals.length) throw new UsageError(`reproduce: unexpected argument ${positionals[0]}`);
  const backend = await startBackend(flags.backend);
  const { lines, summary } = await reproduce({ ...flags, backend });
  for (const line of lines) console.log(line);
  console.log(JSON.stringify(summary));
});
