/**
 * `deno task train CONFIG [--path.to.key=value …] [--out DIR] [--resume] [--backend NAME] [--quiet]`: trains the
 * experiment of a JSON config (configs/train/*.json) into a run folder (default `results/train/NAME`):
 * run.json, log.jsonl, checkpoint.sf2, metrics.json. Overrides are dotted config paths validated like the file
 * (`--train.steps=100 --head.lambda=0.5 --seed=3`); values are JSON when they parse as JSON, strings otherwise.
 * `--resume` continues an interrupted run from its checkpoint (bit-identical to an uninterrupted run on the same
 * backend); Ctrl-C stops after the current step with a checkpoint (exit 130), so `--resume` continues from there.
 * The run folder is locked while in use (`run.lock`), and a fresh run refuses a non-empty folder that train did
 * not create. Relative CONFIG and `--out` are taken from the directory the command was started in. A progress bar
 * with ETA goes to stderr; the last line of stdout is a JSON summary.
 * @module
 */
import { join } from "node:path";
import { backendFlag, runTask, startBackend, UsageError, userPath } from "../lib/cli/flags.ts";
import { ConfigError, loadTrainConfig } from "../lib/train/config.ts";
import { trainRun } from "../lib/train/loop.ts";

const USAGE =
  "usage: deno task train CONFIG [--path.to.key=value ...] [--out DIR] [--resume] [--backend NAME] [--quiet]";

/** Task flags; every other `--x=…` is a config override. */
const TASK_FLAGS = new Set(["out", "resume", "backend", "quiet"]);

function splitArgs(argv: readonly string[]) {
  const positionals: string[] = [];
  const overrides: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const key = arg.slice(2, eq < 0 ? undefined : eq);
    if (TASK_FLAGS.has(key)) {
      if (eq >= 0) flags[key] = arg.slice(eq + 1);
      else if ((key === "out" || key === "backend") && i + 1 < argv.length) flags[key] = argv[++i];
      else flags[key] = true;
    } else if (eq < 0) {
      throw new UsageError(`train: ${arg}: config overrides take the form --path.to.key=value\n${USAGE}`);
    } else {
      overrides.push(arg);
    }
  }
  return { positionals, overrides, flags };
}

await runTask(async () => {
  const { positionals, overrides, flags } = splitArgs(Deno.args);
  if (positionals.length !== 1) throw new UsageError(`train: give exactly one CONFIG file\n${USAGE}`);
  for (const k of ["out", "backend"] as const) {
    if (flags[k] === true) throw new UsageError(`train: --${k} needs a value`);
  }
  let config;
  try {
    config = await loadTrainConfig(userPath(positionals[0]), overrides);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const backend = backendFlag.safeParse(flags.backend === undefined ? undefined : String(flags.backend));
  if (!backend.success) throw new UsageError(`train: --backend: ${backend.error.issues[0].message}`);
  const choice = await startBackend(backend.data);
  const outDir = typeof flags.out === "string" ? userPath(flags.out) : join("results", "train", config.name);
  const result = await trainRun(config, {
    outDir,
    resume: flags.resume === true || flags.resume === "true",
    quiet: flags.quiet === true || flags.quiet === "true",
    backendDetail: choice.message,
  });
  console.log(JSON.stringify({
    name: config.name,
    runDir: result.runDir,
    steps: result.steps,
    finalLoss: result.finalLoss,
    imagesPerSecond: result.imagesPerSecond,
    checkpoint: result.checkpointPath,
    log: result.logPath,
    validation: result.metrics,
  }));
});
