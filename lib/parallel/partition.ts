/**
 * How the classifier's K class centres are split over P shards: contiguous blocks, as insightface's Partial FC
 * (`partial_fc_v2.py`) splits them over ranks, so shard r owns classes [start, start + size) with
 *
 *   size_r = ⌊K/P⌋ + [r < K mod P],   start_r = ⌊K/P⌋·r + min(r, K mod P).
 *
 * The first K mod P shards hold one class more; sizes differ by at most one and add up to K.
 *
 * @example
 * ```ts
 * import { localLabels, shardRanges } from "./partition.ts";
 * shardRanges(7, 3); // [{ start: 0, size: 3 }, { start: 3, size: 2 }, { start: 5, size: 2 }]
 * localLabels(new Int32Array([0, 4, 6]), shardRanges(7, 3)[1]); // Int32Array [-1, 1, -1]
 * ```
 * @module
 */

/** One shard's block of classes. */
export interface ShardRange {
  /** First global class index held by the shard. */
  start: number;
  /** Number of classes held (num_local). */
  size: number;
}

/** The contiguous class blocks of P shards over K classes (formula in the module doc). */
export function shardRanges(numClasses: number, shards: number): ShardRange[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`shardRanges: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`shardRanges: shards must be ≥ 1, got ${shards}`);
  if (shards > numClasses) {
    throw new Error(`shardRanges: ${shards} shards for ${numClasses} classes would leave a shard without classes`);
  }
  const base = Math.floor(numClasses / shards);
  const extra = numClasses % shards;
  return Array.from(
    { length: shards },
    (_, r) => ({ start: base * r + Math.min(r, extra), size: base + (r < extra ? 1 : 0) }),
  );
}

/**
 * Global labels mapped to a shard's local indices: label − start inside the block, −1 outside it (Partial FC's
 * convention). A −1 label gives an all-zero one-hot row, so the shard's terms for that sample are all negatives.
 */
export function localLabels(labels: Int32Array, range: ShardRange): Int32Array {
  const out = new Int32Array(labels.length);
  const end = range.start + range.size;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    out[i] = y >= range.start && y < end ? y - range.start : -1;
  }
  return out;
}

/** Columns [start, start + size) of a row-major d×K matrix, as a row-major d×size matrix. */
export function sliceColumns(matrix: Float32Array, rows: number, cols: number, range: ShardRange): Float32Array {
  if (matrix.length !== rows * cols) {
    throw new Error(`sliceColumns: expected ${rows}×${cols} values, got ${matrix.length}`);
  }
  const out = new Float32Array(rows * range.size);
  for (let i = 0; i < rows; i++) {
    out.set(matrix.subarray(i * cols + range.start, i * cols + range.start + range.size), i * range.size);
  }
  return out;
}

/** The inverse of {@link sliceColumns}: the shards' d×size blocks put back side by side into one d×K matrix. */
export function joinColumns(
  blocks: readonly Float32Array[],
  rows: number,
  ranges: readonly ShardRange[],
): Float32Array {
  const cols = ranges.reduce((n, r) => n + r.size, 0);
  const out = new Float32Array(rows * cols);
  blocks.forEach((block, s) => {
    const { start, size } = ranges[s];
    if (block.length !== rows * size) {
      throw new Error(`joinColumns: shard ${s} has ${block.length} values, expected ${rows * size}`);
    }
    for (let i = 0; i < rows; i++) out.set(block.subarray(i * size, (i + 1) * size), i * cols + start);
  });
  return out;
}

/**
 * Sizes of the column chunks a shard walks its k-class block in, `chunk` classes each; a one-class remainder joins
 * the chunk before it (tf.oneHot needs a depth of at least 2), so every chunk has ≥ 2 classes when k ≥ 2.
 */
export function chunkSizes(k: number, chunk: number): number[] {
  const c = Math.max(2, Math.min(Math.floor(chunk), k));
  const sizes: number[] = [];
  for (let start = 0, size = 0; start < k; start += size) {
    size = k - start <= c + 1 ? k - start : c;
    sizes.push(size);
  }
  return sizes;
}
