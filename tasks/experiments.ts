/**
 * `deno task experiments --profile smoke|cpu|… [--shard I/N] [--recompute] [--work results/experiments/PROFILE]
 * [--results FILE] [--data DIR] [--families a,b] [--backend NAME]`: trains a profile's grid of the paper's experiments (configs/experiments/),
 * resumable (rerun the same command after a kill) and splittable (`--shard 1/2` and `--shard 2/2` in two
 * processes; set OMP_NUM_THREADS=1 for each on a 2-core machine). When every job of the grid has a record, the
 * results file is written (default: the committed reference, data/reference/experiments-PROFILE.json; a variant
 * never overwrites it: with `--data`, results/experiments/PROFILE@FOLDER/results.json beside that grid's runs; with
 * `--families`, results-FAMILIES.json in the work folder).
 * Progress and ETA go to stderr; the last stdout line is JSON. `deno task reproduce --profile …` runs this and
 * then writes the report.
 * @module
 */
import { z } from "zod";
import { backendFlag, parseFlags, runTask, shardFlag, startBackend, taskUsage, UsageError } from "../lib/cli/flags.ts";
import { runGrid } from "../lib/experiments/grid.ts";
import { gridPaths, writeResults } from "../lib/experiments/reference.ts";
import {
  FAMILIES,
  type Family,
  loadExperiments,
  loadProfile,
  profileNames,
  withSyntheticDir,
} from "../lib/experiments/spec.ts";

const PROFILES = await profileNames();

const Flags = z.strictObject({
  backend: backendFlag,
  profile: z.string().optional().refine((p) => p === undefined || PROFILES.includes(p), {
    error: (issue) => `unknown profile ${JSON.stringify(issue.input)}; allowed: ${PROFILES.join(", ")}`,
  }),
  shard: shardFlag,
  recompute: z.boolean().default(false),
  work: z.string().optional(),
  results: z.string().optional(),
  quiet: z.boolean().default(false),
  /** Folder of the synthetic faces for the profile's synthetic datasets (generated there when absent). */
  data: z.string().min(1).optional(),
  /** Only these of the profile's families, comma-separated. */
  families: z.string().optional().transform((v, ctx) => {
    if (v === undefined) return undefined;
    const names = v.split(",").map((x) => x.trim());
    const bad = names.find((n) => !(FAMILIES as readonly string[]).includes(n));
    if (bad !== undefined) {
      ctx.addIssue({ code: "custom", message: `unknown family "${bad}"; allowed: ${FAMILIES.join(", ")}` });
      return z.NEVER;
    }
    return names as Family[];
  }),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "experiments", { paths: ["work", "results", "data"] });
  if (positionals.length) throw new UsageError(`experiments: unexpected argument ${positionals[0]}`);
  if (flags.profile === undefined) {
    // A grid runs for minutes (smoke) to hours (cpu): never start one the user did not name.
    throw new UsageError(
      `experiments: give --profile (${PROFILES.join(", ")}); smoke takes minutes, cpu about 2 hours on 2 cores\n` +
        taskUsage(),
    );
  }
  const backend = await startBackend(flags.backend);
  const loaded = await loadProfile(flags.profile);
  const onData = flags.data ? withSyntheticDir(loaded, flags.data) : loaded;
  const outside = flags.families?.filter((f) => !onData.families.includes(f)) ?? [];
  if (outside.length) {
    throw new UsageError(
      `experiments: --families: ${outside.join(", ")} not in profile ${flags.profile} (${onData.families.join(", ")})`,
    );
  }
  const profile = flags.families ? { ...onData, families: flags.families } : onData;
  const experiments = await loadExperiments(undefined, profile.families);
  const paths = gridPaths(flags.profile, { data: flags.data, families: flags.families });
  const out = await runGrid(flags.profile, profile, experiments, {
    workDir: flags.work ?? paths.workDir,
    shard: flags.shard,
    recompute: flags.recompute,
    quiet: flags.quiet,
    backend: backend.name,
  });
  const file = flags.results ?? paths.results;
  if (out.results) await writeResults(file, out.results);
  console.log(JSON.stringify({
    profile: flags.profile,
    jobs: out.jobs,
    missing: out.missing,
    results: out.results ? file : null,
    seconds: Number(out.seconds.toFixed(1)),
  }));
});
