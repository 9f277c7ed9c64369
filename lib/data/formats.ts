/**
 * Dataset formats users bring, besides the LFW layout: image folders (one folder per identity), OpenSphere's
 * training list (`relative/path identity`) and pair lists (`label path0 path1`), plus the data-hygiene check of
 * identity overlap between a training set and a test pair list. insightface `.bin` packs are in `pickle.ts`,
 * landmark files in `landmarks.ts`.
 *
 * @example
 * ```ts
 * import { identityOverlap, parsePairList, parseTrainList } from "./formats.ts";
 * const train = parseTrainList("a/1.jpg 0\nb/1.jpg 1\n", "train.txt");
 * const pairs = parsePairList("1 a/1.jpg a/2.jpg\n0 a/1.jpg c/1.jpg\n", "pairs.lst");
 * identityOverlap(train.identities, pairs.pairs.flatMap((p) => [p.path0, p.path1].map((x) => x.split("/")[0])));
 * // ["a"]
 * ```
 * @module
 */
import { join } from "node:path";
import { DataError, numberedLines, readTextFile } from "./errors.ts";

/** A labelled training image; `path` is relative to the dataset root. */
export interface LabelledImage {
  path: string;
  label: number;
}

/** A training set: identity names (index = label) and images. */
export interface TrainSet {
  identities: string[];
  items: LabelledImage[];
}

const IMAGE_EXT = /\.(jpe?g|png|pgm|ppm)$/i;

/**
 * An image folder: each sub-folder of `root` is one identity (sorted by name → labels 0…K−1), holding its images
 * (.jpg/.jpeg/.png/.pgm/.ppm, sorted). Empty identity folders and stray files at the top are errors.
 */
export async function readImageFolders(root: string): Promise<TrainSet> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory) names.push(e.name);
      else if (IMAGE_EXT.test(e.name)) {
        throw new DataError(join(root, e.name), "image outside an identity folder (expected ROOT/IDENTITY/IMAGE)");
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(root, "image folder not found");
    throw err;
  }
  names.sort();
  if (names.length === 0) throw new DataError(root, "no identity folders");
  const items: LabelledImage[] = [];
  for (const [label, name] of names.entries()) {
    const files: string[] = [];
    for await (const e of Deno.readDir(join(root, name))) if (e.isFile && IMAGE_EXT.test(e.name)) files.push(e.name);
    if (files.length === 0) throw new DataError(join(root, name), "identity folder holds no images");
    files.sort();
    for (const f of files) items.push({ path: `${name}/${f}`, label });
  }
  return { identities: names, items };
}

/**
 * OpenSphere's training list: `relative/path identity` per line (space- or tab-separated). Identities may be
 * integers or names; labels are assigned in order of first appearance (integers keep their numeric order).
 */
export function parseTrainList(text: string, file: string): TrainSet & { lines: number[] } {
  const rows: { path: string; id: string; line: number }[] = [];
  for (const { line, text: t } of numberedLines(text)) {
    const f = t.trim().split(/\s+/);
    if (f.length !== 2) throw new DataError(file, `expected "relative/path identity", got ${f.length} field(s)`, line);
    rows.push({ path: f[0], id: f[1], line });
  }
  if (rows.length === 0) throw new DataError(file, "empty training list");
  const numeric = rows.every((r) => /^[0-9]+$/.test(r.id));
  const ids = [...new Set(rows.map((r) => r.id))];
  if (numeric) ids.sort((a, b) => Number(a) - Number(b));
  const index = new Map(ids.map((id, i) => [id, i]));
  return {
    identities: ids,
    items: rows.map((r) => ({ path: r.path, label: index.get(r.id)! })),
    lines: rows.map((r) => r.line),
  };
}

/** One line of an OpenSphere pair list. */
export interface PathPair {
  same: boolean;
  path0: string;
  path1: string;
  line: number;
}

/** OpenSphere's pair list: `label path0 path1` per line, label 1 = same person, 0 = different. */
export function parsePairList(text: string, file: string): { pairs: PathPair[]; paths: string[] } {
  const pairs: PathPair[] = [];
  for (const { line, text: t } of numberedLines(text)) {
    const f = t.trim().split(/\s+/);
    if (f.length !== 3) throw new DataError(file, `expected "label path0 path1", got ${f.length} field(s)`, line);
    if (f[0] !== "0" && f[0] !== "1") {
      throw new DataError(file, `label must be 0 or 1, got ${JSON.stringify(f[0])}`, line);
    }
    pairs.push({ same: f[0] === "1", path0: f[1], path1: f[2], line });
  }
  if (pairs.length === 0) throw new DataError(file, "empty pair list");
  // OpenSphere indexes features by the sorted unique paths.
  const paths = [...new Set(pairs.flatMap((p) => [p.path0, p.path1]))].sort();
  return { pairs, paths };
}

/** Reads a list file (training or pair list) and checks every image it names exists under `root`. */
export async function checkListedImages(
  root: string,
  file: string,
  entries: { path: string; line: number }[],
): Promise<void> {
  for (const e of entries) {
    try {
      if (!(await Deno.stat(join(root, e.path))).isFile) throw new Error();
    } catch {
      throw new DataError(file, `image ${join(root, e.path)} not found`, e.line);
    }
  }
}

/** Reads and parses an OpenSphere training list, checking its images exist under `root`. */
export async function readTrainList(file: string, root: string): Promise<TrainSet> {
  const set = parseTrainList(await readTextFile(file, "training list"), file);
  await checkListedImages(root, file, set.items.map((it, i) => ({ path: it.path, line: set.lines[i] })));
  return { identities: set.identities, items: set.items };
}

/** Reads and parses an OpenSphere pair list, checking its images exist under `root`. */
export async function readPairList(file: string, root: string): Promise<{ pairs: PathPair[]; paths: string[] }> {
  const list = parsePairList(await readTextFile(file, "pair list"), file);
  await checkListedImages(
    root,
    file,
    list.pairs.flatMap((p) => [{ path: p.path0, line: p.line }, { path: p.path1, line: p.line }]),
  );
  return list;
}

/**
 * Identities (by name) present both in a training set and in a test pair list, sorted: the overlap list that
 * careful peers publish, since a test identity seen in training inflates verification accuracy.
 */
export function identityOverlap(trainIdentities: Iterable<string>, testIdentities: Iterable<string>): string[] {
  const train = new Set(trainIdentities);
  return [...new Set([...testIdentities].filter((n) => train.has(n)))].sort();
}
