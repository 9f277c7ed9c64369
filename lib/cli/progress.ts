/**
 * A progress bar on stderr for long data work (downloads, crop caches, generation): redrawn in place on a
 * terminal at most 10 times a second, or one line per 10 % when stderr is a file or pipe (CI logs stay short).
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const bar = new Progress("aligning", 1000);
 * for (let i = 0; i < 1000; i++) bar.tick();
 * bar.done();
 * ```
 * @module
 */
const enc = new TextEncoder();

/** Counts work items and draws `label [#####.....] 512/1000 51% 120/s`. */
export class Progress {
  #done = 0;
  #last = 0;
  #lastDecile = -1;
  readonly #start = performance.now();
  readonly #tty = Deno.stderr.isTerminal();
  constructor(readonly label: string, readonly total: number, readonly quiet = false) {}

  /** Adds `n` finished items. */
  tick(n = 1): void {
    this.#done += n;
    const now = performance.now();
    if (this.quiet) return;
    if (this.#tty) {
      if (now - this.#last < 100 && this.#done < this.total) return;
      this.#last = now;
      Deno.stderr.writeSync(enc.encode(`\r${this.line()}`));
    } else {
      const decile = Math.floor((10 * this.#done) / Math.max(1, this.total));
      if (decile > this.#lastDecile) {
        this.#lastDecile = decile;
        Deno.stderr.writeSync(enc.encode(`${this.line()}\n`));
      }
    }
  }

  /** Finishes the bar and returns the elapsed seconds. */
  done(): number {
    const s = (performance.now() - this.#start) / 1000;
    if (!this.quiet && this.#tty) Deno.stderr.writeSync(enc.encode(`\r${this.line()}\n`));
    return s;
  }

  line(): string {
    const frac = this.total ? Math.min(1, this.#done / this.total) : 1;
    const width = 24, full = Math.round(frac * width);
    const rate = this.#done / Math.max(1e-3, (performance.now() - this.#start) / 1000);
    return `${this.label} [${"#".repeat(full)}${".".repeat(width - full)}] ${this.#done}/${this.total} ` +
      `${Math.round(frac * 100)}% ${rate.toFixed(rate < 10 ? 1 : 0)}/s`;
  }
}

/** Formats seconds as `1h02m`, `3m05s`, `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}
