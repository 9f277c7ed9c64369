/**
 * OpenSphere's pair-verification metrics (`get_results` on main, `get_metrics` on the ICLR/v0 branches), as exact
 * definitions over the ROC vertices (shared/vectors/PROVENANCE-metrics.md §2). All values are in percent, as
 * OpenSphere prints them.
 *
 * - **ACC (best threshold)**: 100·max_j (TP_j + N − FP_j)/n — one threshold chosen on the scored list itself,
 *   not cross-validated (compare {@link tenFoldAccuracy} in insightface_metrics.ts).
 * - **AUC**: trapezoid area under the ROC polyline (= Mann–Whitney with ties counted ½).
 * - **EER**: the FPR where the polyline meets TPR = 1 − FPR.
 * - **TPR@FPR=t**: numpy.interp on the vertices: the highest TPR at an exact vertex, else linear interpolation
 *   from the last vertex with FPR ≤ t.
 * - **Combined**: the same metrics on several pair lists pooled into one (one ROC, one threshold).
 *
 * @example
 * ```ts
 * import { openSphereMetrics } from "./opensphere_metrics.ts";
 * const m = openSphereMetrics([0.95, 0.95, 0.85, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4], [1, 0, 1, 0, 1, 1, 0, 0, 0]);
 * // m.ACC ≈ 77.78, m.AUC = 75, m.EER ≈ 33.33
 * ```
 * @module
 */
import { compareRate, type Decimal, parseDecimal, type RocVertices, rocVertices } from "./roc.ts";

/** The FPR targets of OpenSphere's tables (the configs list 1e-4 … 1e-2; 1e-1 added). */
export const OPENSPHERE_FPR_TARGETS = ["1e-4", "5e-4", "1e-3", "5e-3", "1e-2", "1e-1"] as const;

/** Metric name → value in percent: `ACC`, `EER`, `AUC`, `TPR@FPR=1e-4`, … */
export type MetricTable = Record<string, number>;

/** ACC with the best single threshold, in percent. */
export function bestThresholdAccuracy(roc: RocVertices): { acc: number; threshold: number } {
  let best = -1;
  let bestJ = 0;
  for (let j = 0; j < roc.fp.length; j++) {
    const correct = roc.tp[j] + roc.N - roc.fp[j];
    if (correct > best) {
      best = correct;
      bestJ = j;
    }
  }
  return { acc: (100 * best) / (roc.P + roc.N), threshold: roc.thresholds[bestJ] };
}

/** AUC in percent, from integer trapezoids: Σ (FP_k − FP_{k−1})(TP_k + TP_{k−1}) / (2PN). */
export function areaUnderRoc(roc: RocVertices): number {
  let twiceArea = 0;
  for (let k = 1; k < roc.fp.length; k++) twiceArea += (roc.fp[k] - roc.fp[k - 1]) * (roc.tp[k] + roc.tp[k - 1]);
  return (100 * twiceArea) / (2 * roc.P * roc.N);
}

/**
 * EER in percent. With H_k = FP_k·P + TP_k·N − P·N (= P·N·(x_k + y_k − 1), strictly increasing), the first k with
 * H_k ≥ 0 brackets the crossing: x* = (FP_{k−1} + (FP_k − FP_{k−1})·(−H_{k−1})/(H_k − H_{k−1}))/N.
 */
export function equalErrorRate(roc: RocVertices): number {
  const { P, N } = roc;
  const h = (k: number) => roc.fp[k] * P + roc.tp[k] * N - P * N;
  for (let k = 1; k < roc.fp.length; k++) {
    const hk = h(k);
    if (hk < 0) continue;
    if (hk === 0) return (100 * roc.fp[k]) / N;
    const hPrev = h(k - 1);
    const x = roc.fp[k - 1] + (roc.fp[k] - roc.fp[k - 1]) * (-hPrev) / (hk - hPrev);
    return (100 * x) / N;
  }
  return 100;
}

/**
 * TPR at FPR = t in percent, as numpy.interp(t, fpr, tpr) reads the vertices: j = the last vertex with
 * FP_j/N ≤ t (decided exactly); at equality TPR_j, else interpolation towards vertex j+1.
 */
export function tprAtFpr(roc: RocVertices, target: string | number | Decimal): number {
  const t = typeof target === "object" ? target : parseDecimal(target);
  const m = roc.fp.length - 1;
  let j = 0;
  while (j < m && compareRate(roc.fp[j + 1], roc.N, t) <= 0) j++;
  if (compareRate(roc.fp[j], roc.N, t) === 0 || j === m) return (100 * roc.tp[j]) / roc.P;
  const frac = (t.value * roc.N - roc.fp[j]) / (roc.fp[j + 1] - roc.fp[j]);
  return (100 * (roc.tp[j] + frac * (roc.tp[j + 1] - roc.tp[j]))) / roc.P;
}

/** ACC, EER, AUC and TPR@FPR for each target, in percent, keyed as OpenSphere's tables name them. */
export function openSphereMetrics(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
  targets: readonly (string | number)[] = OPENSPHERE_FPR_TARGETS,
): MetricTable {
  const roc = rocVertices(scores, labels);
  const table: MetricTable = {
    ACC: bestThresholdAccuracy(roc).acc,
    EER: equalErrorRate(roc),
    AUC: areaUnderRoc(roc),
  };
  for (const target of targets) {
    const t = parseDecimal(target);
    table[`TPR@FPR=${t.label}`] = tprAtFpr(roc, t);
  }
  return table;
}

/** A named scored pair list. */
export interface PairScores {
  name: string;
  scores: ArrayLike<number>;
  labels: ArrayLike<number | boolean>;
}

/**
 * OpenSphere's "Combined" metric: the lists are pooled (in order) and scored once — one ROC, one threshold. This is
 * not the mean of per-list metrics.
 */
export function combinedMetrics(lists: readonly PairScores[], targets?: readonly (string | number)[]): MetricTable {
  const scores: number[] = [];
  const labels: number[] = [];
  for (const list of lists) {
    if (list.scores.length !== list.labels.length) {
      throw new Error(
        `combinedMetrics: list ${list.name} has ${list.scores.length} scores, ${list.labels.length} labels`,
      );
    }
    for (let i = 0; i < list.scores.length; i++) {
      scores.push(list.scores[i]);
      labels.push(Number(list.labels[i]));
    }
  }
  return openSphereMetrics(scores, labels, targets);
}

/** ROC curve points (FPR, TPR) and thresholds, for plots. */
export function rocCurve(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
): { fpr: number[]; tpr: number[]; thresholds: number[] } {
  const roc = rocVertices(scores, labels);
  return {
    fpr: Array.from(roc.fp, (f) => f / roc.N),
    tpr: Array.from(roc.tp, (t) => t / roc.P),
    thresholds: Array.from(roc.thresholds),
  };
}
