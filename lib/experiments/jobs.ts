/**
 * The units of an experiment grid. A *job* is one training run (a cell on a dataset with a seed) or the
 * random-initialisation control of a dataset and seed; it writes its record to `<runDir>/result.json` (atomically,
 * last), so a grid killed at any moment restarts where it stopped: finished jobs are read back, an interrupted one
 * resumes from its last checkpoint (bit-identical to an uninterrupted run).
 *
 * @example
 * ```ts
 * import { loadExperiments, loadProfile } from "./spec.ts";
 * import { planJobs, runJob } from "./jobs.ts";
 * const profile = await loadProfile("smoke");
 * const jobs = await planJobs(profile, await loadExperiments(), "results/experiments/smoke");
 * const record = await runJob(jobs[0], { quiet: true });
 * console.log(record.evaluations[0].metrics);
 * ```
 * @module
 */
import { pathExists } from "../fs/paths.ts";
import type { HeadConfig } from "../losses/config.ts";
import { createModel, type Model } from "../models/registry.ts";
import { configSource, parseTrainConfig, resolveTrainConfig, type TrainConfig } from "../train/config.ts";
import type { PairSet, TrainingData } from "../train/data.ts";
import { openTrainingData } from "../train/datasets.ts";
import { evaluateModel } from "../train/experiment.ts";
import { lfwView2PairSet } from "../train/lfw_data.ts";
import { RUN_FILES, TrainingDivergedError, trainRun } from "../train/loop.ts";
import { writeTextFileAtomic } from "../fs/write.ts";
import { sha256Hex } from "../fs/sha256.ts";
import { loadTrainedModel } from "../train/restore.ts";
import { deriveSeed } from "../random/rng.ts";
import { type DatasetSpec, distinctCells, type Experiment, type Profile } from "./spec.ts";
import { ensureSyntheticDataset, SYNTHETIC_DEFAULTS, syntheticTestPairCount } from "../data/synthetic.ts";
import { parseLfwNames } from "../data/lfw.ts";

/** The cell id of the random-initialisation control. */
export const CONTROL_CELL = "random-init";
/** The file a finished job leaves in its run folder. */
export const RESULT_FILE = "result.json";

export interface Job {
  dataset: DatasetSpec;
  cell: string;
  seed: number;
  /** The full training config (the control uses its model part only). */
  config: TrainConfig;
  /** First 12 hex digits of SHA-256 over the canonical config (name and comments left out). */
  configHash: string;
  runDir: string;
}

/** One pair set's metrics: name → value (%, as verificationTable gives them), plus the 10-fold std. */
export interface SetMetrics {
  set: string;
  pairs: number;
  metrics: Record<string, number>;
}

export interface JobRecord {
  dataset: string;
  cell: string;
  seed: number;
  configHash: string;
  kitCommit: string;
  backend: string;
  /** Wall time of this job (training + evaluation), seconds; 0 for a record read back. */
  seconds: number;
  steps: number;
  finalLoss: number | null;
  imagesPerSecond: number | null;
  /** Training stopped on a non-finite loss: the metrics are those of the last good checkpoint, if any. */
  diverged: string | null;
  evaluations: SetMetrics[];
}

/** Short metric keys used in records and tables. */
export const METRIC_KEYS = {
  bestAcc: "ACC best threshold",
  tenFoldAcc: "ACC 10-fold",
  tenFoldStd: "ACC 10-fold fold std",
} as const;

/** Canonical JSON (sorted keys), so equal configs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort((
      [a],
      [b],
    ) => a < b ? -1 : a > b ? 1 : 0);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 (first 12 hex digits) of a value's canonical JSON. */
export async function hashJson(value: unknown): Promise<string> {
  return (await sha256Hex(canonicalJson(value))).slice(0, 12);
}

/** {@link hashJson} of a training config without its name and comment. */
export function configHash(config: TrainConfig): Promise<string> {
  const { name: _name, ...rest } = config as TrainConfig & { _comment?: string };
  delete (rest as { _comment?: string })._comment;
  return hashJson(rest);
}

/**
 * The training config of one cell: the dataset's base config (with its overrides) given the row's head, noise ratio,
 * the seed and a run name, built as one raw object and validated once.
 */
export async function cellConfig(
  dataset: DatasetSpec,
  cell: string,
  head: HeadConfig,
  noise: number,
  seed: number,
): Promise<TrainConfig> {
  const raw = await resolveTrainConfig(dataset.config, dataset.overrides);
  raw.seed = seed;
  raw.name = `${dataset.name}-${cell}-seed${seed}`;
  raw.head = head;
  raw.data = { ...(raw.data as Record<string, unknown>), noiseRatio: noise };
  return parseTrainConfig(raw, `${configSource(dataset.config, dataset.overrides)} (${cell}, seed ${seed})`);
}

/**
 * Every job of a profile: for each dataset and seed, the random-init control and then each distinct cell of the
 * experiments, in a stable order (dataset, seed, cell), so a grid split with `shard` covers it exactly once.
 */
export async function planJobs(profile: Profile, experiments: readonly Experiment[], workDir: string): Promise<Job[]> {
  const cells = distinctCells(experiments.filter((e) => profile.families.includes(e.family)));
  const jobs: Job[] = [];
  for (const dataset of profile.datasets) {
    for (const seed of profile.seeds) {
      const base = await cellConfig(dataset, CONTROL_CELL, cells[0].head, 0, seed);
      jobs.push({
        dataset,
        cell: CONTROL_CELL,
        seed,
        config: base,
        // What the control depends on: the initial weights and the pairs it is verified on.
        configHash: await hashJson({
          control: CONTROL_CELL,
          seed,
          model: base.model,
          data: base.data,
          view2: dataset.view2,
        }),
        runDir: `${workDir}/runs/${dataset.name}/${CONTROL_CELL}/seed${seed}`,
      });
      for (const c of cells) {
        const config = await cellConfig(dataset, c.id, c.head, c.noise, seed);
        jobs.push({
          dataset,
          cell: c.id,
          seed,
          config,
          configHash: await configHash(config),
          runDir: `${workDir}/runs/${dataset.name}/${c.id}/seed${seed}`,
        });
      }
    }
  }
  return jobs;
}

/** Jobs `index` (1-based) of `count`: every count-th job, so shards get a similar mix of cells. */
export function shardJobs<T>(jobs: readonly T[], index: number, count: number): T[] {
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 1 && index <= count)) {
    throw new Error(`shard ${index}/${count}: expected 1 ≤ index ≤ count`);
  }
  return jobs.filter((_, i) => i % count === index - 1);
}

/** Reads a finished job's record, or null when it has none yet. */
export async function readRecord(job: Job): Promise<JobRecord | null> {
  const file = `${job.runDir}/${RESULT_FILE}`;
  if (!(await pathExists(file))) return null;
  const record = JSON.parse(await Deno.readTextFile(file)) as JobRecord;
  // A record of another config (the experiment file or base config changed since) is stale: retrain.
  return record.configHash === job.configHash ? record : null;
}

/** The verification rows of {@link evaluateModel} as a record's flat metrics (10-fold std kept apart). */
async function evaluate(model: Model, sets: readonly PairSet[], flip: boolean): Promise<SetMetrics[]> {
  return (await evaluateModel(model, sets, "", flip)).map((e) => {
    const metrics: Record<string, number> = {};
    for (const row of e.table) {
      if (row.metric === "ACC" && row.std !== undefined) {
        metrics[METRIC_KEYS.tenFoldAcc] = row.value;
        metrics[METRIC_KEYS.tenFoldStd] = row.std;
      } else if (row.metric === "ACC") metrics[METRIC_KEYS.bestAcc] = row.value;
      else metrics[row.metric] = row.value;
    }
    return { set: e.set, pairs: e.pairs, metrics };
  });
}

/** Shared by the jobs of one process: datasets are opened (and crop caches built) once. */
export class DataCache {
  #data = new Map<string, Promise<TrainingData>>();
  #view2 = new Map<string, Promise<PairSet>>();

  training(config: TrainConfig, quiet?: boolean): Promise<TrainingData> {
    const { noiseRatio: _r, noiseSeed: _s, ...data } = config.data;
    const key = canonicalJson({ data, seed: config.data.kind === "toy" ? config.seed : 0 });
    let p = this.#data.get(key);
    if (!p) this.#data.set(key, p = openTrainingData(config.data, config.seed, { quiet }));
    return p;
  }

  /** LFW View 2 of the config's data folder. */
  view2(config: TrainConfig, quiet?: boolean): Promise<PairSet> {
    const d = config.data;
    if (d.kind !== "lfw-view1") throw new Error(`view2 needs lfw-view1 data, got ${d.kind}`);
    const key = canonicalJson({ dir: d.dir, size: d.size, cacheDir: d.cacheDir });
    let p = this.#view2.get(key);
    if (!p) {
      this.#view2.set(
        key,
        p = lfwView2PairSet({
          dir: d.dir,
          size: d.size,
          cacheDir: d.cacheDir,
          skipIncomplete: d.skipIncomplete,
          quiet,
        }),
      );
    }
    return p;
  }
}

/**
 * Generates the synthetic faces of a `synthetic` dataset when its folder lacks them. A dataset that states its
 * generation parameters (`synthetic: {imagesPerIdentity: 30}`) is a specific set: a folder already there must hold
 * those identities and images per identity (from `lfw-names.txt`), since the config hash sees only the folder's name.
 * `synthetic: true` takes the folder as it is (`--data` may point it at any size of the set).
 */
export async function prepareDataset(dataset: DatasetSpec, config: TrainConfig, quiet?: boolean): Promise<void> {
  if (!dataset.synthetic || config.data.kind !== "lfw-view1") return;
  const dir = config.data.dir;
  const wanted = typeof dataset.synthetic === "object" ? dataset.synthetic : {};
  if (!(await pathExists(`${dir}/pairs.txt`))) {
    if (!quiet) console.error(`experiments: generating the embedded synthetic face dataset into ${dir}`);
    await ensureSyntheticDataset(dir, { ...wanted, quiet });
  }
  if (typeof dataset.synthetic !== "object") return;
  const file = `${dir}/lfw-names.txt`;
  const counts = parseLfwNames(await Deno.readTextFile(file), file).map((p) => p.count);
  const identities = wanted.identities ?? SYNTHETIC_DEFAULTS.identities;
  const perIdentity = wanted.imagesPerIdentity ?? SYNTHETIC_DEFAULTS.imagesPerIdentity;
  if (counts.length !== identities || counts.some((c) => c !== perIdentity)) {
    throw new Error(
      `${file}: dataset ${dataset.name} wants ${identities} synthetic identities × ${perIdentity} images, the folder ` +
        `holds ${counts.length} identities × ${[...new Set(counts)].join("/")}: generate it with ` +
        `deno task data synthetic --identities ${identities} --images-per-identity ${perIdentity}` +
        `${wanted.testPairs === undefined ? "" : ` --test-pairs ${wanted.testPairs}`} --dir ${dir}, ` +
        `or point the dataset at another folder`,
    );
  }
  if (wanted.testPairs === undefined) return;
  const pairsFile = `${dir}/pairsDevTest.txt`;
  const have = Number((await Deno.readTextFile(pairsFile)).split("\n", 1)[0].trim());
  const want = syntheticTestPairCount(wanted);
  if (have !== want) {
    throw new Error(
      `${pairsFile}: dataset ${dataset.name} wants ${want} matched test pairs, the folder has ${have}: generate it with ` +
        `deno task data synthetic --identities ${identities} --images-per-identity ${perIdentity} ` +
        `--test-pairs ${wanted.testPairs} --dir ${dir}, or point the dataset at another folder`,
    );
  }
}

export interface RunJobOptions {
  quiet?: boolean;
  cache?: DataCache;
  kitCommit?: string;
  backend?: string;
  /** Keep the checkpoint after evaluation (default: removed, records are what the grid keeps). */
  keepCheckpoint?: boolean;
}

/** Whether the run folder's checkpoint was written for this job's config (run.json holds the config). */
async function checkpointMatches(job: Job): Promise<boolean> {
  try {
    const run = JSON.parse(await Deno.readTextFile(`${job.runDir}/${RUN_FILES.run}`)) as { config?: unknown };
    return (await configHash(parseTrainConfig(run.config, RUN_FILES.run))) === job.configHash;
  } catch {
    return false;
  }
}

/** Runs (or resumes) one job and writes its record; a finished job is read back instead. */
export async function runJob(job: Job, options: RunJobOptions = {}): Promise<JobRecord> {
  const done = await readRecord(job);
  if (done) return { ...done, seconds: 0 };
  const cache = options.cache ?? new DataCache();
  const t0 = performance.now();
  await prepareDataset(job.dataset, job.config, options.quiet);
  const data = await cache.training(job.config, options.quiet);
  const sets = [...data.validation, ...(job.dataset.view2 ? [await cache.view2(job.config, options.quiet)] : [])];
  const flip = job.config.validation.flip;
  await Deno.mkdir(job.runDir, { recursive: true });
  const base = {
    dataset: job.dataset.name,
    cell: job.cell,
    seed: job.seed,
    configHash: job.configHash,
    kitCommit: options.kitCommit ?? "unknown",
    backend: options.backend ?? "unknown",
  };
  let record: JobRecord;
  if (job.cell === CONTROL_CELL) {
    // The same initial weights every cell of this seed starts from (trainRun seeds its model this way).
    const model = createModel(job.config.model, { seed: deriveSeed(job.config.seed, "model") }, "model");
    try {
      const evaluations = await evaluate(model, sets, flip);
      record = { ...base, seconds: 0, steps: 0, finalLoss: null, imagesPerSecond: null, diverged: null, evaluations };
    } finally {
      model.dispose();
    }
  } else {
    const checkpoint = `${job.runDir}/${RUN_FILES.checkpoint}`;
    if (await pathExists(checkpoint) && !(await checkpointMatches(job))) {
      // Left by a run of an earlier version of this cell's config: start over rather than refuse to resume.
      await Deno.remove(checkpoint);
    }
    const resume = await pathExists(checkpoint);
    // A fresh start must not append to the log of an earlier, stale run of this folder.
    if (!resume) await Deno.remove(`${job.runDir}/${RUN_FILES.log}`).catch(() => {});
    let diverged: string | null = null;
    let steps = 0, finalLoss: number | null = null, imagesPerSecond: number | null = null;
    try {
      // The job verifies once, after training (below, with 10-fold and View 2): no validation inside the loop.
      const r = await trainRun(job.config, {
        outDir: job.runDir,
        resume,
        quiet: true,
        data: { ...data, validation: [] },
      });
      steps = r.steps;
      finalLoss = r.finalLoss;
      imagesPerSecond = r.imagesPerSecond;
    } catch (e) {
      if (!(e instanceof TrainingDivergedError)) throw e;
      diverged = e.message;
    }
    let evaluations: SetMetrics[] = [];
    if (await pathExists(checkpoint)) {
      const trained = await loadTrainedModel(job.runDir);
      try {
        evaluations = await evaluate(trained.model, sets, flip);
        steps ||= trained.step;
      } finally {
        trained.model.dispose();
      }
    }
    record = { ...base, seconds: 0, steps, finalLoss, imagesPerSecond, diverged, evaluations };
  }
  record.seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  await writeTextFileAtomic(`${job.runDir}/${RESULT_FILE}`, JSON.stringify(record, null, 2) + "\n");
  if (!options.keepCheckpoint) await Deno.remove(`${job.runDir}/${RUN_FILES.checkpoint}`).catch(() => {});
  return record;
}
