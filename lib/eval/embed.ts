/**
 * The embedding of one aligned face crop, as every kit model is evaluated: the crop and its mirror image through the
 * backbone (eval mode), the two embeddings summed, L2-normalised. The one embedding path of `deno task eval`,
 * `embed` and `compare` (Deno) and of the web page (browser), so all compute the same numbers. Pixels are scaled as
 * the model was trained: the kit's (and OpenSphere's) RGB (v − 127.5) / 127.5 unless the run says otherwise (an
 * imported model records its source's preprocessing).
 *
 * @example
 * ```ts
 * import { embedCrop } from "./embed.ts";
 * import type { RgbImage } from "../data/image.ts";
 * const crop: RgbImage = { width: 2, height: 2, data: new Uint8Array(12).fill(128) };
 * const e = await embedCrop((x) => x.reshape([x.shape[0], 12]) as never, crop); // Float32Array, |e| = 1
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { RgbImage } from "../data/image.ts";
import { KIT_PREPROCESS, type Preprocess, preprocessPixels } from "../data/preprocess.ts";

/** A backbone's forward pass in eval mode: `[n, h, w, 3]` preprocessed pixels → `[n, d]`. */
export type Forward = (images: tf.Tensor4D) => tf.Tensor2D;

/** How {@link embedCrop} feeds and combines. */
export interface EmbedOptions {
  /** Input pixels as the model was trained on them (default: the kit's, RGB (v − 127.5)/127.5). */
  preprocess?: Preprocess;
  /** Sum the mirror image's embedding in (default true, as eval does). */
  flip?: boolean;
  /** L2-normalise the result (default true). */
  normalise?: boolean;
}

/** The embedding of a crop of the model's input size (asynchronous read: WebGPU-safe). */
export async function embedCrop(forward: Forward, crop: RgbImage, options: EmbedOptions = {}): Promise<Float32Array> {
  const { width, height } = crop;
  const flip = options.flip ?? true;
  const pixels = preprocessPixels(crop.data, options.preprocess ?? KIT_PREPROCESS);
  const feature = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [1, height, width, 3]);
    const sum = tf.sum(forward(flip ? tf.concat([x, tf.reverse(x, 2)]) : x), 0);
    return options.normalise === false ? sum : tf.div(sum, tf.maximum(tf.norm(sum), 1e-12));
  });
  const values = (await feature.data()) as Float32Array;
  feature.dispose();
  return values;
}

/** Cosine of two embeddings (they need not be normalised). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine: lengths differ (${a.length} vs ${b.length})`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.max(Math.sqrt(aa * bb), 1e-12);
}
