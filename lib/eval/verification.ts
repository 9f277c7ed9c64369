/**
 * Pair verification end to end: flip-fused features, cosine scores, and a table that reports both protocols the
 * literature mixes — OpenSphere's best-threshold ACC (with EER, AUC, TPR@FPR) and insightface's 10-fold accuracy —
 * each number labelled with its protocol.
 *
 * @example
 * ```ts
 * import { verificationTable } from "./verification.ts";
 * const rows = verificationTable([0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.95, 0.05, 0.6, 0.4], [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
 * // rows[0] = { metric: "ACC", protocol: "best threshold (OpenSphere)", value: 100, unit: "%" }
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { distancesFromCosines, tenFoldAccuracy } from "./insightface_metrics.ts";
import { OPENSPHERE_FPR_TARGETS, openSphereMetrics } from "./opensphere_metrics.ts";

/** A source of NHWC float32 image batches (already normalised), e.g. an aligned-crop cache. */
export interface ImageBatches {
  /** Number of images. */
  readonly count: number;
  /** Images [start, end) as a [n, H, W, 3] tensor owned by the caller. */
  batch(start: number, end: number): tf.Tensor4D | Promise<tf.Tensor4D>;
}

export interface FeatureOptions {
  batchSize?: number;
  /** Average the embeddings of the image and its horizontal flip before normalising (default true). */
  flip?: boolean;
  /** Called after each batch with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embeds every image with `embed` (a backbone's forward pass), fusing the horizontal flip (mean of the two
 * embeddings, as OpenSphere main does; the sum gives the same direction) and L2-normalising. Returns a
 * [count × d] Float32Array, row-major.
 */
export async function extractFeatures(
  embed: (images: tf.Tensor4D) => tf.Tensor2D,
  images: ImageBatches,
  options: FeatureOptions = {},
): Promise<{ features: Float32Array; dim: number }> {
  const batchSize = options.batchSize ?? 64;
  const flip = options.flip ?? true;
  let features: Float32Array | null = null;
  let dim = 0;
  for (let start = 0; start < images.count; start += batchSize) {
    const end = Math.min(start + batchSize, images.count);
    const batch = await images.batch(start, end);
    const fused = tf.tidy(() => {
      const e = embed(batch);
      const sum = flip ? tf.add(e, embed(tf.reverse(batch, 2) as tf.Tensor4D)) : e;
      const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(sum), 1, true)), 1e-12);
      return tf.div(sum, norm) as tf.Tensor2D;
    });
    batch.dispose();
    const values = await fused.data() as Float32Array;
    if (!features) {
      dim = fused.shape[1];
      features = new Float32Array(images.count * dim);
    }
    fused.dispose();
    features.set(values, start * dim);
    options.onProgress?.(end, images.count);
  }
  return { features: features ?? new Float32Array(0), dim };
}

/** Cosine score of each pair (i, j) of unit-norm feature rows. */
export function pairCosines(
  features: Float32Array,
  dim: number,
  pairs: ReadonlyArray<readonly [number, number]>,
): Float64Array {
  return Float64Array.from(pairs, ([i, j]) => {
    let s = 0;
    for (let k = 0; k < dim; k++) s += features[i * dim + k] * features[j * dim + k];
    return s;
  });
}

/** One reported number with the protocol it was computed under. */
export interface LabelledMetric {
  metric: string;
  protocol: string;
  value: number;
  /** Population std over folds, for 10-fold accuracy. */
  std?: number;
  unit: "%";
}

export const PROTOCOL_BEST_THRESHOLD = "best threshold (OpenSphere)";
export const PROTOCOL_ROC = "ROC over all pairs (OpenSphere)";
export const PROTOCOL_TEN_FOLD = "10-fold (insightface/LFW)";

/**
 * Reorders a pair list so that every contiguous tenth holds its share of matched and mismatched pairs: fold f takes
 * the f-th tenth of the matched pairs and the f-th tenth of the mismatched ones (order kept within each). LFW's
 * pairs.txt is already laid out this way; lists sorted matched-then-mismatched (pairsDevTest.txt, OpenSphere lists)
 * are not, and insightface's contiguous folds would then hold one kind only.
 */
export function balancedFoldOrder(labels: ArrayLike<number | boolean>, folds = 10): number[] {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) (Number(labels[i]) === 1 ? pos : neg).push(i);
  const slice = (list: number[], f: number) =>
    list.slice(Math.floor((f * list.length) / folds), Math.floor(((f + 1) * list.length) / folds));
  return Array.from({ length: folds }, (_, f) => [...slice(pos, f), ...slice(neg, f)]).flat();
}

/**
 * Both protocols side by side: ACC with one best threshold over all pairs, and 10-fold ACC (mean ± std, thresholds
 * fitted on nine folds), plus EER, AUC and TPR@FPR. The 10-fold row is omitted for fewer than 10 pairs. With
 * `balanceFolds` the 10-fold protocol runs on {@link balancedFoldOrder} and its label says so.
 */
export function verificationTable(
  cos: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
  targets: readonly string[] = OPENSPHERE_FPR_TARGETS,
  options: { balanceFolds?: boolean } = {},
): LabelledMetric[] {
  const os = openSphereMetrics(cos, labels, targets);
  const rows: LabelledMetric[] = [{ metric: "ACC", protocol: PROTOCOL_BEST_THRESHOLD, value: os.ACC, unit: "%" }];
  if (cos.length >= 10) {
    const order = options.balanceFolds ? balancedFoldOrder(labels) : null;
    const d = distancesFromCosines(order ? order.map((i) => cos[i]) : cos);
    const kf = tenFoldAccuracy(d, order ? order.map((i) => Number(labels[i])) : labels);
    const protocol = order ? `${PROTOCOL_TEN_FOLD}, folds balanced` : PROTOCOL_TEN_FOLD;
    rows.push({ metric: "ACC", protocol, value: 100 * kf.mean, std: 100 * kf.std, unit: "%" });
  }
  for (const [metric, value] of Object.entries(os)) {
    if (metric !== "ACC") rows.push({ metric, protocol: PROTOCOL_ROC, value, unit: "%" });
  }
  return rows;
}
