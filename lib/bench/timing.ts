/**
 * Timing helpers for benchmarks: warm-up, then the median of repeated steps, plus peak RSS sampled per step.
 * Benchmarks (never tests) carry the kit's speed claims; see `deno task bench`.
 *
 * @example
 * ```ts
 * import { timeSteps } from "./timing.ts";
 * const t = await timeSteps(() => {}, { warmup: 1, steps: 3 });
 * console.log(t.medianSeconds);
 * ```
 * @module
 */

export interface StepTimes {
  /** Seconds per step, in order. */
  seconds: number[];
  medianSeconds: number;
  minSeconds: number;
  /** Largest resident set size seen, in MB. */
  peakRssMB: number;
}

/** Runs `step` `warmup` times untimed, then `steps` times timed; awaits it if it returns a promise. */
export async function timeSteps(
  step: () => unknown,
  options: { warmup: number; steps: number },
): Promise<StepTimes> {
  // Garbage from setting up (the random initial weights a tfjs init builds in JavaScript: 205 MB at K = 10⁵) is not
  // the step's memory: collect it first where the bench task exposes the collector (--v8-flags=--expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  let peak = Deno.memoryUsage().rss;
  for (let i = 0; i < options.warmup; i++) {
    await step();
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }
  const seconds: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const t0 = performance.now();
    await step();
    seconds.push((performance.now() - t0) / 1000);
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }
  return { seconds, medianSeconds: median(seconds), minSeconds: Math.min(...seconds), peakRssMB: peak / 2 ** 20 };
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
