/**
 * Questions about paths on disk, answered without throwing for a missing path (other errors, such as a denied
 * permission, still throw: they are not "absent").
 *
 * @example
 * ```ts
 * import { isDir, pathExists } from "./paths.ts";
 * if (!(await pathExists("results"))) console.log("no results yet");
 * console.log(await isDir("lib"));
 * ```
 * @module
 */

/** The kit's root folder (absolute, with a trailing slash): the one definition every module uses. */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;

async function statOrNull(path: string, follow: boolean): Promise<Deno.FileInfo | null> {
  try {
    return follow ? await Deno.stat(path) : await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Whether anything (file, folder, link — even a dangling one) is at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  return (await statOrNull(path, false)) !== null;
}

/** Whether `path` is a regular file (links followed). */
export async function isFile(path: string): Promise<boolean> {
  return (await statOrNull(path, true))?.isFile ?? false;
}

/** Whether `path` is a folder (links followed). */
export async function isDir(path: string): Promise<boolean> {
  return (await statOrNull(path, true))?.isDirectory ?? false;
}
