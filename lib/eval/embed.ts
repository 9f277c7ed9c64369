/**
 * The embedding of one aligned face crop, as every kit model is evaluated: the crop and its mirror image through the
 * backbone (eval mode), the two embeddings summed, L2-normalised. Shared by `deno task eval`/`compare` (Deno) and the
 * web page (browser), so both compute the same numbers. Pixels are scaled as in OpenSphere: (v − 127.5) / 127.5.
 *
 * @example
 * ```ts
 * import { embedCrop } from "./embed.ts";
 * const e = await embedCrop((x) => model.forward(x, false), crop); // Float32Array, |e| = 1
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { RgbImage } from "../data/image.ts";

/** A backbone's forward pass in eval mode: `[n, h, w, 3]` in [−1, 1] → `[n, d]`. */
export type Forward = (images: tf.Tensor4D) => tf.Tensor2D;

/** Flip-fused, L2-normalised embedding of a square crop of the model's input size (asynchronous read: WebGPU-safe). */
export async function embedCrop(forward: Forward, crop: RgbImage): Promise<Float32Array> {
  const { width, height } = crop;
  const pixels = Float32Array.from(crop.data, (v) => (v - 127.5) / 127.5);
  const feature = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [1, height, width, 3]);
    const both = forward(tf.concat([x, tf.reverse(x, 2)]));
    const sum = tf.sum(both, 0);
    return tf.div(sum, tf.maximum(tf.norm(sum), 1e-12));
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
