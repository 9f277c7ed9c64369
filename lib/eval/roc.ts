/**
 * ROC vertices of a scored pair list, with exact integer counts (no floating-point accumulation), and the
 * decimal FPR targets the verification tables use.
 *
 * A pair is accepted ("same") iff its score s ≥ u for a threshold u; thresholds run over the distinct scores
 * u_1 > … > u_m, so tied scores are never split. Vertex j has FP_j = #{negatives with s ≥ u_j} and
 * TP_j = #{positives with s ≥ u_j}; vertex 0 is (0, 0) ("reject all") and vertex m is (N, P).
 *
 * @example
 * ```ts
 * import { rocVertices } from "./roc.ts";
 * const roc = rocVertices([0.9, 0.8, 0.1], [1, 0, 0]);
 * // roc.fp = [0, 0, 1, 2], roc.tp = [0, 1, 1, 1], roc.P = 1, roc.N = 2
 * ```
 * @module
 */

/** ROC vertices (FP_j, TP_j), j = 0..m, at the distinct thresholds in decreasing order. */
export interface RocVertices {
  /** Cumulative false positives; fp[0] = 0, fp[m] = N. */
  fp: Int32Array;
  /** Cumulative true positives; tp[0] = 0, tp[m] = P. */
  tp: Int32Array;
  /** thresholds[j] = u_j for j ≥ 1; thresholds[0] = +∞. */
  thresholds: Float64Array;
  /** Number of positive (same-identity) pairs. */
  P: number;
  /** Number of negative pairs. */
  N: number;
}

/** Labels: 1 (or true) = same identity, 0 = different. Throws when either class is empty or a score is NaN. */
export function rocVertices(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>): RocVertices {
  const n = scores.length;
  if (labels.length !== n) throw new Error(`rocVertices: ${n} scores but ${labels.length} labels`);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`rocVertices: score ${i} is NaN`);
    order[i] = i;
  }
  order.sort((a, b) => scores[b] - scores[a]);
  let P = 0;
  for (let i = 0; i < n; i++) if (Number(labels[i]) === 1) P++;
  const N = n - P;
  if (P === 0 || N === 0) {
    throw new Error(`rocVertices: need both positive and negative pairs (P = ${P}, N = ${N})`);
  }
  const fp = [0];
  const tp = [0];
  const thresholds = [Infinity];
  let f = 0;
  let t = 0;
  for (let k = 0; k < n;) {
    const u = scores[order[k]];
    while (k < n && scores[order[k]] === u) {
      if (Number(labels[order[k]]) === 1) t++;
      else f++;
      k++;
    }
    fp.push(f);
    tp.push(t);
    thresholds.push(u);
  }
  return { fp: Int32Array.from(fp), tp: Int32Array.from(tp), thresholds: Float64Array.from(thresholds), P, N };
}

/** A positive decimal as an exact rational mantissa / 10^exponent (e.g. "5e-4" → 5n / 10n**4n). */
export interface Decimal {
  mantissa: bigint;
  scale: bigint;
  /** The float64 value. */
  value: number;
  /** How it is written in labels, e.g. "1e-4". */
  label: string;
}

/**
 * Parses a decimal target such as "1e-4", "0.001" or 5e-3 exactly, so that FP/N = t is decided in rationals
 * (N = 3000, t = 1e-3 hits the vertex FP = 3 exactly, as the goldens require).
 */
export function parseDecimal(value: string | number): Decimal {
  const text = typeof value === "number" ? String(value) : value.trim();
  const m = /^(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) throw new Error(`not a positive decimal: "${text}"`);
  const frac = m[2] ?? "";
  const exp = Number(m[3] ?? 0) - frac.length;
  let mantissa = BigInt(m[1] + frac);
  let scale = 1n;
  if (exp >= 0) mantissa *= 10n ** BigInt(exp);
  else scale = 10n ** BigInt(-exp);
  const label = typeof value === "number" ? formatTarget(Number(text)) : text;
  return { mantissa, scale, value: Number(text), label };
}

/** "1e-4" style label for a target. */
export function formatTarget(t: number): string {
  const [mant, exp] = t.toExponential().split("e");
  return `${mant}e${Number(exp)}`;
}

/** Compares FP/N with the decimal t exactly: −1, 0 or 1. */
export function compareRate(fp: number, N: number, t: Decimal): number {
  const lhs = BigInt(fp) * t.scale;
  const rhs = t.mantissa * BigInt(N);
  return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
}
