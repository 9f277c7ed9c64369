/**
 * A live progress display for long cells: one display updated in place in a notebook (so the saved notebook
 * keeps only the final state), throttled lines on stderr anywhere else.
 *
 * @example
 * ```ts
 * import { progress } from "./progress.ts";
 * const bar = progress("training", 200);
 * for (let step = 1; step <= 200; step++) await bar.update(step, `loss ${(1 / step).toFixed(3)}`);
 * await bar.done("trained");
 * ```
 * @module
 */
import { escapeHtml, type MimeBundle } from "../render/display.ts";

/** Where progress goes: the Deno kernel's display (by id) or a text stream. */
export interface ProgressSink {
  /** Shows `bundle` as display `id`; `update` replaces the display created earlier with the same id. */
  show(bundle: MimeBundle, id: string, update: boolean): Promise<void>;
}

/** The `Deno.jupyter` surface used here (the kit type-checks without the kernel's declarations). */
interface JupyterApi {
  display(bundle: MimeBundle, options: { raw: true; display_id: string; update?: boolean }): Promise<void>;
}

/**
 * `Deno.jupyter` when running inside the Deno Jupyter kernel, else null. Merely reading `Deno.jupyter` outside
 * the kernel throws, hence the try.
 */
export function jupyterApi(): JupyterApi | null {
  try {
    const api = (Deno as unknown as { jupyter?: Partial<JupyterApi> }).jupyter;
    return api && typeof api.display === "function" ? api as JupyterApi : null;
  } catch {
    return null;
  }
}

/** Sink for the Deno kernel: the same display id is created once, then updated. */
export function kernelSink(api: JupyterApi): ProgressSink {
  return { show: (bundle, id, update) => api.display(bundle, { raw: true, display_id: id, update }) };
}

/** Sink that writes each state's `text/plain` as a line on stderr. */
export function stderrSink(): ProgressSink {
  const encoder = new TextEncoder();
  return {
    show: (bundle) => {
      Deno.stderr.writeSync(encoder.encode(`${bundle["text/plain"]}\n`));
      return Promise.resolve();
    },
  };
}

export interface ProgressOptions {
  /** Default: the kernel's display inside Jupyter, stderr elsewhere. */
  sink?: ProgressSink;
  /** Minimum milliseconds between two shown states, except the first and the last (default 250). */
  intervalMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

let displayCounter = 0;

/** A progress display of `total` steps. */
export class Progress {
  readonly id: string;
  #sink: ProgressSink;
  #intervalMs: number;
  #now: () => number;
  #started: number;
  #lastShown = -Infinity;
  #created = false;
  /** Number of states actually shown (the rest were throttled). */
  shown = 0;

  constructor(readonly label: string, readonly total: number, options: ProgressOptions = {}) {
    const api = options.sink ? null : jupyterApi();
    this.#sink = options.sink ?? (api ? kernelSink(api) : stderrSink());
    this.#intervalMs = options.intervalMs ?? 250;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
    displayCounter += 1;
    this.id = `sf2-progress-${Deno.pid}-${displayCounter}`;
  }

  /** Reports `done` of `total` steps with an optional note; throttled unless it is the last step. */
  async update(done: number, note = ""): Promise<void> {
    const now = this.#now();
    if (this.#created && done < this.total && now - this.#lastShown < this.#intervalMs) return;
    this.#lastShown = now;
    await this.#show(this.bundle(done, note, (now - this.#started) / 1000));
  }

  /** Shows the final state (100 %) with a closing note. */
  async done(note = "done"): Promise<void> {
    await this.#show(this.bundle(this.total, note, (this.#now() - this.#started) / 1000));
  }

  /** The bundle of one state: an HTML bar and a text line. */
  bundle(done: number, note: string, seconds: number): MimeBundle {
    const fraction = this.total > 0 ? Math.min(Math.max(done / this.total, 0), 1) : 1;
    const pct = Math.round(fraction * 100);
    const text = `${this.label}: ${done}/${this.total} (${pct} %) ${seconds.toFixed(1)} s${note ? ` · ${note}` : ""}`;
    const html = `<div style="font-family:monospace"><progress value="${done}" max="${this.total}" ` +
      `style="width:240px"></progress> ${escapeHtml(text)}</div>`;
    return { "text/html": html, "text/plain": text };
  }

  async #show(bundle: MimeBundle): Promise<void> {
    await this.#sink.show(bundle, this.id, this.#created);
    this.#created = true;
    this.shown += 1;
  }
}

/** Starts a {@link Progress} display. */
export function progress(label: string, total: number, options: ProgressOptions = {}): Progress {
  return new Progress(label, total, options);
}
