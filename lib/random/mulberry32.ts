/**
 * mulberry32: a tiny, fast, seeded 32-bit PRNG (uniform floats in [0, 1)), used wherever the kit needs a
 * reproducible stream that is not training state (synthetic data, protocol files, toy experiments). Training state
 * uses the checkpointable xoshiro128** of lib/random/rng.ts.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./mulberry32.ts";
 * const rand = mulberry32(42);
 * rand(); // the same first value for seed 42, every run
 * ```
 * @module
 */

/** A generator of uniform floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
