/**
 * Fixtures of the experiment tests: a tiny toy training config written to a temporary folder (a grid's
 * dataset), and fabricated grid results with chosen accuracies (the summary, claims and report tests).
 * @module
 */
import type { GridResults } from "../../lib/experiments/grid.ts";
import { CONTROL_CELL, type JobRecord, METRIC_KEYS } from "../../lib/experiments/jobs.ts";
import { type DatasetSpec, distinctCells, type Experiment, ExperimentSchema } from "../../lib/experiments/spec.ts";

/** A toy config in seconds: SFNet-4 at width 1/8 on 16×16 random "identities", 10 steps of batch 8. */
export function toyConfigRaw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    _comment: "test fixture",
    name: "toy-grid",
    seed: 0,
    model: { type: "sfnet", depth: 4, width: 0.125, inputSize: 16, featDim: 32 },
    head: { type: "sphereface2" },
    data: { kind: "toy", classes: 10, perClass: 4, size: 16, valClasses: 6, valPerClass: 4 },
    train: { steps: 10, batchSize: 8, lr: 0.1 },
    checkpoint: { every: 5 },
    validation: { every: 0, batchSize: 64 },
    ...overrides,
  };
}

/** Writes a toy config to `dir/<file>` and returns a dataset spec of it. */
export async function toyDataset(
  dir: string,
  overrides: Record<string, unknown> = {},
  name = "toy",
  file = "toy.json",
): Promise<DatasetSpec> {
  const config = `${dir}/${file}`;
  await Deno.writeTextFile(config, JSON.stringify(toyConfigRaw(overrides), null, 2));
  return { name, config, overrides: [], view2: false, synthetic: false, note: "toy fixture" };
}

/** A temporary folder for the duration of `fn`. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, prefix = "sf2-exp-"): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Cell ids of the committed experiment files, by role. */
export const CELLS = {
  paper: "sphereface2-C-l0.7-r40-m0.4-t3",
  lambda: (l: number) => `sphereface2-C-l${l}-r40-m0.4-t3`,
  t: (t: number) => `sphereface2-C-l0.7-r40-m0.4-t${t}`,
  throughG: "sphereface2-C-l0.7-r40-m0.4-t3-through-g",
  marginA: "sphereface2-A-l0.7-r40-m0.5-t3",
  marginM: "sphereface2-M-l0.7-r40-m1.7-t3",
  softmax: "softmax",
  normface: "normface-s30",
  sphereface: "sphereface-s30-m1.5",
  cosface: "cosface-s30-m0.35",
  arcface: "arcface-s30-m0.5",
  noisy: (base: string, ratio: number) => (ratio > 0 ? `${base}-noise${ratio}` : base),
} as const;

export const FIXTURE_SET = "view1-test";

export interface FabricateOptions {
  /** 10-fold accuracy per seed of every cell not in `cells` (default: 80 ± 0.5 over three seeds). */
  base?: number[];
  /** The random-init control's values (default: 50 ± 0.5). */
  control?: number[];
  /** Values of chosen cells (cell id → one value per seed). */
  cells?: Record<string, number[]>;
  /** Cells left out of the records. */
  omit?: string[];
  /** Cells whose first seed diverged. */
  diverged?: string[];
  datasets?: string[];
}

/**
 * Grid results with chosen accuracies: one record per cell of `experiments` (plus the control) and seed, on
 * dataset "synthetic" (or `datasets`), verified on one set "view1-test". The other metrics follow the 10-fold
 * accuracy at fixed offsets.
 */
export function fabricateResults(experiments: readonly Experiment[], options: FabricateOptions = {}): GridResults {
  const base = options.base ?? [80, 80.5, 79.5];
  const control = options.control ?? [50, 50.5, 49.5];
  const datasets = options.datasets ?? ["synthetic"];
  const cells = distinctCells(experiments);
  const records: JobRecord[] = [];
  const record = (dataset: string, cell: string, seed: number, acc: number): JobRecord => ({
    dataset,
    cell,
    seed,
    configHash: cell === CONTROL_CELL ? "c0ffeec0ffee" : "0123456789ab",
    kitCommit: "f".repeat(40),
    backend: "wasm",
    seconds: 10,
    steps: cell === CONTROL_CELL ? 0 : 100,
    finalLoss: cell === CONTROL_CELL ? null : 1.5,
    imagesPerSecond: cell === CONTROL_CELL ? null : 100,
    diverged: seed === 0 && options.diverged?.includes(cell) ? "training diverged at step 7" : null,
    evaluations: [{
      set: FIXTURE_SET,
      pairs: 900,
      metrics: {
        [METRIC_KEYS.tenFoldAcc]: acc,
        [METRIC_KEYS.tenFoldStd]: 1,
        [METRIC_KEYS.bestAcc]: acc + 0.5,
        "TPR@FPR=1e-2": acc - 30,
        "TPR@FPR=1e-1": acc - 10,
        AUC: acc + 5,
      },
    }],
  });
  for (const dataset of datasets) {
    control.forEach((v, seed) => records.push(record(dataset, CONTROL_CELL, seed, v)));
    for (const c of cells) {
      if (options.omit?.includes(c.id)) continue;
      (options.cells?.[c.id] ?? base).forEach((v, seed) => records.push(record(dataset, c.id, seed, v)));
    }
  }
  const seeds = [...new Set(records.map((r) => r.seed))].sort((a, b) => a - b);
  return {
    schema: "sf2-experiments/1",
    profile: "fixture",
    description: "Fabricated results for the tests.",
    date: "2025-01-01T00:00:00.000Z",
    machine: "test machine, 2 cores",
    backend: "wasm",
    kitCommits: ["f".repeat(40)],
    jobSeconds: records.length * 10,
    seeds,
    datasets: datasets.map((name) => ({
      name,
      config: `configs/train/${name}.json`,
      overrides: [],
      view2: false,
      note: "",
    })),
    cells: Object.fromEntries(
      cells.map((c, i) => [c.id, {
        head: c.head,
        noise: c.noise,
        configHash: Object.fromEntries(datasets.map((d) => [d, `cafe${String(i).padStart(8, "0")}`])),
      }]),
    ),
    records,
  };
}

/** A two-row comparison experiment: the paper's SphereFace2 and `other` (a cheap head for training tests). */
export function twoRowExperiment(other: { label: string; head: Record<string, unknown> }): Experiment[] {
  return [ExperimentSchema.parse({
    family: "comparison",
    title: "T",
    question: "Q?",
    claim: "C.",
    axis: "loss",
    rows: [{ label: "SphereFace2", role: "paper", head: { type: "sphereface2" } }, other],
  })];
}
