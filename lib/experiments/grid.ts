/**
 * Runs a profile's grid of jobs (see jobs.ts) with a progress line and an ETA across the whole grid, and gathers
 * the records into one small results file (no checkpoints): the tables of the report and the notebooks.
 *
 * Resumable and splittable: every finished job leaves its record in its run folder, so a killed grid restarts
 * where it stopped, and `shard: [i, n]` runs every n-th job so that n processes (or machines sharing the folder)
 * split the work; whichever finishes last finds all records and writes the results file.
 *
 * @example
 * ```ts
 * import { loadExperiments, loadProfile } from "./spec.ts";
 * import { runGrid } from "./grid.ts";
 * const profile = await loadProfile("smoke");
 * const out = await runGrid("smoke", profile, await loadExperiments(), { workDir: "results/experiments/smoke" });
 * console.log(out.results?.records.length);
 * ```
 * @module
 */
import { kitCommit } from "../fs/metadata.ts";
import { formatDuration } from "../cli/progress.ts";
import { CONTROL_CELL, DataCache, type Job, type JobRecord, planJobs, readRecord, runJob, shardJobs } from "./jobs.ts";
import { machineDescription } from "./machine.ts";
import type { Experiment, Profile } from "./spec.ts";

export const RESULTS_SCHEMA = "sf2-experiments/1";

/** The committed form of a grid's outcome. */
export interface GridResults {
  schema: typeof RESULTS_SCHEMA;
  profile: string;
  description: string;
  /** When the file was written, UTC. */
  date: string;
  machine: string;
  backend: string;
  /** Kit commits the records were produced at (one unless the grid was resumed across commits). */
  kitCommits: string[];
  /** Sum of the jobs' wall times (seconds): the grid's cost on one process. */
  jobSeconds: number;
  seeds: number[];
  datasets: Array<{ name: string; config: string; overrides: string[]; view2: boolean; note: string }>;
  /** Cell id → its head and noise ratio (as the experiment files give them) and per-dataset config hash. */
  cells: Record<string, { head: unknown; noise: number; configHash: Record<string, string> }>;
  records: JobRecord[];
}

export interface GridOptions {
  workDir: string;
  /** `[index, count]`, 1-based: run every count-th job. */
  shard?: [number, number];
  /** Retrain the jobs of this shard even when they have records. */
  recompute?: boolean;
  quiet?: boolean;
  backend?: string;
  /** Called after each job with a one-line status (default: stderr unless quiet). */
  log?: (line: string) => void;
}

export interface GridOutcome {
  jobs: number;
  /** Jobs of the whole grid still without a record. */
  missing: number;
  /** Complete results (null while other shards are unfinished). */
  results: GridResults | null;
  /** Seconds this call spent. */
  seconds: number;
}

/** Runs the grid (or one shard of it) and returns the results once every job of the grid has a record. */
export async function runGrid(
  profileName: string,
  profile: Profile,
  experiments: readonly Experiment[],
  options: GridOptions,
): Promise<GridOutcome> {
  const t0 = performance.now();
  const log = options.log ?? ((line: string) => options.quiet || console.error(line));
  const all = await planJobs(profile, experiments, options.workDir);
  const mine = options.shard ? shardJobs(all, options.shard[0], options.shard[1]) : all;
  if (options.recompute) {
    for (const job of mine) await Deno.remove(`${job.runDir}/result.json`).catch(() => {});
  }
  const commit = await kitCommit();
  const cache = new DataCache();
  const todo: Job[] = [];
  for (const job of mine) if (!(await readRecord(job))) todo.push(job);
  const shardNote = options.shard ? ` (shard ${options.shard[0]}/${options.shard[1]} of ${all.length})` : "";
  log(`grid ${profileName}: ${mine.length} jobs${shardNote}, ${mine.length - todo.length} already done`);

  // ETA from the mean job time so far, controls (evaluation only) counted apart from training jobs.
  const spent = { train: [0, 0], control: [0, 0] };
  for (const [i, job] of todo.entries()) {
    const r = await runJob(job, { cache, quiet: true, kitCommit: commit, backend: options.backend });
    const kind = job.cell === CONTROL_CELL ? "control" : "train";
    spent[kind][0] += r.seconds;
    spent[kind][1]++;
    const left = todo.slice(i + 1);
    const mean = (k: "train" | "control") => spent[k][1] ? spent[k][0] / spent[k][1] : spent.train[0] / spent.train[1];
    const eta = left.reduce((s, j) => s + mean(j.cell === CONTROL_CELL ? "control" : "train"), 0);
    const acc = r.evaluations[0]?.metrics["ACC best threshold"];
    log(
      `grid ${profileName}: ${i + 1}/${todo.length} ${job.dataset.name} ${job.cell} seed ${job.seed}: ` +
        `${r.diverged ? "diverged, " : ""}${acc === undefined ? "no pairs" : `ACC ${acc.toFixed(1)}%`} ` +
        `in ${r.seconds.toFixed(0)} s · elapsed ${formatDuration((performance.now() - t0) / 1000)} · ETA ${
          formatDuration(eta)
        }`,
    );
  }

  const records: JobRecord[] = [];
  for (const job of all) {
    const r = await readRecord(job);
    if (r) records.push(r);
  }
  const missing = all.length - records.length;
  const seconds = (performance.now() - t0) / 1000;
  if (missing) return { jobs: mine.length, missing, results: null, seconds };

  const cells: GridResults["cells"] = {};
  for (const job of all) {
    if (job.cell === CONTROL_CELL) continue;
    const c = cells[job.cell] ??= { head: job.config.head, noise: job.config.data.noiseRatio, configHash: {} };
    // The hash of the seed-0 config stands for the cell: seeds differ only in `seed`.
    c.configHash[job.dataset.name] ??= job.configHash;
  }
  const results: GridResults = {
    schema: RESULTS_SCHEMA,
    profile: profileName,
    description: profile.description,
    date: new Date().toISOString(),
    machine: await machineDescription(),
    backend: options.backend ?? "unknown",
    kitCommits: [...new Set(records.map((r) => r.kitCommit))],
    jobSeconds: Number(records.reduce((s, r) => s + r.seconds, 0).toFixed(1)),
    seeds: profile.seeds,
    datasets: profile.datasets.map((d) => ({
      name: d.name,
      config: d.config,
      overrides: d.overrides,
      view2: d.view2,
      note: d.note,
    })),
    cells,
    records,
  };
  return { jobs: mine.length, missing: 0, results, seconds };
}
