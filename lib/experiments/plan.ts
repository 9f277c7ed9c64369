/**
 * The plan of a profile without running it (`deno task reproduce --profile paper --dry-run`): the jobs, the data
 * each dataset needs and whether it is there, and an estimate of time and memory from measured training steps
 * of the profile's own backbone on the current backend.
 *
 * The estimate measures the step at two batches b and 2b and extrapolates linearly in the batch:
 * time(B) = t(b) + (B − b)·(t(2b) − t(b))/b, and the same for the process's peak resident memory. A batch of at most
 * {@link DIRECT_BATCH} is measured itself (b = B/2); a larger one (512 at 112×112 would not fit a CPU run) from
 * b = 4, where a small model's step is mostly fixed overhead, so extrapolation is rough. Only the training step is
 * measured: data loading and evaluation come on top.
 *
 * @example
 * ```ts
 * import { loadExperiments, loadProfile } from "./spec.ts";
 * import { planProfile } from "./plan.ts";
 * const plan = await planProfile("paper", await loadProfile("paper"), await loadExperiments(), { measure: false });
 * console.log(plan.lines.join("\n"));
 * ```
 * @module
 */
import { benchTrain } from "../bench/train.ts";
import { parseTrainList } from "../data/formats.ts";
import { parsePeople } from "../data/lfw.ts";
import { LFW_SEARCH, locateLfw } from "../data/lfw_location.ts";
import { pathExists } from "../fs/paths.ts";
import type { TrainConfig } from "../train/config.ts";
import { CONTROL_CELL, planJobs } from "./jobs.ts";
import { gridPaths } from "./reference.ts";
import type { Experiment, Profile } from "./spec.ts";

export interface StepEstimate {
  backend: string;
  /** Batches measured. */
  measured: Array<{ batch: number; stepSeconds: number; peakRssMB: number }>;
  /** The config's batch. */
  batch: number;
  /** Classifier size measured: featDim × classes (the head's weight update is a large part of a small model's step). */
  classes: number;
  featDim: number;
  stepSeconds: number;
  peakRssMB: number;
  imagesPerSecond: number;
}

export interface PlanOptions {
  /** Measure a step (default true). */
  measure?: boolean;
  /** Smallest measured batch (default: half the config's batch up to {@link DIRECT_BATCH}, else 4); 2× too. */
  measureBatch?: number;
  /** Steps timed per batch after two warm-up steps (default 5; the median is used). */
  measureSteps?: number;
}

export interface Plan {
  jobs: number;
  trainingJobs: number;
  /** Data paths per dataset with their presence. */
  data: Array<{ dataset: string; path: string; what: string; present: boolean }>;
  estimate: StepEstimate | null;
  /** Total training time of all jobs on one device (seconds), from the estimate. */
  totalSeconds: number | null;
  lines: string[];
}

/**
 * The config with a data folder of `"lfw"` (real LFW, wherever the kit finds it) replaced by the folder found, or by
 * `data/cache/lfw` (where `deno task data lfw` puts it) when there is none, so the plan names a real path.
 */
export async function withLocatedData(config: TrainConfig): Promise<TrainConfig> {
  if (config.data.kind !== "lfw-view1" || config.data.dir !== LFW_SEARCH) return config;
  const dir = (await locateLfw())?.dir ?? "data/cache/lfw";
  return { ...config, data: { ...config.data, dir } };
}

/** Data a config reads, for the plan (a data folder of `"lfw"` located first: {@link withLocatedData}). */
export function dataNeeds(config: TrainConfig): Array<{ path: string; what: string }> {
  const d = config.data;
  switch (d.kind) {
    case "toy":
      return [];
    case "lfw-view1":
      return [
        { path: `${d.dir}/peopleDevTrain.txt`, what: "LFW-layout people list (training identities)" },
        { path: `${d.dir}/pairsDevTest.txt`, what: "LFW-layout View 1 test pairs" },
      ];
    case "list":
      return [
        { path: d.root, what: "training images (pre-aligned, data.size square)" },
        { path: d.list, what: "training list (`relative/path label` per line)" },
        ...(d.valRoot ? [{ path: d.valRoot, what: "validation images" }] : []),
        ...d.valPairs.map((p) => ({ path: p, what: "validation pair list (`label path0 path1`)" })),
      ];
  }
}

/** VGGFace2's identity count: the classifier size assumed when the training data is not there to count. */
export const VGGFACE2_CLASSES = 8631;

/**
 * The number of training identities of `config`'s data, counted from its files (the View 1 people file with
 * `minImages` applied, the training list's distinct identities), or null when they are not there.
 */
export async function classCount(config: TrainConfig): Promise<number | null> {
  const d = (await withLocatedData(config)).data;
  const read = (path: string) =>
    Deno.readTextFile(path).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    });
  switch (d.kind) {
    case "toy":
      return d.classes;
    case "lfw-view1": {
      const file = `${d.dir}/peopleDevTrain.txt`;
      const text = await read(file);
      return text === null ? null : parsePeople(text, file).folds.flat().filter((p) => p.count >= d.minImages).length;
    }
    case "list": {
      const text = await read(d.list);
      return text === null ? null : parseTrainList(text, d.list).identities.length;
    }
  }
}

/** Config batches up to this are measured directly (at B/2 and B) rather than extrapolated from batch 4 and 8. */
export const DIRECT_BATCH = 64;

/** Measures the training step of `config`'s backbone at batches b and 2b and extrapolates to its batch. */
export async function estimateStep(
  config: TrainConfig,
  classes: number,
  options: PlanOptions = {},
): Promise<StepEstimate> {
  const m = config.model;
  if (m.type !== "sfnet") throw new Error(`step estimate: only SFNet backbones are measured, got ${m.type}`);
  const B = config.train.batchSize;
  const b = Math.min(options.measureBatch ?? (B <= DIRECT_BATCH ? Math.max(1, Math.floor(B / 2)) : 4), B);
  const batches = b * 2 <= B ? [b, 2 * b] : [b];
  const measured: StepEstimate["measured"] = [];
  let backend = "";
  for (const batch of batches) {
    const r = await benchTrain({
      depth: m.depth,
      width: m.width,
      size: m.inputSize,
      batch,
      classes,
      featDim: m.featDim,
      warmup: 2,
      steps: options.measureSteps ?? 5,
    });
    backend = r.backend;
    measured.push({ batch, stepSeconds: r.stepSeconds, peakRssMB: r.peakRssMB });
  }
  const extrapolate = (key: "stepSeconds" | "peakRssMB") => {
    if (measured.length === 1) return measured[0][key] * (B / measured[0].batch);
    const [a, c] = measured;
    const slope = Math.max(0, (c[key] - a[key]) / (c.batch - a.batch));
    return a[key] + slope * (B - a.batch);
  };
  const stepSeconds = extrapolate("stepSeconds");
  return {
    backend,
    measured,
    batch: B,
    classes,
    featDim: m.featDim,
    stepSeconds,
    peakRssMB: extrapolate("peakRssMB"),
    imagesPerSecond: B / stepSeconds,
  };
}

/** `42.0 min`, `3.5 h`, `2.1 days`, `16.5 years`: a plan's totals span a CPU smoke grid to the paper on a CPU. */
export function planDuration(s: number): string {
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  if (s < 365 * 86400) return `${(s / 86400).toFixed(1)} days`;
  return `${(s / (365 * 86400)).toFixed(1)} years`;
}

/** The plan of a profile: jobs, data, and (unless `measure: false`) the time and memory estimate. */
export async function planProfile(
  name: string,
  profile: Profile,
  experiments: readonly Experiment[],
  options: PlanOptions & { workDir?: string; /** Overrides the counted training identities. */ classes?: number } = {},
): Promise<Plan> {
  const jobs = await planJobs(profile, experiments, options.workDir ?? gridPaths(name).workDir);
  const training = jobs.filter((j) => j.cell !== CONTROL_CELL);
  const lines = [`profile ${name}: ${profile.description}`];
  lines.push(
    `jobs: ${jobs.length} (${training.length} training runs: ${new Set(training.map((j) => j.cell)).size} settings × ` +
      `${profile.seeds.length} seeds × ${profile.datasets.length} dataset(s), plus ${
        jobs.length - training.length
      } random-init controls)`,
  );
  const data: Plan["data"] = [];
  for (const d of profile.datasets) {
    const config = jobs.find((j) => j.dataset.name === d.name)!.config;
    const t = config.train, mdl = config.model;
    lines.push(
      `dataset ${d.name}: ${mdl.type}-${"depth" in mdl ? mdl.depth : ""} width ${"width" in mdl ? mdl.width : 1}, ` +
        `${mdl.inputSize}×${mdl.inputSize}, batch ${t.batchSize}, ${t.steps} steps (lr ${t.lr}, milestones ${
          t.milestones.join("/")
        })`,
    );
    for (const need of dataNeeds(await withLocatedData(config))) {
      const present = await pathExists(need.path);
      data.push({ dataset: d.name, ...need, present });
      lines.push(`  ${present ? "found  " : "MISSING"} ${need.path}: ${need.what}`);
    }
  }
  let estimate: StepEstimate | null = null, totalSeconds: number | null = null;
  if (options.measure ?? true) {
    const config = training[0].config;
    const counted = options.classes ?? await classCount(config);
    lines.push(
      counted === null
        ? `classes: ${VGGFACE2_CLASSES} assumed (VGGFace2's; the training identities are not there to count)`
        : `classes: ${counted} (${options.classes ? "given" : `counted in ${training[0].dataset.name}'s data`})`,
    );
    estimate = await estimateStep(config, counted ?? VGGFACE2_CLASSES, options);
    totalSeconds = training.reduce((s, j) => s + j.config.train.steps, 0) * estimate.stepSeconds;
    lines.push(
      `measured on ${estimate.backend}: ` +
        estimate.measured.map((m) =>
          `batch ${m.batch}: ${m.stepSeconds.toFixed(3)} s/step, peak RSS ${m.peakRssMB.toFixed(0)} MB`
        )
          .join("; "),
    );
    lines.push(
      `estimate at batch ${estimate.batch}: ${estimate.stepSeconds.toFixed(2)} s/step (${
        estimate.imagesPerSecond.toFixed(1)
      } img/s), ` +
        `peak RSS ≈ ${(estimate.peakRssMB / 1024).toFixed(1)} GiB; all ${training.length} runs: ${
          planDuration(totalSeconds)
        } of training steps on one such device (data loading and evaluation on top)`,
    );
  }
  const missing = data.filter((d) => !d.present);
  if (missing.length) lines.push(`${missing.length} data path(s) missing: the grid cannot run until they exist.`);
  return { jobs: jobs.length, trainingJobs: training.length, data, estimate, totalSeconds, lines };
}
