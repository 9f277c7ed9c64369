/**
 * The static site of `deno task web build`: `index.html` (verify two faces) and `explorer.html` (loss explorer), their
 * scripts bundled by `deno bundle --platform browser` from `lib/web/*_page.ts` (the same `lib/` modules the tasks use,
 * no copies), the tfjs wasm binaries, face-api's tiny detector, 68-landmark and recognition weights, and, with a run
 * folder, the model converted to `model/model.json` + `model/weights.bin` ({@link packWebModel}). Written to a temp
 * sibling and renamed into place, so a failed build leaves no half site. Any static host serves the folder;
 * {@link serveSite} is the local one.
 *
 * @example
 * ```ts
 * import { buildSite, serveSite } from "./site.ts";
 * await buildSite({ outDir: "results/web", runDir: "results/train/cpu-lfw-view1-sfnet20-sphereface2" });
 * const server = serveSite("results/web", 8000);
 * ```
 * @module
 */
import { basename, dirname, extname, join, resolve } from "node:path";
import { Progress } from "../cli/progress.ts";
import { REPO_ROOT } from "../fs/paths.ts";
import { LFW_LANDMARK_FRAME } from "../data/landmarks.ts";
import { openLfw } from "../data/lfw.ts";
import { evaluatePairs } from "../eval/run.ts";
import { parseTrainConfig } from "../train/config.ts";
import { loadTrainedModel, modelEmbedder } from "../train/restore.ts";
import { readCheckpoint } from "../train/checkpoint.ts";
import { RUN_FILES } from "../train/loop.ts";
import { packWebModel, type RunTensors, type ScoreHistogram, scoreHistogram } from "./web_model.ts";

const HERE = new URL("./", import.meta.url);
/** Page entry → bundle name. */
export const ENTRIES: Record<string, string> = { "verify_page.ts": "index.js", "explorer_page.ts": "explorer.js" };
export const STATIC_FILES = ["index.html", "explorer.html", "style.css"];
/** face-api weights the page loads (tiny detector, 68 landmarks, recognition for its descriptor). */
export const FACE_API_MODELS = ["tiny_face_detector_model", "face_landmark_68_model", "face_recognition_model"];

export interface BuildOptions {
  outDir: string;
  /** A SphereFace2 training run folder (run.json + checkpoint.sf2); without it the verify page says it has no model. */
  runDir?: string;
  /** The model's LFW positive/negative score histogram for the page, if computed. */
  histogram?: ScoreHistogram | null;
  minify?: boolean;
  /** Progress lines (stderr in the task). */
  log?: (line: string) => void;
}

/** A run folder's config and checkpoint tensors, as {@link packWebModel} takes them. */
export async function readRunTensors(runDir: string): Promise<RunTensors> {
  const runFile = join(runDir, RUN_FILES.run);
  let record: { config?: unknown };
  try {
    record = JSON.parse(await Deno.readTextFile(runFile));
  } catch (err) {
    throw new Error(`${runFile}: cannot read the run record (${(err as Error).message}); is ${runDir} a run folder?`);
  }
  const config = parseTrainConfig(record.config, `${runFile}: config`);
  const ck = await readCheckpoint(join(runDir, RUN_FILES.checkpoint));
  const step = Number((ck.header.state as { step?: number }).step ?? 0);
  return { name: config.name, step, model: config.model, head: config.head, tensors: ck.tensors };
}

/**
 * The run's LFW View 2 score histogram for the page: the first `perSide` matched and `perSide` mismatched pairs of
 * every fold of `pairs.txt`, each image aligned from the dataset's landmarks (as `deno task eval` does), cosines
 * binned by {@link scoreHistogram}. The page places a pair on it.
 */
export async function lfwScoreHistogram(runDir: string, lfwDir: string, perSide: number): Promise<ScoreHistogram> {
  const lfw = await openLfw(lfwDir);
  const { pairs } = await lfw.pairs("pairs.txt", { skipIncomplete: true });
  const seen = new Map<string, number>();
  const kept = pairs.filter((p) => {
    const key = `${p.fold}:${p.same}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return n <= perSide;
  });
  const trained = await loadTrainedModel(runDir);
  try {
    const imagesDir = join(lfw.dir, "images") + "/";
    const embedder = modelEmbedder(trained, (path, width) => {
      const rel = path.startsWith(imagesDir) ? path.slice(imagesDir.length) : path;
      const lm = lfw.landmarks.get(rel);
      if (!lm) throw new Error(`${lfw.landmarkFile}: no landmarks for ${rel}`);
      return lm.map((v) => (v * width) / LFW_LANDMARK_FRAME);
    });
    let bar: Progress | null = null;
    const r = await evaluatePairs(
      kept.map((p) => ({ a: lfw.imagePath(p.a), b: lfw.imagePath(p.b), same: p.same })),
      embedder,
      (done, total) => {
        bar ??= new Progress(`web: LFW scores (${total} images)`, total);
        bar.tick();
        if (done === total) bar.done();
      },
    );
    const pos: number[] = [], neg: number[] = [];
    r.cos.forEach((c, i) => (r.labels[i] ? pos : neg).push(c));
    return scoreHistogram(
      pos,
      neg,
      `LFW View 2 (pairs.txt): ${pos.length} matched + ${neg.length} mismatched pairs, dataset landmarks`,
    );
  } finally {
    trained.model.dispose();
  }
}

function npmDir(pkg: string, sub: string): string {
  return new URL(sub, import.meta.resolve(`${pkg}/package.json`)).pathname;
}

async function bundle(entry: string, out: string, minify: boolean): Promise<void> {
  const args = ["bundle", "--platform", "browser", "--quiet", "-o", out, new URL(entry, HERE).pathname];
  if (minify) args.splice(1, 0, "--minify");
  // From the repository root, so deno.json's import map and lock apply wherever the task was started.
  const r = await new Deno.Command(Deno.execPath(), { args, cwd: REPO_ROOT, stdout: "piped", stderr: "piped" })
    .output();
  if (!r.success) {
    throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(r.stderr).trim()}`);
  }
}

/** Builds the site into `outDir` (replacing it); returns the files written, relative to `outDir`. */
export async function buildSite(options: BuildOptions): Promise<string[]> {
  const log = options.log ?? (() => {});
  const outDir = resolve(options.outDir);
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${Deno.pid}`);
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  const written: string[] = [];
  try {
    // Convert the model first: a wrong run folder should fail before the slow bundling.
    if (options.runDir) {
      log(`web: converting ${options.runDir}`);
      const { meta, weights } = packWebModel({
        ...(await readRunTensors(options.runDir)),
        histogram: options.histogram,
      });
      await Deno.mkdir(join(tmp, "model"));
      await Deno.writeTextFile(join(tmp, "model", "model.json"), JSON.stringify(meta));
      await Deno.writeFile(join(tmp, "model", "weights.bin"), weights);
      written.push("model/model.json", "model/weights.bin");
      log(`web: model ${meta.name}@${meta.step}, threshold cos* = ${meta.threshold.toFixed(4)}`);
    }
    for (const [entry, out] of Object.entries(ENTRIES)) {
      log(`web: bundling lib/web/${entry} → ${out}`);
      await bundle(entry, join(tmp, out), options.minify ?? true);
      written.push(out);
    }
    for (const f of STATIC_FILES) {
      await Deno.copyFile(new URL(`pages/${f}`, HERE), join(tmp, f));
      written.push(f);
    }
    await Deno.mkdir(join(tmp, "wasm"));
    const wasmDir = npmDir("@tensorflow/tfjs-backend-wasm", "dist/");
    for await (const e of Deno.readDir(wasmDir)) {
      if (e.isFile && extname(e.name) === ".wasm") {
        await Deno.copyFile(join(wasmDir, e.name), join(tmp, "wasm", e.name));
        written.push(`wasm/${e.name}`);
      }
    }
    await Deno.mkdir(join(tmp, "models", "face-api"), { recursive: true });
    const faceDir = npmDir("@vladmandic/face-api", "model/");
    for (const name of FACE_API_MODELS) {
      for (const f of [`${name}-weights_manifest.json`, `${name}.bin`]) {
        await Deno.copyFile(join(faceDir, f), join(tmp, "models", "face-api", f));
        written.push(`models/face-api/${f}`);
      }
    }
    await Deno.remove(outDir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dirname(outDir), { recursive: true });
    await Deno.rename(tmp, outDir);
    return written;
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".bin": "application/octet-stream",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
};

/**
 * Serves a folder over HTTP, read-only, like any static host (no server logic the pages rely on). `port` 0 picks a
 * free port; the returned server's `addr.port` says which.
 */
export function serveSite(dir: string, port = 8000, hostname = "127.0.0.1"): Deno.HttpServer<Deno.NetAddr> {
  const root = resolve(dir);
  return Deno.serve({ port, hostname, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const file = resolve(root, "." + (path.endsWith("/") ? `${path}index.html` : path));
    if (file !== root && !file.startsWith(root + "/")) return new Response("forbidden", { status: 403 });
    try {
      const bytes = await Deno.readFile(file);
      return new Response(bytes, {
        headers: { "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}
