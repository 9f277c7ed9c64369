/**
 * The kit's seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna) with a 128-bit state that is four
 * uint32 words, so a checkpoint can store it exactly and a resumed run continues the same stream. Independent
 * streams (initialisation, shuffling, flips, label noise) are derived from one seed and a stream name, so adding
 * draws to one stream never shifts another.
 *
 * This is not Python's Mersenne Twister: with the same seed, label noise picks different images than OpenSphere's
 * `random.seed(seed); random.random()` (same ratio and law, different draws).
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = Rng.fromSeed(42, "shuffle");
 * const perm = rng.permutation(10);
 * const saved = rng.state();            // [u32, u32, u32, u32]
 * const again = Rng.fromState(saved);   // continues exactly where rng is
 * ```
 * @module
 */

/** splitmix32: spreads a 32-bit counter into well-mixed words (used only for seeding). */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a of a string: turns a stream name into a 32-bit word. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * A 32-bit seed derived from a seed and a list of stream keys (names or integers): `deriveSeed(7, "init", 3)`.
 * Used for tfjs initialisers, whose `seed` argument takes a number.
 */
export function deriveSeed(seed: number, ...keys: (string | number)[]): number {
  let h = splitmix32((seed >>> 0) ^ Math.floor(seed / 2 ** 32));
  for (const k of keys) h = splitmix32(h ^ (typeof k === "number" ? splitmix32(k >>> 0) : hashString(k)));
  return h;
}

/** xoshiro128**: fast, 2^128 − 1 period, exact state in four uint32 words. */
export class Rng {
  #s: Uint32Array;

  private constructor(state: readonly number[]) {
    this.#s = Uint32Array.from(state);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1; // the all-zero state is a fixed point
  }

  /** A generator for `(seed, ...stream keys)`; different keys give independent streams. */
  static fromSeed(seed: number, ...keys: (string | number)[]): Rng {
    let h = deriveSeed(seed, ...keys);
    const state: number[] = [];
    for (let i = 0; i < 4; i++) state.push(h = splitmix32(h));
    return new Rng(state);
  }

  /** A generator continuing from a saved {@link state}. */
  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new Error(`rng state must be four uint32 words, got ${JSON.stringify(state)}`);
    }
    return new Rng(state);
  }

  /** The state as four uint32 words (JSON-safe). */
  state(): number[] {
    return Array.from(this.#s);
  }

  /** Next uint32. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two words, as CPython's `random()` builds its doubles). */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5, b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling), for 1 ≤ n ≤ 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new Error(`nextInt: n must be in [1, 2^32], got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let v = this.nextUint32();
    while (v >= limit) v = this.nextUint32();
    return v % n;
  }

  /** Standard normal draw (Box–Muller, one value per call so the state stays four words). */
  nextGaussian(): number {
    const u = 1 - this.nextFloat(); // (0, 1]: log is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.nextFloat());
  }

  /** A uniformly random permutation of 0…n−1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
