/**
 * Landmark files like LFW's `lfw_landmark.txt`: one line per image, `relative/path x1 y1 … x5 y5` (tabs or spaces;
 * left eye, right eye, nose tip, left and right mouth corner, "left" = image left), in a fixed reference frame
 * (250×250 for LFW): multiply by `imageWidth / frame` for a resized copy of the images.
 *
 * @example
 * ```ts
 * import { parseLandmarkFile } from "./landmarks.ts";
 * const table = parseLandmarkFile("A/A_0001.jpg\t107\t107\t147\t111\t124\t143\t103\t157\t139\t161\n", "lm.txt");
 * table.get("A/A_0001.jpg"); // [107, 107, …]
 * ```
 * @module
 */
import { DataError, numberedLines, readTextFile } from "./errors.ts";

/** Path (as written in the file) → 10 coordinates `[x1, y1, …, x5, y5]` in the file's frame. */
export type LandmarkTable = Map<string, number[]>;

/** The frame of LFW's landmark file: coordinates refer to the original 250×250 images. */
export const LFW_LANDMARK_FRAME = 250;

/** Parses a landmark file; a line without exactly 10 numbers after the path, or a repeated path, is an error. */
export function parseLandmarkFile(text: string, file: string): LandmarkTable {
  const table: LandmarkTable = new Map();
  for (const { line, text: t } of numberedLines(text)) {
    const fields = t.trim().split(/\s+/);
    if (fields.length !== 11) {
      throw new DataError(
        file,
        `expected a path and 10 landmark coordinates (x1 y1 ... x5 y5), got ${fields.length - 1} values`,
        line,
      );
    }
    const values = fields.slice(1).map(Number);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new DataError(file, `landmark value ${bad + 1} is not a number: ${JSON.stringify(fields[bad + 1])}`, line);
    }
    if (table.has(fields[0])) throw new DataError(file, `repeated path ${fields[0]}`, line);
    table.set(fields[0], values);
  }
  return table;
}

/** Reads and parses a landmark file. */
export async function readLandmarkFile(path: string): Promise<LandmarkTable> {
  return parseLandmarkFile(await readTextFile(path, "landmark file"), path);
}

/** Writes a table back in LFW's layout (tab-separated, numbers as short as they round-trip). */
export function formatLandmarkFile(table: LandmarkTable): string {
  return [...table].map(([path, v]) => [path, ...v.map((x) => String(x))].join("\t")).join("\n") + "\n";
}

/** The landmarks of `path`, scaled from the file's `frame` to an image `width` pixels wide (plain ratio, as LFW). */
export function landmarksFor(
  table: LandmarkTable,
  path: string,
  width: number,
  frame = LFW_LANDMARK_FRAME,
  file = "landmarks",
): number[] {
  const v = table.get(path);
  if (!v) throw new DataError(file, `no landmarks for ${path}`);
  return v.map((x) => (x * width) / frame);
}
