/**
 * Label noise as OpenSphere's sec33 experiment applies it (shared/notes/opensphere.md §4): seeded once, then for
 * each image in list order, if a uniform draw u ≤ ratio, the label becomes a uniform draw over all K classes (so
 * about ratio/K of the "noisy" images keep their true label). The draws come from the kit's {@link Rng}
 * (xoshiro128**), not CPython's Mersenne Twister: the same law and ratio, but not the same images as OpenSphere
 * with the same seed.
 *
 * @example
 * ```ts
 * import { noisyLabels } from "./label_noise.ts";
 * const { labels, changed } = noisyLabels(Int32Array.from([0, 1, 2, 3]), 4, 0.6, 10086);
 * ```
 * @module
 */
import { Rng } from "../random/rng.ts";

/** Noisy copy of `labels`; `redrawn` counts the draws (u ≤ ratio), `changed` those that moved the label. */
export function noisyLabels(
  labels: Int32Array,
  numClasses: number,
  ratio: number,
  seed: number,
): { labels: Int32Array; redrawn: number; changed: number } {
  const out = Int32Array.from(labels);
  if (ratio <= 0) return { labels: out, redrawn: 0, changed: 0 };
  const rng = Rng.fromSeed(seed, "label-noise");
  let redrawn = 0, changed = 0;
  for (let i = 0; i < out.length; i++) {
    if (rng.nextFloat() <= ratio) {
      redrawn++;
      const y = rng.nextInt(numClasses);
      if (y !== out[i]) changed++;
      out[i] = y;
    }
  }
  return { labels: out, redrawn, changed };
}
