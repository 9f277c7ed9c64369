/**
 * CPU time of the calling thread, for benchmarks on a shared machine: wall-clock ratios wash out when other
 * processes take the cores, CPU seconds per shard do not.
 *
 * @example
 * ```ts
 * import { threadCpuSeconds } from "./cpu_time.ts";
 * const t0 = threadCpuSeconds(); // null off Linux
 * ```
 * @module
 */

/**
 * CPU seconds (user + system) used by the calling thread so far, from Linux's /proc/thread-self/stat (fields
 * utime and stime, at 100 ticks/s: 10 ms resolution); null where that file is unreadable. The synchronous read
 * runs on the calling thread, so in a Worker it is the worker's own thread.
 */
export function threadCpuSeconds(): number | null {
  try {
    const stat = Deno.readTextFileSync("/proc/thread-self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / 100 : null;
  } catch {
    return null;
  }
}
