/**
 * The kit's one progress display, for every long piece of work (downloads, crop caches, generation, training,
 * notebook cells): `label [#####.....] 512/1000 51% <detail> 120/s ETA 1m02s`. On a terminal it is redrawn in
 * place at most every `intervalMs`; in a file or pipe one line per 10 % (CI logs stay short); a custom sink
 * (the notebook display, lib/notebook/progress.ts) gets every state that passes the throttle.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const bar = new Progress("aligning", 1000);
 * for (let i = 0; i < 1000; i++) bar.tick();
 * bar.done();
 * const training = new Progress("train", 200, { quiet: true });
 * training.update(10, "loss 2.3140");
 * ```
 * @module
 */
const enc = new TextEncoder();

/** One state of a progress display. */
export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** Free text after the counts (`loss 2.31 lr 0.1`, or the closing note). */
  detail: string;
  /** Seconds since the display started. */
  seconds: number;
  /** Estimated seconds left (from the items done by this process); NaN before the first. */
  eta: number;
  /** The closing state (`done()`). */
  final: boolean;
}

/** Where states go. `first`: the first state shown (a display is created, later ones update it). */
export interface ProgressSink {
  show(state: ProgressState, first: boolean): void | Promise<void>;
}

export interface ProgressOptions {
  /** Show nothing but notes. */
  quiet?: boolean;
  /** Default: stderr (in place on a terminal, a line per 10 % otherwise). */
  sink?: ProgressSink;
  /** Minimum milliseconds between two shown states, except the first and the last (default 100). */
  intervalMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
  /** Show the items per second (default true; off when the detail already says it, as training's img/s). */
  rate?: boolean;
}

/** Formats seconds as `1h02m`, `3m05s`, `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** `label [#####.....] 512/1000 51% detail 120/s ETA 1m02s` (no rate when `rate` is null). */
function progressLine(s: ProgressState, rate: number | null): string {
  const frac = s.total ? Math.min(1, s.done / s.total) : 1;
  const width = 24, full = Math.round(frac * width);
  const eta = s.final || s.done >= s.total ? "" : ` ETA ${formatDuration(s.eta)}`;
  return `${s.label} [${"#".repeat(full)}${".".repeat(width - full)}] ${s.done}/${s.total} ` +
    `${Math.round(frac * 100)}%${s.detail ? ` ${s.detail}` : ""}` +
    `${rate === null ? "" : ` ${rate.toFixed(rate < 10 ? 1 : 0)}/s`}${eta}`;
}

/** Counts work items and shows the state through its sink, throttled. */
export class Progress {
  #done = 0;
  #from = 0;
  #lastShown = -Infinity;
  #lastDecile = -1;
  #first = true;
  #detail = "";
  readonly #tty: boolean;
  readonly #sink: ProgressSink | null;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #start: number;
  /** Number of states shown (the rest were throttled). */
  shown = 0;

  constructor(readonly label: string, readonly total: number, readonly options: ProgressOptions = {}) {
    this.#sink = options.sink ?? null;
    this.#tty = !this.#sink && Deno.stderr.isTerminal();
    this.#intervalMs = options.intervalMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Where a resumed piece of work starts (the rate and ETA count only this process's items). */
  start(done: number): void {
    this.#done = this.#from = done;
  }

  /** Adds `n` finished items. */
  tick(n = 1, detail?: string): void | Promise<void> {
    return this.update(this.#done + n, detail);
  }

  /** Sets the number of finished items, with an optional detail text; throttled unless it is the last. */
  update(done: number, detail?: string): void | Promise<void> {
    this.#done = done;
    if (detail !== undefined) this.#detail = detail;
    if (this.options.quiet) return;
    const now = this.#now();
    if (this.#sink || this.#tty) {
      if (!this.#first && done < this.total && now - this.#lastShown < this.#intervalMs) return;
    } else {
      const decile = Math.floor((10 * done) / Math.max(1, this.total));
      if (decile <= this.#lastDecile) return;
      this.#lastDecile = decile;
    }
    this.#lastShown = now;
    return this.#show(false);
  }

  /** Prints a message on its own line without breaking the bar (also when quiet: notes are not progress). */
  note(message: string): void {
    Deno.stderr.writeSync(enc.encode(`${this.#tty ? "\r\x1b[K" : ""}${message}\n`));
  }

  /** Shows the closing state (with `detail` as its note, e.g. "done"). */
  done(detail?: string): void | Promise<void> {
    if (detail !== undefined) this.#detail = detail;
    if (this.options.quiet) return;
    if (this.#sink) {
      this.#done = this.total;
      return this.#show(true);
    }
    // A file got its 100 % line from update(); a terminal ends the redrawn line.
    if (this.#tty) return this.#show(true);
  }

  /** Seconds since the display started. */
  get seconds(): number {
    return (this.#now() - this.#start) / 1000;
  }

  /** The current state. */
  state(final = false): ProgressState {
    const seconds = this.seconds;
    const did = this.#done - this.#from;
    const eta = did > 0 ? (seconds / did) * Math.max(0, this.total - this.#done) : NaN;
    return { label: this.label, done: this.#done, total: this.total, detail: this.#detail, seconds, eta, final };
  }

  /** The current state as one text line. */
  line(): string {
    const rate = this.options.rate === false ? null : (this.#done - this.#from) / Math.max(1e-3, this.seconds);
    return progressLine(this.state(), rate);
  }

  #show(final: boolean): void | Promise<void> {
    const first = this.#first;
    this.#first = false;
    this.shown += 1;
    if (this.#sink) return this.#sink.show(this.state(final), first);
    const text = this.line();
    if (this.#tty) Deno.stderr.writeSync(enc.encode(`\r${text}\x1b[K${final ? "\n" : ""}`));
    else Deno.stderr.writeSync(enc.encode(`${text}\n`));
  }
}
