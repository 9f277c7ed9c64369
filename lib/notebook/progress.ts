/**
 * A live progress display for long cells: the kit's one {@link Progress} (lib/cli/progress.ts) shown as one
 * display updated in place in a notebook (so the saved notebook keeps only the final state), throttled lines on
 * stderr anywhere else.
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
import { Progress, type ProgressState } from "../cli/progress.ts";
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

export interface NotebookProgressOptions {
  /** Default: the kernel's display inside Jupyter, stderr elsewhere. */
  sink?: ProgressSink;
  /** Minimum milliseconds between two shown states, except the first and the last (default 250). */
  intervalMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

let displayCounter = 0;

/** The bundle of one state: an HTML bar and a text line (`label: done/total (pct %) 1.2 s · note`). */
export function progressBundle(s: ProgressState): MimeBundle {
  const fraction = s.total > 0 ? Math.min(Math.max(s.done / s.total, 0), 1) : 1;
  const pct = Math.round(fraction * 100);
  const text = `${s.label}: ${s.done}/${s.total} (${pct} %) ${s.seconds.toFixed(1)} s${
    s.detail ? ` · ${s.detail}` : ""
  }`;
  const html = `<div style="font-family:monospace"><progress value="${s.done}" max="${s.total}" ` +
    `style="width:240px"></progress> ${escapeHtml(text)}</div>`;
  return { "text/html": html, "text/plain": text };
}

/**
 * Starts the kit's progress display ({@link Progress}, lib/cli/progress.ts) as one display updated in place:
 * `await bar.update(step, note)`, `await bar.done(note)`.
 */
export function progress(label: string, total: number, options: NotebookProgressOptions = {}): Progress {
  const api = options.sink ? null : jupyterApi();
  const target = options.sink ?? (api ? kernelSink(api) : stderrSink());
  displayCounter += 1;
  const id = `sf2-progress-${Deno.pid}-${displayCounter}`;
  return new Progress(label, total, {
    sink: { show: (state, first) => target.show(progressBundle(state), id, !first) },
    intervalMs: options.intervalMs ?? 250,
    now: options.now,
  });
}
