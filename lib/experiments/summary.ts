/**
 * From records to tables: mean ± std over seeds per cell, and whether a difference between two cells is larger
 * than the seed-to-seed spread.
 *
 * "Beyond the spread" means |Δ| > 2·SE with SE = √(s_a²/n_a + s_b²/n_b) (s: sample std over seeds, n: seeds),
 * about a two-sided 95 % test under normal errors, but with three seeds a rough screen rather than a
 * significance claim: it says which orderings the seeds cannot explain away.
 *
 * @example
 * ```ts
 * import { difference, stat } from "./summary.ts";
 * const a = stat([84.4, 85.1, 83.9]), b = stat([80.2, 81.0, 79.5]);
 * console.log(difference(a, b)); // { delta: 4.23…, se: 0.72…, beyond: true }
 * ```
 * @module
 */
import type { GridResults } from "./grid.ts";
import { CONTROL_CELL, type JobRecord, METRIC_KEYS } from "./jobs.ts";
import { cellId, type Experiment } from "./spec.ts";

export interface Stat {
  mean: number;
  /** Sample standard deviation over seeds (n − 1); 0 for one seed. */
  std: number;
  n: number;
  values: number[];
}

/** Mean and sample std of some values (NaN mean for none). */
export function stat(values: readonly number[]): Stat {
  const n = values.length;
  const mean = n ? values.reduce((s, v) => s + v, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n, values: [...values] };
}

export interface Difference {
  /** a − b. */
  delta: number;
  /** √(s_a²/n_a + s_b²/n_b). */
  se: number;
  /** |Δ| > 2·SE (and Δ ≠ 0 when both spreads are 0). */
  beyond: boolean;
}

/** The difference of two cells' means and whether it exceeds the seed spread (see the module doc). */
export function difference(a: Stat, b: Stat): Difference {
  const delta = a.mean - b.mean;
  const se = Math.sqrt(a.std ** 2 / Math.max(a.n, 1) + b.std ** 2 / Math.max(b.n, 1));
  return { delta, se, beyond: Math.abs(delta) > 2 * se && delta !== 0 && a.n > 1 && b.n > 1 };
}

/** The main metric of the tables: 10-fold accuracy (insightface/LFW protocol). */
export const PRIMARY_METRIC = METRIC_KEYS.tenFoldAcc;

/** The experiments whose every row was trained in `results` (a profile may run only some families). */
export function experimentsIn(results: GridResults, experiments: readonly Experiment[]): Experiment[] {
  return experiments.filter((e) => e.rows.every((r) => cellId(r.head, r.noise) in results.cells));
}

/** The records of one cell on one dataset. */
export function cellRecords(results: GridResults, dataset: string, cell: string): JobRecord[] {
  return results.records.filter((r) => r.dataset === dataset && r.cell === cell);
}

/** mean ± std over seeds of a metric of one cell on one pair set (null when no record has it). */
export function cellStat(
  results: GridResults,
  dataset: string,
  cell: string,
  set: string,
  metric: string = PRIMARY_METRIC,
): Stat | null {
  const values = cellRecords(results, dataset, cell)
    .map((r) => r.evaluations.find((e) => e.set === set)?.metrics[metric])
    .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return values.length ? stat(values) : null;
}

/** The pair sets a dataset was verified on, in record order (the first is the primary one). */
export function datasetSets(results: GridResults, dataset: string): string[] {
  const sets: string[] = [];
  for (const r of results.records) {
    if (r.dataset !== dataset) continue;
    for (const e of r.evaluations) if (!sets.includes(e.set)) sets.push(e.set);
  }
  return sets;
}

export interface TableRow {
  label: string;
  cell: string;
  x?: number;
  series?: string;
  configHash: string;
  seeds: number;
  diverged: number;
  /** set → metric → stat. */
  stats: Record<string, Record<string, Stat>>;
}

/** Metrics shown in tables, in order. */
export const TABLE_METRICS = [
  METRIC_KEYS.tenFoldAcc,
  METRIC_KEYS.bestAcc,
  "TPR@FPR=1e-2",
  "TPR@FPR=1e-1",
] as const;

/** One row per experiment row (plus nothing else): the stats of its cell on every set of the dataset. */
export function experimentTable(results: GridResults, experiment: Experiment, dataset: string): TableRow[] {
  const sets = datasetSets(results, dataset);
  return experiment.rows.map((row) => {
    const cell = cellId(row.head, row.noise);
    return tableRow(results, dataset, cell, sets, row.label, row.x, row.series);
  });
}

/** The random-initialisation control as a table row. */
export function controlRow(results: GridResults, dataset: string): TableRow {
  return tableRow(results, dataset, CONTROL_CELL, datasetSets(results, dataset), "random init (control)");
}

function tableRow(
  results: GridResults,
  dataset: string,
  cell: string,
  sets: string[],
  label: string,
  x?: number,
  series?: string,
): TableRow {
  const records = cellRecords(results, dataset, cell);
  const stats: TableRow["stats"] = {};
  for (const set of sets) {
    stats[set] = {};
    for (const metric of TABLE_METRICS) {
      const s = cellStat(results, dataset, cell, set, metric);
      if (s) stats[set][metric] = s;
    }
  }
  return {
    label,
    cell,
    x,
    series,
    configHash: results.cells[cell]?.configHash[dataset] ?? (cell === CONTROL_CELL ? "—" : "?"),
    seeds: records.length,
    diverged: records.filter((r) => r.diverged).length,
    stats,
  };
}

/** `84.4 ± 1.2` (one decimal), `—` for none. */
export function formatStat(s: Stat | undefined | null, digits = 1): string {
  if (!s) return "—";
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}
