/**
 * Writing a results folder all at once: {@link writeDirAtomic} builds it in a temporary sibling
 * (`<out>.tmp-<pid>`) and renames it into place only when everything is written, so an error, Ctrl-C or kill
 * never leaves a half-written results folder at `<out>`; the previous results stay until the new ones are
 * complete.
 *
 * @example
 * ```ts
 * import { formatJson, writeDirAtomic, writeFileIn } from "./write.ts";
 * await writeDirAtomic("results/demo", async (dir) => {
 *   await writeFileIn(dir, "data.json", formatJson({ rows: [{ x: 1 }, { x: 2 }] }));
 *   await writeFileIn(dir, "figures/a.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
 * });
 * ```
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { removeStaleTemps } from "./lock.ts";
import { pathExists } from "./paths.ts";

/**
 * File that marks a folder as written by {@link writeDirAtomic}. An existing non-empty folder without it is
 * never replaced, so a mistyped `--out .` cannot delete a working tree.
 */
export const RESULTS_MARKER = ".sf2-results";

export interface WriteDirOptions {
  /** Replace an existing non-empty target even without {@link RESULTS_MARKER} (default false). */
  force?: boolean;
  /** Suffix of the temporary siblings; default the process id, so concurrent writers do not collide. */
  tag?: string;
}

/**
 * Runs `build(tmpDir)` on a fresh temporary sibling of `target`, then swaps it into place: an existing `target`
 * is moved aside to `<target>.old-<pid>`, the new folder renamed to `target`, and the old one removed (if the
 * final rename fails, the old folder is moved back). If `build` throws or the process gets SIGINT/SIGTERM, the
 * temporary folder is removed and `target` is untouched. Only SIGKILL or power loss can leave a
 * `<target>.tmp-<pid>` behind, never a partial `target` (a signal between the swap's two renames, a window of
 * microseconds, leaves the previous results at `<target>.old-<pid>`). Relative targets resolve against the
 * working directory. Returns what `build` returns.
 */
export async function writeDirAtomic<T>(
  target: string,
  build: (dir: string) => Promise<T>,
  options: WriteDirOptions = {},
): Promise<T> {
  const tag = options.tag ?? String(Deno.pid);
  // Absolute, so "results/x/", "./x" and "." all get a proper sibling in the parent folder.
  const clean = resolve(target);
  if (clean === dirname(clean)) throw new Error(`cannot write results to the root folder ${clean}`);
  const tmp = `${clean}.tmp-${tag}`;
  const old = `${clean}.old-${tag}`;
  await checkReplaceable(clean, options.force ?? false);
  await removeIfExists(tmp);
  // Temporary siblings of writers that were killed (SIGKILL skips every clean-up) go now.
  await removeStaleTemps(dirname(clean), basename(clean));
  await Deno.mkdir(dirname(clean), { recursive: true });
  await Deno.mkdir(tmp);

  const stopSignals = onTerminationSignals(() => {
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch {
      // Already gone or never written: nothing to clean.
    }
  });
  try {
    const result = await build(tmp);
    await Deno.writeTextFile(`${tmp}/${RESULTS_MARKER}`, "Written by the SphereFace2 kit; replaced by the next run.\n");
    await swapInto(tmp, clean, old);
    return result;
  } catch (err) {
    await removeIfExists(tmp);
    throw err;
  } finally {
    stopSignals();
  }
}

async function swapInto(tmp: string, target: string, old: string): Promise<void> {
  const existed = await pathExists(target);
  if (existed) {
    await removeIfExists(old);
    await Deno.rename(target, old);
  }
  try {
    await Deno.rename(tmp, target);
  } catch (err) {
    if (existed) await Deno.rename(old, target);
    throw err;
  }
  if (existed) await Deno.remove(old, { recursive: true });
}

/** Refuses a target that is a file, or a non-empty folder that this module did not write. */
async function checkReplaceable(target: string, force: boolean): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(target);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isDirectory) throw new Error(`${target} exists and is not a folder`);
  if (force || (await pathExists(`${target}/${RESULTS_MARKER}`))) return;
  for await (const _ of Deno.readDir(target)) {
    throw new Error(
      `refusing to replace ${target}: it is not empty and has no ${RESULTS_MARKER}, so it was not written by ` +
        `the kit; choose another output folder or remove it`,
    );
  }
}

/** Calls `cleanup` and exits 130/143 on SIGINT/SIGTERM until the returned function is called. */
function onTerminationSignals(cleanup: () => void): () => void {
  if (Deno.build.os === "windows") return () => {};
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => {
      cleanup();
      Deno.exit(signal === "SIGINT" ? 130 : 143);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  };
}

/** Writes `content` to `dir/relative`, creating intermediate folders. */
export async function writeFileIn(dir: string, relative: string, content: string | Uint8Array): Promise<void> {
  const path = join(dir, relative);
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  } catch (err) {
    // "No space left on device" alone names no file.
    throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * JSON with two-space indentation, except that objects and arrays holding only primitives stay on one line:
 * a table of thousands of rows reads as one row per line instead of one field per line. Parses back to the
 * same value as `JSON.stringify` would give.
 */
export function formatJson(value: unknown): string {
  return format(value, "") + "\n";
}

function format(value: unknown, indent: string): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  const toJSON = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJSON === "function") return format(toJSON.call(value), indent);
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every(isPrimitive)) return `[${value.map((v) => format(v, inner)).join(", ")}]`;
    return `[\n${value.map((v) => inner + format(v, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== "function");
  if (entries.length === 0) return "{}";
  const parts = entries.map(([k, v]) => `${JSON.stringify(k)}: ${format(v, inner)}`);
  if (entries.every(([, v]) => isPrimitive(v))) return `{${parts.join(", ")}}`;
  return `{\n${parts.map((p) => inner + p).join(",\n")}\n${indent}}`;
}

const isPrimitive = (v: unknown) => v === null || typeof v !== "object";

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Writes `text` to `path` through a temporary sibling and a rename: readers see the old file or the new, whole.
 * A failure (full disk) removes the temporary file and names `path`.
 */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
