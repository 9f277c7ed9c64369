/**
 * The run folder of a training run, opened safely: locked while in use (`run.lock` with the pid; a lock whose
 * process died is taken over), a fresh run refuses a non-empty folder that `train` did not create (a dataset, a
 * foreign `run.json`, anything without the `.sf2-run` marker), and what a killed run left behind is cleaned up:
 * `*.tmp-PID` files of dead writers always, and the log and metrics of a run killed before its first checkpoint
 * when it starts again.
 *
 * @example
 * ```ts
 * import { openRunDir } from "./run_dir.ts";
 * const dir = await openRunDir("/tmp/demo-run", { resume: false });
 * // … write run.json, log.jsonl, checkpoint.sf2 into dir.paths …
 * dir.close();
 * ```
 * @module
 */
import { join } from "node:path";
import { acquireLock, removeStaleTemps } from "../fs/lock.ts";
import { isDir, pathExists } from "../fs/paths.ts";

/** File names inside a run folder. */
export const RUN_FILES = {
  run: "run.json",
  log: "log.jsonl",
  checkpoint: "checkpoint.sf2",
  metrics: "metrics.json",
  /** Held while a process trains into the folder (JSON with its pid). */
  lock: "run.lock",
  /** Marks a folder created by `train`: a fresh run may reuse it (after a kill), but no other folder. */
  marker: ".sf2-run",
} as const;

export interface RunDir {
  runDir: string;
  paths: { run: string; log: string; checkpoint: string; metrics: string };
  /** Whether this call created the folder (removed again by `close(true)`). */
  created: boolean;
  /** Releases the lock; with `discard`, removes a folder this call created (nothing of value is in it yet). */
  close(discard?: boolean): void;
}

/** Whether the folder's contents show that `train` created it (the marker, or a run.json as `train` writes it). */
async function ownedByTrain(runDir: string): Promise<boolean> {
  if (await pathExists(join(runDir, RUN_FILES.marker))) return true;
  try {
    // Run folders written before the marker existed: a run.json with train's fields.
    const record = JSON.parse(await Deno.readTextFile(join(runDir, RUN_FILES.run)));
    return typeof record === "object" && record !== null && "config" in record && "started" in record &&
      "kitCommit" in record;
  } catch {
    return false;
  }
}

/** Entries that do not make a folder "used": the lock and temp files (judged after locking). */
const incidental = (name: string) => name === RUN_FILES.lock || /\.tmp-\d+$/.test(name);

/**
 * Opens `runDir` for a run: takes the lock, then refuses a foreign non-empty folder (fresh runs; the lock file is
 * removed again), removes stale temp files, and checks the checkpoint against `resume` (required when resuming;
 * refused on a fresh run).
 */
export async function openRunDir(runDir: string, options: { resume?: boolean }): Promise<RunDir> {
  const paths = {
    run: join(runDir, RUN_FILES.run),
    log: join(runDir, RUN_FILES.log),
    checkpoint: join(runDir, RUN_FILES.checkpoint),
    metrics: join(runDir, RUN_FILES.metrics),
  };
  const existed = await pathExists(runDir);
  if (existed && !(await isDir(runDir))) throw new Error(`${runDir} exists and is not a folder`);
  try {
    await Deno.mkdir(runDir, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the run folder ${runDir}: ${(err as Error).message}`);
  }
  const created = !existed;
  // Not removed when the lock is refused, even if this call created the folder: the owner is using it.
  const release = await acquireLock(join(runDir, RUN_FILES.lock), `run folder ${runDir}`);
  const close = (discard = false) => {
    release();
    if (discard && created) {
      try {
        Deno.removeSync(runDir, { recursive: true });
      } catch {
        // Already gone.
      }
    }
  };
  try {
    // Checked under the lock: a concurrent run's marker must not make this folder look foreign, nor the reverse.
    if (existed && !options.resume && !(await ownedByTrain(runDir))) {
      for await (const e of Deno.readDir(runDir)) {
        if (incidental(e.name)) continue;
        throw new Error(
          `refusing to train into ${runDir}: it is not empty and has no ${RUN_FILES.marker}, so train did not ` +
            `create it (found ${e.name}); choose another --out or empty the folder`,
        );
      }
    }
    await removeStaleTemps(runDir);
    const hasCheckpoint = await pathExists(paths.checkpoint);
    if (options.resume && !hasCheckpoint) throw new Error(`cannot resume: ${paths.checkpoint} does not exist`);
    if (!options.resume) {
      if (hasCheckpoint) {
        throw new Error(
          `${runDir} already holds a run (${RUN_FILES.checkpoint}); resume it or choose another output folder`,
        );
      }
      // A run killed before its first checkpoint: start over, not append to its log.
      for (const stale of [paths.log, paths.metrics]) await Deno.remove(stale).catch(() => {});
    }
    await Deno.writeTextFile(join(runDir, RUN_FILES.marker), "Created by the SphereFace2 kit's train.\n");
  } catch (err) {
    close(true);
    throw err;
  }
  return { runDir, paths, created, close };
}
