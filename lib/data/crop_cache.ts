/**
 * The aligned-crop cache: every image of a dataset decoded and 5-point aligned once, stored as one raw file
 * (`N × S × S × 3` bytes) plus a JSON index, so training epochs and evaluations never re-decode JPEGs. The cache is
 * keyed by the template, the crop size and the source (each image's path, landmarks, byte size and mtime): a change
 * to any of them builds a new cache beside the old one. Written to temporary names and renamed (data first, index
 * last), so an interrupted build leaves no cache that looks complete.
 *
 * @example
 * ```ts
 * import { loadOrBuildCropCache } from "./crop_cache.ts";
 * const cache = await loadOrBuildCropCache("data/cache/crops", "lfw", 56, [
 *   { id: "A/A_0001.jpg", path: "lfw/images/A/A_0001.jpg", landmarks: [107, 107, 147, 111, 124, 143, 103, 157, 139, 161], frame: 250 },
 * ]);
 * const x = cache.batch([0], [true]); // Float32Array NHWC in [-1, 1], mirrored
 * ```
 * @module
 */
import { join } from "node:path";
import { alignFace, templateFor } from "./alignment.ts";
import { DataError } from "./errors.ts";
import { readImage, type RgbImage, toInputArray } from "./image.ts";
import { Progress } from "../cli/progress.ts";
import { removeStaleTemps } from "../fs/lock.ts";
import { sha256Hex } from "../fs/sha256.ts";

/** One image to cache. */
export interface CropSource {
  /** Stable name of the image within the dataset (e.g. `NAME/NAME_0001.jpg`). */
  id: string;
  /** File to decode. */
  path: string;
  /** `[x1, y1, …, x5, y5]`, in the image's pixels, or in a `frame`-wide reference frame when `frame` is set. */
  landmarks: readonly number[];
  /** Width of the landmarks' frame (250 for LFW); they are scaled by `imageWidth / frame`. */
  frame?: number;
}

/** Format 2 adds the SHA-256 of the crops (format-1 caches are rebuilt once). */
const CACHE_FORMAT = "sf2-crop-cache/2";

interface CacheIndex {
  format: typeof CACHE_FORMAT;
  key: string;
  /** Hex SHA-256 of the `.u8` file, checked on every load. */
  sha256: string;
  name: string;
  size: number;
  template: number[][];
  ids: string[];
}

/** Aligned crops in memory, addressable by position (the order of the sources it was built from). */
export class CropCache {
  readonly #index: Map<string, number>;
  constructor(
    readonly size: number,
    readonly ids: readonly string[],
    readonly data: Uint8Array,
    readonly file: string,
  ) {
    this.#index = new Map(ids.map((id, i) => [id, i]));
  }

  get count(): number {
    return this.ids.length;
  }

  /** Position of an image id (throws for an id the cache does not hold). */
  indexOf(id: string): number {
    const i = this.#index.get(id);
    if (i === undefined) throw new Error(`${this.file}: no crop for ${id}`);
    return i;
  }

  /** The i-th crop as an image (a view, not a copy). */
  crop(i: number): RgbImage {
    const n = this.size * this.size * 3;
    return { width: this.size, height: this.size, data: this.data.subarray(i * n, (i + 1) * n) };
  }

  /** NHWC float32 batch of the crops at `indices`, scaled to [−1, 1]; `flip[k]` mirrors the k-th. */
  batch(indices: readonly number[], flip?: readonly boolean[]): Float32Array {
    return toInputArray(indices.map((i) => this.crop(i)), flip);
  }
}

/** The cache key: template, size and every source's id, landmarks, byte size and mtime. */
export async function cropCacheKey(size: number, sources: readonly CropSource[]): Promise<string> {
  const rows: string[] = [JSON.stringify(templateFor(size)), String(size)];
  for (const s of sources) {
    const st = await Deno.stat(s.path).catch(() => undefined);
    rows.push(JSON.stringify([s.id, s.landmarks, s.frame ?? 0, st?.size ?? -1, st?.mtime?.getTime() ?? 0]));
  }
  return await sha256Hex(rows.join("\n"));
}

/**
 * Loads the cache for `(name, size, sources)` from `dir`, or builds it (with a progress bar on stderr) when absent
 * or stale. Decoding errors name the image file and nothing is written.
 */
export async function loadOrBuildCropCache(
  dir: string,
  name: string,
  size: number,
  sources: readonly CropSource[],
  options: { quiet?: boolean; concurrency?: number } = {},
): Promise<CropCache> {
  const key = await cropCacheKey(size, sources);
  const base = join(dir, `${name}-${size}px-${key.slice(0, 16)}`);
  const cached = await tryLoad(base, key);
  if (cached) return cached;

  const per = size * size * 3;
  const data = new Uint8Array(sources.length * per);
  const bar = new Progress(`crops ${name} ${size}px`, sources.length, { quiet: options.quiet });
  let next = 0;
  // A few decodes in flight: sharp decodes on its own threads while this one warps.
  const worker = async () => {
    for (let i = next++; i < sources.length; i = next++) {
      const s = sources[i];
      if (s.landmarks.length !== 10) {
        throw new DataError(
          s.path,
          `expected 10 landmark values (x1 y1 … x5 y5) for ${s.id}, got ${s.landmarks.length}`,
        );
      }
      const img = await readImage(s.path);
      const lm = s.frame ? s.landmarks.map((v) => (v * img.width) / s.frame!) : s.landmarks;
      data.set(alignFace(img, lm, size).crop.data, i * per);
      bar.tick();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  bar.done();

  const index: CacheIndex = {
    format: CACHE_FORMAT,
    key,
    sha256: await sha256Hex(data),
    name,
    size,
    template: templateFor(size).map(([x, y]) => [x, y]),
    ids: sources.map((s) => s.id),
  };
  await Deno.mkdir(dir, { recursive: true });
  await removeStaleTemps(dir); // left by builds that were killed
  const tag = `.tmp-${Deno.pid}`;
  try {
    await Deno.writeFile(`${base}.u8${tag}`, data);
    await Deno.writeTextFile(`${base}.json${tag}`, JSON.stringify(index));
    await Deno.rename(`${base}.u8${tag}`, `${base}.u8`);
    await Deno.rename(`${base}.json${tag}`, `${base}.json`);
  } catch (err) {
    await Deno.remove(`${base}.u8${tag}`).catch(() => {});
    await Deno.remove(`${base}.json${tag}`).catch(() => {});
    throw new Error(`cannot write the crop cache ${base}.u8: ${(err as Error).message}`, { cause: err });
  }
  return new CropCache(size, index.ids, data, `${base}.u8`);
}

async function tryLoad(base: string, key: string): Promise<CropCache | undefined> {
  let index: CacheIndex;
  try {
    index = JSON.parse(await Deno.readTextFile(`${base}.json`));
  } catch {
    return undefined;
  }
  if (index.format !== CACHE_FORMAT || index.key !== key) return undefined;
  const data = await Deno.readFile(`${base}.u8`).catch(() => undefined);
  if (!data || data.length !== index.ids.length * index.size * index.size * 3) return undefined;
  // Same size is not enough: a replaced or damaged file is rebuilt, never trained on.
  if ((await sha256Hex(data)) !== index.sha256) {
    console.error(`${base}.u8: checksum mismatch (damaged or replaced crop cache); rebuilding it`);
    return undefined;
  }
  return new CropCache(index.size, index.ids, data, `${base}.u8`);
}
