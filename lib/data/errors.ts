/**
 * One error type for bad data: it names the file (and the line, when there is one) and says what is wrong, so a
 * task prints a single line such as `data/pairs.txt:12: expected 3 or 4 tab-separated fields, got 2`.
 *
 * @example
 * ```ts
 * import { DataError } from "./errors.ts";
 * const err = new DataError("pairs.txt", "expected 3 or 4 fields, got 2", 12);
 * // err.message === "pairs.txt:12: expected 3 or 4 fields, got 2"
 * ```
 * @module
 */

/** A problem with a data file the user brought or downloaded; `message` is `file[:line]: what`. */
export class DataError extends Error {
  override name = "DataError";
  constructor(readonly file: string, readonly problem: string, readonly line?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ""}: ${problem}`);
  }
}

/** Reads a text file, turning "not found" into a {@link DataError} that says which file was expected and why. */
export async function readTextFile(path: string, what = "file"): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(path, `${what} not found`);
    throw err;
  }
}

/**
 * Splits a text file into lines with their 1-based numbers, dropping blank lines and a final newline (and a
 * Windows `\r`), so parsers report the line a user sees in an editor.
 */
export function numberedLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].replace(/\r$/, "");
    if (t.trim() !== "") out.push({ line: i + 1, text: t });
  }
  return out;
}
