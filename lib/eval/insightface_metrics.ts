/**
 * insightface's verification protocols (shared/vectors/PROVENANCE-metrics.md §3, §6):
 *
 * - **10-fold accuracy** (`recognition/arcface_torch/eval/verification.py`, the number most LFW tables report):
 *   squared distances d = ‖e₁ − e₂‖² of L2-normalised flip-fused embeddings (= 2 − 2cos), thresholds
 *   t_k = 0.01·k (k = 0…399), "same" iff d < t_k; `KFold(10)` contiguous folds; on each fold the smallest k that
 *   maximises the accuracy on the other nine is applied to the held-out fold; mean and population std.
 * - **IJB TAR@FAR table** (`eval_ijbc.py`): the sklearn ROC (collinear equal-step vertices pruned, (0,0) prepended),
 *   and for each FAR target the vertex with the nearest FPR (ties: the later vertex), no interpolation.
 *
 * @example
 * ```ts
 * import { tenFoldAccuracy, distancesFromCosines } from "./insightface_metrics.ts";
 * const r = tenFoldAccuracy(distancesFromCosines([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.9, 0.0]), [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
 * console.log(r.mean, r.std);
 * ```
 * @module
 */
import { parseDecimal, rocVertices } from "./roc.ts";

/** The 400 distance thresholds `np.arange(0, 4, 0.01)`: 0.01·k in float64. */
export const TEN_FOLD_THRESHOLDS: Float64Array = Float64Array.from({ length: 400 }, (_, k) => k * 0.01);

/** The FAR targets of insightface's IJB table. */
export const IJB_FAR_TARGETS = ["1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1"] as const;

export interface TenFoldResult {
  /** Pairs per fold (KFold: the first n mod 10 folds get one more). */
  foldSizes: number[];
  /** Correctly classified pairs per held-out fold. */
  foldCorrect: number[];
  /** Accuracy per held-out fold, a fraction. */
  foldAccuracy: number[];
  /** k* per fold: the smallest index maximising the accuracy on the other folds. */
  bestThresholdIndex: number[];
  /** t_{k*} per fold (squared distance). */
  bestThreshold: number[];
  /** Mean of the fold accuracies (folds count equally), a fraction. */
  mean: number;
  /** Population standard deviation (ddof 0) of the fold accuracies. */
  std: number;
}

/** Squared distances of unit vectors from cosines: d = 2 − 2cos. */
export function distancesFromCosines(cos: ArrayLike<number>): Float64Array {
  return Float64Array.from(cos, (c) => 2 - 2 * c);
}

/** Squared distances ‖ê₁ − ê₂‖² of L2-normalised embedding pairs (rows of equal length). */
export function distancesFromEmbeddings(emb1: readonly number[][], emb2: readonly number[][]): Float64Array {
  if (emb1.length !== emb2.length) throw new Error(`embeddings: ${emb1.length} vs ${emb2.length} rows`);
  const unit = (v: readonly number[]) => {
    const norm = Math.max(Math.sqrt(v.reduce((s, x) => s + x * x, 0)), 1e-12);
    return v.map((x) => x / norm);
  };
  return Float64Array.from(emb1, (row, i) => {
    const a = unit(row);
    const b = unit(emb2[i]);
    if (a.length !== b.length) throw new Error(`embeddings: row ${i} has ${a.length} vs ${b.length} values`);
    let d = 0;
    for (let k = 0; k < a.length; k++) d += (a[k] - b[k]) ** 2;
    return d;
  });
}

/** sklearn KFold(10, shuffle=False) fold boundaries on 0..n−1. */
export function foldBounds(n: number, folds = 10): Array<[number, number]> {
  if (n < folds) throw new Error(`10-fold accuracy needs at least ${folds} pairs, got ${n}`);
  const bounds: Array<[number, number]> = [];
  let start = 0;
  for (let f = 0; f < folds; f++) {
    const size = Math.floor(n / folds) + (f < n % folds ? 1 : 0);
    bounds.push([start, start + size]);
    start += size;
  }
  return bounds;
}

/** insightface's 10-fold accuracy on squared distances (see the module doc). */
export function tenFoldAccuracy(distances: ArrayLike<number>, labels: ArrayLike<number | boolean>): TenFoldResult {
  const n = distances.length;
  if (labels.length !== n) throw new Error(`tenFoldAccuracy: ${n} distances but ${labels.length} labels`);
  const T = TEN_FOLD_THRESHOLDS.length;
  // k0[i] = the first threshold index with d_i < t_k: pair i is predicted "same" exactly for k ≥ k0[i].
  const k0 = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let lo = 0;
    let hi = T;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (distances[i] < TEN_FOLD_THRESHOLDS[mid]) hi = mid;
      else lo = mid + 1;
    }
    k0[i] = lo;
  }
  const same = (i: number) => Number(labels[i]) === 1;
  /** correct[k] over the index set: same pairs with k ≥ k0, different pairs with k < k0. */
  const correctCounts = (include: (i: number) => boolean): Int32Array => {
    const sameStart = new Int32Array(T + 1); // same pairs becoming correct at k0
    const diffStop = new Int32Array(T + 1); // different pairs stopping being correct at k0
    let diffTotal = 0;
    for (let i = 0; i < n; i++) {
      if (!include(i)) continue;
      if (same(i)) sameStart[k0[i]]++;
      else {
        diffStop[k0[i]]++;
        diffTotal++;
      }
    }
    const correct = new Int32Array(T);
    let sameOn = 0;
    let diffOn = diffTotal;
    for (let k = 0; k < T; k++) {
      sameOn += sameStart[k];
      diffOn -= diffStop[k];
      correct[k] = sameOn + diffOn;
    }
    return correct;
  };
  const foldSizes: number[] = [];
  const foldCorrect: number[] = [];
  const foldAccuracy: number[] = [];
  const bestThresholdIndex: number[] = [];
  for (const [start, end] of foldBounds(n)) {
    const train = correctCounts((i) => i < start || i >= end);
    let kBest = 0;
    for (let k = 1; k < T; k++) if (train[k] > train[kBest]) kBest = k;
    const test = correctCounts((i) => i >= start && i < end);
    foldSizes.push(end - start);
    foldCorrect.push(test[kBest]);
    foldAccuracy.push(test[kBest] / (end - start));
    bestThresholdIndex.push(kBest);
  }
  const mean = foldAccuracy.reduce((a, b) => a + b, 0) / foldAccuracy.length;
  const std = Math.sqrt(foldAccuracy.reduce((a, b) => a + (b - mean) ** 2, 0) / foldAccuracy.length);
  return {
    foldSizes,
    foldCorrect,
    foldAccuracy,
    bestThresholdIndex,
    bestThreshold: bestThresholdIndex.map((k) => k / 100),
    mean,
    std,
  };
}

/**
 * insightface's IJB TAR@FAR table (percent): sklearn's pruned ROC with (0,0) prepended, the vertex nearest in FPR
 * to each target (ties: the later vertex), no interpolation.
 */
export function nearestFprTable(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
  targets: readonly (string | number)[] = IJB_FAR_TARGETS,
): Record<string, number> {
  const roc = rocVertices(scores, labels);
  const m = roc.fp.length - 1;
  // sklearn drop_intermediate: among V_1..V_m, drop interior vertices with equal FP and TP steps on both sides.
  const kept: number[] = [0];
  for (let i = 1; i <= m; i++) {
    const interior = i > 1 && i < m;
    const collinear = interior &&
      roc.fp[i] - roc.fp[i - 1] === roc.fp[i + 1] - roc.fp[i] &&
      roc.tp[i] - roc.tp[i - 1] === roc.tp[i + 1] - roc.tp[i];
    if (!collinear) kept.push(i);
  }
  const table: Record<string, number> = {};
  for (const target of targets) {
    const t = parseDecimal(target);
    let best = kept[0];
    let bestDistance = Infinity;
    for (const v of kept) {
      const distance = Math.abs(roc.fp[v] / roc.N - t.value);
      if (distance <= bestDistance) {
        bestDistance = distance;
        best = v;
      }
    }
    table[`TPR@FPR=${t.label}`] = (100 * roc.tp[best]) / roc.P;
  }
  return table;
}
