/**
 * The LFW layout as shipped: `images/NAME/NAME_XXXX.jpg`, `people.txt` / `peopleDevTrain.txt` / `peopleDevTest.txt`,
 * `pairs.txt` (View 2: 10 folds × 300 matched + 300 mismatched) / `pairsDevTrain.txt` / `pairsDevTest.txt` (View 1),
 * and the 5-point landmark file `landmarks/lfw_landmark.txt` (250×250 frame). The synthetic dataset is written in
 * the same layout, so everything downstream treats both alike.
 *
 * View 1 is used as an open-set split: train on the people of `peopleDevTrain.txt`, verify on `pairsDevTest.txt`
 * (disjoint identities). View 2 is the 10 folds of `pairs.txt`.
 *
 * @example
 * ```ts
 * import { openLfw } from "./lfw.ts";
 * const lfw = await openLfw("data/cache/lfw"); // after `deno task data lfw`
 * const { train, test } = await lfw.view1({ skipIncomplete: true }); // the distributed copy lacks one image
 * const folds = await lfw.view2();                                     // 10 × 600 pairs
 * ```
 * @module
 */
import { join } from "node:path";
import { DataError, numberedLines, readTextFile } from "./errors.ts";
import { readImage } from "./image.ts";
import { type LandmarkTable, LFW_LANDMARK_FRAME, readLandmarkFile } from "./landmarks.ts";
import { isDir, isFile } from "../fs/paths.ts";

/** One image of a person: `images/NAME/NAME_XXXX.jpg` with 1-based `index`. */
export interface ImageRef {
  name: string;
  index: number;
}

/** A verification pair and where it came from. */
export interface Pair {
  a: ImageRef;
  b: ImageRef;
  same: boolean;
  /** 0-based fold (set) of the pairs file. */
  fold: number;
  /** 1-based line in the pairs file. */
  line: number;
}

/** A pairs file: `folds` sets, each `perFold` matched then `perFold` mismatched pairs. */
export interface PairsFile {
  file: string;
  folds: number;
  perFold: number;
  pairs: Pair[];
}

/** A people file: one list of `name count` per fold (one fold for the View 1 files). */
export interface PeopleFile {
  file: string;
  folds: { name: string; count: number; line: number }[][];
}

/** `NAME/NAME_0001.jpg`: the path relative to `images/` and as written in the landmark file. */
export function lfwRelativePath(ref: ImageRef, ext = "jpg"): string {
  return `${ref.name}/${ref.name}_${String(ref.index).padStart(4, "0")}.${ext}`;
}

const positiveInt = (s: string) => /^[0-9]+$/.test(s) && Number(s) > 0;

/**
 * Parses `pairs*.txt`: header `F\tP` (or just `P`, one set), then per set P lines `name n1 n2` (matched) and P
 * lines `name1 n1 name2 n2` (mismatched). Any other count, order or field is an error naming the line.
 */
export function parsePairs(text: string, file: string): PairsFile {
  const lines = numberedLines(text);
  if (lines.length === 0) throw new DataError(file, "empty pairs file");
  const head = lines[0].text.trim().split(/\s+/);
  if (!head.every(positiveInt) || head.length > 2) {
    throw new DataError(
      file,
      `header must be "FOLDS<tab>PAIRS" or "PAIRS", got ${JSON.stringify(lines[0].text)}`,
      lines[0].line,
    );
  }
  const folds = head.length === 2 ? Number(head[0]) : 1;
  const perFold = Number(head[head.length - 1]);
  const body = lines.slice(1);
  const expected = folds * 2 * perFold;
  const pairs: Pair[] = [];
  for (let k = 0; k < body.length; k++) {
    const { line, text: t } = body[k];
    const fold = Math.floor(k / (2 * perFold));
    if (fold >= folds) {
      throw new DataError(
        file,
        `more pairs than the header's ${folds} fold(s) × (${perFold} + ${perFold}) = ${expected}`,
        line,
      );
    }
    const f = t.trim().split(/\s+/);
    const matchedSlot = k % (2 * perFold) < perFold;
    if (f.length !== 3 && f.length !== 4) {
      throw new DataError(file, `expected 3 fields (name n1 n2) or 4 (name1 n1 name2 n2), got ${f.length}`, line);
    }
    if ((f.length === 3) !== matchedSlot) {
      const pos = (k % (2 * perFold)) + 1;
      throw new DataError(
        file,
        `fold ${fold + 1} must hold ${perFold} matched then ${perFold} mismatched pairs; pair ${pos} of the fold is ` +
          `${f.length === 3 ? "matched" : "mismatched"} (wrong pair count in the fold)`,
        line,
      );
    }
    const nums = f.length === 3 ? [f[1], f[2]] : [f[1], f[3]];
    const bad = nums.find((n) => !positiveInt(n));
    if (bad !== undefined) {
      throw new DataError(file, `image number must be a positive integer, got ${JSON.stringify(bad)}`, line);
    }
    const a = { name: f[0], index: Number(nums[0]) };
    const b = f.length === 3 ? { name: f[0], index: Number(nums[1]) } : { name: f[2], index: Number(nums[1]) };
    pairs.push({ a, b, same: f.length === 3, fold, line });
  }
  if (pairs.length !== expected) {
    throw new DataError(
      file,
      `header says ${folds} fold(s) × (${perFold} + ${perFold}) = ${expected} pairs, found ${pairs.length}`,
    );
  }
  return { file, folds, perFold, pairs };
}

/** Parses `lfw-names.txt`: one `name<tab>count` line per identity (every identity of LFW, or of the synthetic set). */
export function parseLfwNames(text: string, file: string): { name: string; count: number }[] {
  const lines = numberedLines(text);
  if (lines.length === 0) throw new DataError(file, "empty names file");
  return lines.map(({ line, text: t }) => {
    const f = t.trim().split(/\s+/);
    if (f.length !== 2 || !positiveInt(f[1])) {
      throw new DataError(file, `expected "name<tab>count", got ${JSON.stringify(t)}`, line);
    }
    return { name: f[0], count: Number(f[1]) };
  });
}

/**
 * Parses `people*.txt`: either `N` then N `name count` lines (View 1), or `F` then per fold a count line and that
 * many `name count` lines (`people.txt`).
 */
export function parsePeople(text: string, file: string): PeopleFile {
  const lines = numberedLines(text);
  if (lines.length === 0) throw new DataError(file, "empty people file");
  const header = lines[0].text.trim();
  if (!positiveInt(header)) {
    throw new DataError(file, `header must be a count, got ${JSON.stringify(header)}`, lines[0].line);
  }
  const folded = lines.length > 1 && positiveInt(lines[1].text.trim());
  const person = (k: number) => {
    if (k >= lines.length) throw new DataError(file, "file ends early: fewer people than the counts say");
    const { line, text: t } = lines[k];
    const f = t.trim().split(/\s+/);
    if (f.length !== 2 || !positiveInt(f[1])) {
      throw new DataError(file, `expected "name<tab>count", got ${JSON.stringify(t)}`, line);
    }
    return { name: f[0], count: Number(f[1]), line };
  };
  const folds: PeopleFile["folds"] = [];
  let k = 1;
  const nFolds = folded ? Number(header) : 1;
  for (let fold = 0; fold < nFolds; fold++) {
    let n = Number(header);
    if (folded) {
      if (k >= lines.length) throw new DataError(file, `file ends before fold ${fold + 1} of ${nFolds}`);
      const t = lines[k].text.trim();
      if (!positiveInt(t)) {
        throw new DataError(file, `expected the count of fold ${fold + 1}, got ${JSON.stringify(t)}`, lines[k].line);
      }
      n = Number(t);
      k++;
    }
    const list = [];
    for (let i = 0; i < n; i++) list.push(person(k++));
    folds.push(list);
  }
  if (k < lines.length) throw new DataError(file, "more lines than the counts say", lines[k].line);
  return { file, folds };
}

/** What to do about pairs whose image is missing: fail (default) or drop them and count. */
export interface PairOptions {
  skipIncomplete?: boolean;
}

/** Pairs whose images all exist, and how many were dropped (always 0 unless `skipIncomplete`). */
export interface CheckedPairs extends PairsFile {
  dropped: Pair[];
}

/** A training identity: its label (0-based, file order) and its images. */
export interface Identity {
  name: string;
  label: number;
  images: ImageRef[];
}

/** An LFW-layout dataset on disk (real LFW or the kit's synthetic set). */
export class LfwDataset {
  #exists = new Map<string, boolean>();
  constructor(
    readonly dir: string,
    readonly landmarks: LandmarkTable,
    readonly landmarkFile: string,
    readonly ext = "jpg",
  ) {}

  /** Absolute path of an image. */
  imagePath(ref: ImageRef): string {
    return join(this.dir, "images", lfwRelativePath(ref, this.ext));
  }

  /** Landmarks of an image in its own pixel frame (the file's 250-frame values × width/250). */
  landmarksOf(ref: ImageRef, width: number): number[] {
    return this.fileLandmarks(ref).map((x) => (x * width) / LFW_LANDMARK_FRAME);
  }

  /** Landmarks of an image as the file gives them (250 frame); a missing entry names the file and the image. */
  fileLandmarks(ref: ImageRef): number[] {
    const rel = lfwRelativePath(ref, this.ext);
    const v = this.landmarks.get(rel);
    if (!v) throw new DataError(this.landmarkFile, `no landmarks for ${rel} (image ${this.imagePath(ref)})`);
    return v;
  }

  /**
   * Checks images for real (`data check`): each is decoded and must have a landmark entry; an empty landmark file
   * is one problem. Returns every problem as `FILE: what` (empty: all good); `onImage` is called per image.
   */
  async verifyImages(refs: readonly ImageRef[], onImage?: () => void): Promise<string[]> {
    const problems: string[] = [];
    if (this.landmarks.size === 0) problems.push(`${this.landmarkFile}: empty landmark file`);
    const seen = new Set<string>();
    for (const ref of refs) {
      const path = this.imagePath(ref);
      if (seen.has(path)) continue;
      seen.add(path);
      try {
        await readImage(path);
      } catch (err) {
        problems.push((err as Error).message);
      }
      if (this.landmarks.size > 0 && !this.landmarks.has(lfwRelativePath(ref, this.ext))) {
        problems.push(`${this.landmarkFile}: no landmarks for ${lfwRelativePath(ref, this.ext)} (image ${path})`);
      }
      onImage?.();
    }
    return problems;
  }

  /** Reads a pairs file of the dataset (`pairs.txt`, `pairsDevTest.txt`, …) and checks its images exist. */
  async pairs(name: string, options: PairOptions = {}): Promise<CheckedPairs> {
    const file = join(this.dir, name);
    const parsed = parsePairs(await readTextFile(file, "pairs file"), file);
    const kept: Pair[] = [], dropped: Pair[] = [];
    for (const p of parsed.pairs) {
      const missing = (await this.#missing(p.a)) ?? (await this.#missing(p.b));
      if (!missing) kept.push(p);
      else if (options.skipIncomplete) dropped.push(p);
      else throw new DataError(file, missing, p.line);
    }
    return { ...parsed, pairs: kept, dropped };
  }

  /** Reads a people file and lists each person's images (checked to exist), labels in file order. */
  async people(name: string, options: PairOptions = {}): Promise<{ identities: Identity[]; dropped: ImageRef[] }> {
    const file = join(this.dir, name);
    const parsed = parsePeople(await readTextFile(file, "people file"), file);
    const identities: Identity[] = [];
    const dropped: ImageRef[] = [];
    for (const person of parsed.folds.flat()) {
      const images: ImageRef[] = [];
      for (let i = 1; i <= person.count; i++) {
        const ref = { name: person.name, index: i };
        const missing = await this.#missing(ref);
        if (!missing) images.push(ref);
        else if (options.skipIncomplete) dropped.push(ref);
        else throw new DataError(file, missing, person.line);
      }
      if (images.length) identities.push({ name: person.name, label: identities.length, images });
    }
    return { identities, dropped };
  }

  /** View 1 as an open-set split: train identities of `peopleDevTrain.txt`, test pairs of `pairsDevTest.txt`. */
  async view1(
    options: PairOptions = {},
  ): Promise<{ train: Identity[]; test: CheckedPairs; droppedImages: ImageRef[] }> {
    const { identities, dropped } = await this.people("peopleDevTrain.txt", options);
    const test = await this.pairs("pairsDevTest.txt", options);
    const trainNames = new Set(identities.map((i) => i.name));
    const shared = test.pairs.flatMap((p) => [p.a.name, p.b.name]).filter((n) => trainNames.has(n));
    if (shared.length) {
      throw new DataError(
        join(this.dir, "pairsDevTest.txt"),
        `View 1 is not open-set: ${shared[0]} is also a training identity`,
      );
    }
    return { train: identities, test, droppedImages: dropped };
  }

  /** View 2: the folds of `pairs.txt`, each a list of pairs. */
  async view2(options: PairOptions = {}): Promise<{ folds: Pair[][]; pairs: CheckedPairs }> {
    const pairs = await this.pairs("pairs.txt", options);
    const folds: Pair[][] = Array.from({ length: pairs.folds }, () => []);
    for (const p of pairs.pairs) folds[p.fold].push(p);
    return { folds, pairs };
  }

  async #missing(ref: ImageRef): Promise<string | undefined> {
    const path = this.imagePath(ref);
    let ok = this.#exists.get(path);
    if (ok === undefined) {
      ok = await isFile(path);
      this.#exists.set(path, ok);
    }
    if (ok) return undefined;
    const folder = join(this.dir, "images", ref.name);
    if (!(await isDir(folder))) return `identity ${ref.name} not found (no folder ${folder})`;
    return `image ${path} not found`;
  }
}

/**
 * Opens an LFW-layout folder: reads its landmark file (`landmarks/lfw_landmark.txt`) and checks `images/` exists.
 * Protocol files are read on demand by the views.
 */
export async function openLfw(dir: string, options: { ext?: string } = {}): Promise<LfwDataset> {
  if (!(await isDir(join(dir, "images")))) {
    throw new DataError(dir, "not an LFW-layout folder: images/ is missing (get LFW with `deno task data lfw`)");
  }
  const landmarkFile = join(dir, "landmarks", "lfw_landmark.txt");
  return new LfwDataset(dir, await readLandmarkFile(landmarkFile), landmarkFile, options.ext);
}
