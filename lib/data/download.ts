/**
 * Getting LFW from its official sources: the protocol files and images from the LFW web site (the UMass pages,
 * now served from `umass-vis-lfw.github.io`, layout `images/NAME/NAME_XXXX.jpg`) and the 5-point landmark file
 * from `clcarwin/sphereface_pytorch` (pinned commit). Protocol and landmark files are checked against their
 * SHA-256 (the MD5s torchvision hard-codes name the same files); every image must be a complete JPEG.
 *
 * Files go to `<dir>.download/` first, each through a `.part` file renamed when complete; a rerun after an
 * interruption resumes there (HTTP Range for a partial file) and `clean` removes it. Only a finished download is
 * renamed to `<dir>`, so `<dir>` is never a half-written dataset.
 *
 * @example
 * ```ts
 * import { downloadLfw } from "./download.ts";
 * const summary = await downloadLfw("data/cache/lfw"); // or { base: "http://127.0.0.1:8000" } for a mirror
 * ```
 * @module
 */
import { dirname, join } from "node:path";
import { DataError } from "./errors.ts";
import { lfwRelativePath, parseLfwNames } from "./lfw.ts";
import { Progress } from "../cli/progress.ts";
import { sha256Hex } from "../fs/sha256.ts";
import { pathExists } from "../fs/paths.ts";

/** The LFW site (a copy of vis-www.cs.umass.edu/lfw kept by its authors) and the pinned landmark file. */
export const LFW_OFFICIAL_BASE = "https://umass-vis-lfw.github.io";
export const LFW_LANDMARKS_URL =
  "https://raw.githubusercontent.com/clcarwin/sphereface_pytorch/e2f11f0b0f394cf75b9f65ce8d353e4390b0948c/data/lfw_landmark.txt";

/** SHA-256 of the official protocol files and of the landmark file (the files as distributed by the LFW site and the landmark source). */
export const LFW_CHECKSUMS: Record<string, string> = {
  "pairs.txt": "ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592",
  "pairsDevTrain.txt": "1d454dada7dfeca0e7eab6f65dc4e97a6312d44cf142207be28d688be92aabfa",
  "pairsDevTest.txt": "7cb06600ea8b2814ac26e946201cdb304296262aad67d046a16a7ec85d0ff87c",
  "people.txt": "bc8fa2b7f25c895cf7efb6de4f4fc27ca8b8d1cfa63350ad8b96eae2b198d365",
  "peopleDevTrain.txt": "2e58df13ba4cc143189336e001cc2c195f1dfa5b29a6475c02857be353c2a2fa",
  "peopleDevTest.txt": "c3ed1f90499473401542101a56c14c1d82396bb8218c67a356d7460601047555",
  "lfw-names.txt": "403cd39411ee297f99f69241959bd8f0496b44377711913a76ccdd8562874164",
  "landmarks/lfw_landmark.txt": "e517ec9b03232baaf10c7d5f82f0df6f500bb6cca1ead1126642cd42ff3ad039",
};

export interface DownloadOptions {
  /** Base URL of the images and protocol files (default {@link LFW_OFFICIAL_BASE}). */
  base?: string;
  /** URL of the landmark file (default: `<base>/landmarks/lfw_landmark.txt` when `base` is given, else clcarwin). */
  landmarksUrl?: string;
  /** Only these people (for tests and partial mirrors); default all of `lfw-names.txt`. */
  people?: readonly string[];
  concurrency?: number;
  quiet?: boolean;
  /** Checksums to enforce (default {@link LFW_CHECKSUMS}). */
  checksums?: Record<string, string>;
}

export interface DownloadSummary {
  dir: string;
  images: number;
  /** Images the server does not have (404), e.g. `Betsy_Coffin/Betsy_Coffin_0001.jpg` on the LFW site. */
  missing: string[];
  downloadedBytes: number;
  alreadyPresent: boolean;
  seconds: number;
}

/** The staging folder of an interrupted download of `dir`. */
export const stagingDir = (dir: string) => `${dir.replace(/\/+$/, "")}.download`;

/** Removes an interrupted download's staging folder; returns whether there was one. */
export async function cleanDownload(dir: string): Promise<boolean> {
  try {
    await Deno.remove(stagingDir(dir), { recursive: true });
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Downloads LFW into `dir` (see the module doc); returns what was done. */
export async function downloadLfw(dir: string, options: DownloadOptions = {}): Promise<DownloadSummary> {
  const started = performance.now();
  const base = (options.base ?? LFW_OFFICIAL_BASE).replace(/\/+$/, "");
  const landmarksUrl = options.landmarksUrl ??
    (options.base ? `${base}/landmarks/lfw_landmark.txt` : LFW_LANDMARKS_URL);
  const checksums = options.checksums ?? LFW_CHECKSUMS;
  const done = join(dir, "download.json");
  try {
    const prev = JSON.parse(await Deno.readTextFile(done)) as DownloadSummary;
    return { ...prev, dir, alreadyPresent: true, downloadedBytes: 0, seconds: 0 };
  } catch {
    // Not downloaded yet.
  }
  if (await pathExists(dir)) {
    throw new DataError(
      dir,
      "exists but is not a finished download by the kit (no download.json); remove it or choose another --dir",
    );
  }
  const stage = stagingDir(dir);
  await Deno.mkdir(join(stage, "images"), { recursive: true });
  let bytes = 0;

  for (const [file, sum] of Object.entries(checksums)) {
    const url = file === "landmarks/lfw_landmark.txt" ? landmarksUrl : `${base}/${file}`;
    const path = join(stage, file);
    if (await pathExists(path) && (await sha256File(path)) === sum) continue;
    const r = await fetchTo(
      url,
      path,
      (b) => sha256Hex(b).then((got) => got === sum ? undefined : `checksum mismatch: SHA-256 ${got}, expected ${sum}`),
    );
    if (r === "missing") throw new DataError(url, "not found on the server (HTTP 404)");
    if (r !== "stopped") bytes += r;
  }

  const namesFile = join(stage, "lfw-names.txt");
  const names = parseLfwNames(await Deno.readTextFile(namesFile), namesFile);
  const wanted = options.people ? new Set(options.people) : undefined;
  const refs = names.filter((p) => !wanted || wanted.has(p.name))
    .flatMap(({ name, count }) => Array.from({ length: count }, (_, i) => lfwRelativePath({ name, index: i + 1 })));
  const missing: string[] = [];
  const bar = new Progress("lfw images", refs.length, { quiet: options.quiet });
  let next = 0;
  // The first failure stops every worker and aborts their transfers; the error is thrown only once all have
  // settled, so no worker of a failed run is still writing `.part` files when the user runs the command again.
  const stop = new AbortController();
  const worker = async () => {
    for (let i = next++; i < refs.length && !stop.signal.aborted; i = next++) {
      const rel = refs[i];
      const path = join(stage, "images", rel);
      if (!(await pathExists(path))) {
        const r = await fetchTo(
          `${base}/images/${rel}`,
          path,
          (b) => Promise.resolve(isCompleteJpeg(b) ? undefined : "not a complete JPEG"),
          stop.signal,
        );
        if (r === "missing") missing.push(rel);
        else if (r !== "stopped") bytes += r;
      }
      bar.tick();
    }
  };
  const settled = await Promise.allSettled(
    Array.from({ length: options.concurrency ?? 8 }, () =>
      worker().catch((err) => {
        stop.abort();
        throw err;
      })),
  );
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure) throw failure.reason;
  bar.done();
  missing.sort();
  const summary: DownloadSummary = {
    dir,
    images: refs.length - missing.length,
    missing,
    downloadedBytes: bytes,
    alreadyPresent: false,
    seconds: (performance.now() - started) / 1000,
  };
  await Deno.writeTextFile(
    join(stage, "download.json"),
    JSON.stringify({ ...summary, base, landmarksUrl }, null, 2) + "\n",
  );
  await Deno.rename(stage, dir);
  return summary;
}

/** JPEG starts with SOI (FF D8) and a complete file ends with EOI (FF D9); a cut-off transfer does not. */
export function isCompleteJpeg(b: Uint8Array): boolean {
  return b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
}

/**
 * Fetches `url` to `path` through `path.part` (resuming a partial `.part` with a Range request), checks the
 * bytes, and renames. Returns the byte count, "missing" for a 404, or "stopped" once `signal` aborts (a partial
 * `.part` is kept for the next run). Retries transient failures 3 times.
 */
async function fetchTo(
  url: string,
  path: string,
  check: (b: Uint8Array) => Promise<string | undefined>,
  signal?: AbortSignal,
): Promise<number | "missing" | "stopped"> {
  const part = `${path}.part`;
  let lastErr = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    if (signal?.aborted) return "stopped";
    try {
      const have = await Deno.stat(part).then((s) => s.size, () => 0);
      const res = await fetch(url, { signal, headers: have > 0 ? { Range: `bytes=${have}-` } : {} });
      if (res.status === 404) {
        await res.body?.cancel();
        await Deno.remove(part).catch(() => {});
        return "missing";
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        lastErr = `HTTP ${res.status}`;
        continue;
      }
      await Deno.mkdir(dirname(path), { recursive: true });
      // Streamed to the .part file so an interruption leaves what arrived, for a Range request next time.
      const file = await Deno.open(part, {
        write: true,
        create: true,
        append: res.status === 206,
        truncate: res.status !== 206,
      });
      if (res.body) await res.body.pipeTo(file.writable);
      else file.close();
      const all = await Deno.readFile(part);
      const problem = await check(all);
      if (problem) {
        await Deno.remove(part).catch(() => {});
        // A bad resume can be fixed by a fresh transfer; a bad full file cannot.
        if (res.status === 206) {
          lastErr = problem;
          continue;
        }
        throw new DataError(url, problem);
      }
      await Deno.rename(part, path);
      return all.length - have * (res.status === 206 ? 1 : 0);
    } catch (err) {
      if (err instanceof DataError) throw err;
      // What arrived before the abort stays in `.part` for the next run's Range request.
      if (signal?.aborted) return "stopped";
      lastErr = (err as Error).message;
    }
  }
  throw new DataError(url, `download failed (${lastErr}); run the same command again to resume`);
}

async function sha256File(path: string): Promise<string> {
  return sha256Hex(await Deno.readFile(path));
}
