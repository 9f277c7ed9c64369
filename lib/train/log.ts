/**
 * Training logs: a JSONL file with one record per step (and per validation), appended and flushed as it goes
 * (the progress bar is lib/cli/progress.ts).
 *
 * @example
 * ```ts
 * import { JsonlLog } from "./log.ts";
 * const log = await JsonlLog.open("/tmp/demo/log.jsonl");
 * await log.write({ type: "step", step: 1, loss: 2.3 });
 * log.close();
 * ```
 * @module
 */
import { dirname } from "node:path";
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
    try {
      while (written < bytes.length) written += await this.file.write(bytes.subarray(written));
    } catch (err) {
      throw new Error(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err });
    }
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
