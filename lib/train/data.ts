/**
 * What the training loop needs from a dataset, and nothing more: a labelled image source that assembles NHWC
 * batches (pixels already (v − 127.5)/127.5), plus optional verification pairs. Adapters turn the kit's data
 * layer into it (lfw_data.ts, list_data.ts); {@link toyData} builds a small in-memory set for tests.
 *
 * The batch order is OpenSphere's DataLoader with shuffle and drop_last: one random permutation per epoch, batch
 * b of epoch e is `perm_e[b·B, (b+1)·B)`. Permutation e is drawn from (seed, "shuffle", e) alone, so the order of
 * any step is known without replaying earlier ones (a resumed run only needs the step).
 *
 * @example
 * ```ts
 * import { BatchOrder, toyData } from "./data.ts";
 * const data = toyData({ classes: 4, perClass: 5, size: 8, valClasses: 2, valPerClass: 3, spread: 0.5 }, 1);
 * const order = new BatchOrder(data.count, 8, 1);
 * const indices = order.batchAt(0);                    // 8 image indices
 * const x = await data.batch(indices, indices.map(() => false)); // [8, 8, 8, 3]
 * x.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ImageBatches } from "../eval/verification.ts";
import { Rng } from "../random/rng.ts";

/** Verification pairs over a set of images (indices into `images`). */
export interface PairSet {
  name: string;
  images: ImageBatches;
  pairs: [number, number][];
  same: boolean[];
  /**
   * The list is already laid out in its 10 protocol folds (LFW's pairs.txt); otherwise 10-fold accuracy first
   * balances the folds (lists sorted matched-then-mismatched, like pairsDevTest.txt).
   */
  foldOrdered?: boolean;
}

/** A labelled training set as the loop sees it. */
export interface TrainingData {
  /** Number of classes K (labels are 0…K−1). */
  readonly numClasses: number;
  /** Image side (square). */
  readonly size: number;
  /** Number of training images. */
  readonly count: number;
  /** Clean labels in list order (label noise is applied by the loop). */
  readonly labels: Int32Array;
  /** Images at `indices`, `flips[k]` mirroring the k-th, as [n, size, size, 3] (owned by the caller). */
  batch(indices: readonly number[], flips: readonly boolean[]): tf.Tensor4D | Promise<tf.Tensor4D>;
  /** Pair lists to verify on (may be empty). */
  readonly validation: readonly PairSet[];
  /** A JSON-safe description for the run record (source, counts). */
  describe(): Record<string, unknown>;
}

/** Epoch-wise shuffled, drop-last batches of a fixed size. */
export class BatchOrder {
  readonly batchesPerEpoch: number;
  #epoch = -1;
  #perm: Int32Array = new Int32Array(0);

  constructor(readonly count: number, readonly batchSize: number, readonly seed: number) {
    if (batchSize > count) {
      throw new Error(`train.batchSize (${batchSize}) exceeds the number of training images (${count})`);
    }
    this.batchesPerEpoch = Math.floor(count / batchSize);
  }

  /** Epoch and batch within it of a 0-based step (the data cursor). */
  cursorAt(step: number): { epoch: number; batch: number } {
    return { epoch: Math.floor(step / this.batchesPerEpoch), batch: step % this.batchesPerEpoch };
  }

  /** Image indices of a 0-based step. */
  batchAt(step: number): number[] {
    const { epoch, batch } = this.cursorAt(step);
    if (epoch !== this.#epoch) {
      this.#perm = Rng.fromSeed(this.seed, "shuffle", epoch).permutation(this.count);
      this.#epoch = epoch;
    }
    return Array.from(this.#perm.subarray(batch * this.batchSize, (batch + 1) * this.batchSize));
  }
}

/** Mirrors the images whose flag is set, with tensor ops (no per-pixel JavaScript). Consumes `x`. */
export function flipImages(x: tf.Tensor4D, flips: readonly boolean[]): tf.Tensor4D {
  if (!flips.some(Boolean)) return x;
  const out = tf.tidy(() => {
    const mask = tf.tensor4d(flips.map((f) => (f ? 1 : 0)), [flips.length, 1, 1, 1], "bool");
    return tf.where(tf.broadcastTo(mask, x.shape), tf.reverse(x, 2), x) as tf.Tensor4D;
  });
  x.dispose();
  return out;
}

/** A dataset held as one NHWC float32 array (toy data, small crop sets). */
export class ArrayImages implements ImageBatches {
  readonly count: number;
  readonly #per: number;
  constructor(readonly pixels: Float32Array, readonly size: number) {
    this.#per = size * size * 3;
    this.count = pixels.length / this.#per;
  }

  /** Images at arbitrary indices, optionally mirrored. */
  gather(indices: readonly number[], flips?: readonly boolean[]): tf.Tensor4D {
    const out = new Float32Array(indices.length * this.#per);
    indices.forEach((i, k) => out.set(this.pixels.subarray(i * this.#per, (i + 1) * this.#per), k * this.#per));
    const x = tf.tensor4d(out, [indices.length, this.size, this.size, 3]);
    return flips ? flipImages(x, flips) : x;
  }

  batch(start: number, end: number): tf.Tensor4D {
    return tf.tensor4d(this.pixels.slice(start * this.#per, end * this.#per), [end - start, this.size, this.size, 3]);
  }
}

/** Options of {@link toyData} (the `toy` data config minus noise). */
export interface ToyOptions {
  classes: number;
  perClass: number;
  size: number;
  valClasses: number;
  valPerClass: number;
  spread: number;
}

/**
 * Random "identities": a random prototype image per class, each sample the prototype plus Gaussian noise of std
 * `spread`, clipped to [−1, 1]. Validation uses `valClasses` further identities (open-set) with all matched
 * pairs and as many mismatched ones. Deterministic in `seed`.
 */
export function toyData(o: ToyOptions, seed: number): TrainingData {
  const per = o.size * o.size * 3;
  const make = (classes: number, perClass: number, stream: string) => {
    const rng = Rng.fromSeed(seed, "toy", stream);
    const pixels = new Float32Array(classes * perClass * per);
    const labels = new Int32Array(classes * perClass);
    const proto = new Float32Array(per);
    for (let c = 0; c < classes; c++) {
      for (let k = 0; k < per; k++) proto[k] = 0.6 * rng.nextGaussian();
      for (let s = 0; s < perClass; s++) {
        const base = (c * perClass + s) * per;
        labels[c * perClass + s] = c;
        for (let k = 0; k < per; k++) {
          pixels[base + k] = Math.max(-1, Math.min(1, proto[k] + o.spread * rng.nextGaussian()));
        }
      }
    }
    return { images: new ArrayImages(pixels, o.size), labels };
  };
  const train = make(o.classes, o.perClass, "train");
  const validation: PairSet[] = [];
  if (o.valClasses >= 2) {
    const val = make(o.valClasses, o.valPerClass, "val");
    // Matched and mismatched pairs alternate, so insightface's contiguous 10 folds each hold both kinds.
    const pairs: [number, number][] = [], same: boolean[] = [];
    const rng = Rng.fromSeed(seed, "toy", "pairs");
    for (let i = 0; i < val.labels.length; i++) {
      for (let j = i + 1; j < val.labels.length; j++) {
        if (val.labels[i] !== val.labels[j]) continue;
        pairs.push([i, j]), same.push(true);
        for (;;) {
          const a = rng.nextInt(val.labels.length), b = rng.nextInt(val.labels.length);
          if (val.labels[a] !== val.labels[b]) {
            pairs.push([a, b]), same.push(false);
            break;
          }
        }
      }
    }
    validation.push({ name: "toy-val", images: val.images, pairs, same });
  }
  return {
    numClasses: o.classes,
    size: o.size,
    count: train.labels.length,
    labels: train.labels,
    batch: (indices, flips) => train.images.gather(indices, flips),
    validation,
    describe: () => ({ kind: "toy", ...o, images: train.labels.length, pairs: validation[0]?.pairs.length ?? 0 }),
  };
}
