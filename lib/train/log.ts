/**
 * Training logs: a JSONL file with one record per step (and per validation), appended and flushed as it goes,
 * and a progress bar with ETA on stderr (redrawn in place on a terminal, one line per 10 % otherwise).
 *
 * @example
 * ```ts
 * import { JsonlLog, TrainProgress } from "./log.ts";
 * const log = await JsonlLog.open("/tmp/demo/log.jsonl");
 * await log.write({ type: "step", step: 1, loss: 2.3 });
 * log.close();
 * const bar = new TrainProgress(100, 0, true);
 * bar.update(1, { loss: 2.3, imgPerSec: 50 });
 * ```
 * @module
 */
import { dirname } from "node:path";
import { formatDuration } from "../cli/progress.ts";
import { writeTextFileAtomic } from "../fs/write.ts";

const enc = new TextEncoder();

/** Append-only JSON-lines file. */
export class JsonlLog {
  private constructor(readonly path: string, readonly file: Deno.FsFile) {}

  /** Opens (creating) `path` for appending. */
  static async open(path: string): Promise<JsonlLog> {
    await Deno.mkdir(dirname(path), { recursive: true });
    return new JsonlLog(path, await Deno.open(path, { append: true, create: true }));
  }

  async write(record: Record<string, unknown>): Promise<void> {
    const bytes = enc.encode(JSON.stringify(record) + "\n");
    let written = 0;
    while (written < bytes.length) written += await this.file.write(bytes.subarray(written));
  }

  close(): void {
    this.file.close();
  }
}

/**
 * Drops the records of steps after `step` (a run resumed from a checkpoint at `step` re-logs them), so the log
 * of a resumed run reads like the uninterrupted one. Lines that do not parse (a line cut by a kill) go too.
 */
export async function truncateLogAfter(path: string, step: number): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  const kept: string[] = [];
  let dropped = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as { step?: number };
      if (typeof rec.step === "number" && rec.step > step) dropped++;
      else kept.push(line);
    } catch {
      dropped++;
    }
  }
  await writeTextFileAtomic(path, kept.map((l) => l + "\n").join(""));
  return dropped;
}

/** `train [#####.....] 512/1000 51% loss 2.314 lr 0.1 38 img/s ETA 1m02s` on stderr. */
export class TrainProgress {
  readonly #tty = Deno.stderr.isTerminal();
  readonly #t0 = performance.now();
  #lastDraw = 0;
  #lastDecile = -1;

  /** `startStep`: where a resumed run starts (the ETA counts only this process's steps). */
  constructor(readonly total: number, readonly startStep = 0, readonly quiet = false) {}

  update(step: number, info: { loss: number; lr?: number; imgPerSec: number }): void {
    if (this.quiet) return;
    const now = performance.now();
    if (this.#tty) {
      if (now - this.#lastDraw < 100 && step < this.total) return;
      this.#lastDraw = now;
      Deno.stderr.writeSync(enc.encode(`\r${this.line(step, info)}\x1b[K`));
      if (step >= this.total) Deno.stderr.writeSync(enc.encode("\n"));
    } else {
      const decile = Math.floor((10 * step) / this.total);
      if (decile > this.#lastDecile) {
        this.#lastDecile = decile;
        Deno.stderr.writeSync(enc.encode(this.line(step, info) + "\n"));
      }
    }
  }

  /** Prints a message on its own line without breaking the bar (also when quiet: notes are not progress). */
  note(message: string): void {
    Deno.stderr.writeSync(enc.encode(`${this.#tty ? "\r\x1b[K" : ""}${message}\n`));
  }

  line(step: number, info: { loss: number; lr?: number; imgPerSec: number }): string {
    const frac = Math.min(1, step / this.total);
    const width = 24, full = Math.round(frac * width);
    const done = step - this.startStep;
    const elapsed = (performance.now() - this.#t0) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - step) : NaN;
    const lr = info.lr === undefined ? "" : ` lr ${info.lr.toPrecision(3)}`;
    return `train [${"#".repeat(full)}${".".repeat(width - full)}] ${step}/${this.total} ${Math.round(frac * 100)}% ` +
      `loss ${info.loss.toFixed(4)}${lr} ${info.imgPerSec.toFixed(info.imgPerSec < 10 ? 1 : 0)} img/s ` +
      `ETA ${step >= this.total ? "0s" : formatDuration(eta)}`;
  }
}
