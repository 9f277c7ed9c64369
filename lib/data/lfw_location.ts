/**
 * Where the kit finds real LFW. One order for every task and test, first hit wins:
 * 1. the folder the caller names (a task's `--dir`/`--data`), taken as it is;
 * 2. `$SF2_LFW_DIR`;
 * 3. `data/cache/lfw` under the kit root, where `deno task data lfw` puts it;
 * 4. `../shared/data/lfw` beside the kit root (the kit's development checkout keeps a copy there; a user's clone
 *    has none, and nothing tells a user to make one).
 * A candidate counts only if it holds the View 2 protocol file `pairs.txt` and an `images/` folder, so a half-made
 * or unrelated folder is passed over rather than failing later.
 *
 * Configs and tasks name this search with the folder name `lfw` (`"data": {"dir": "lfw"}`, `--data lfw`):
 * {@link resolveLfwDir} turns it into the folder found, so a config says what it trains on, not where a machine keeps
 * it, and its config hash is the same on every machine.
 *
 * LFW itself never ships with the kit (about 90 MB, with its own terms of use): `deno task data lfw` fetches it.
 *
 * @example
 * ```ts
 * import { locateLfw } from "./lfw_location.ts";
 * const found = await locateLfw();
 * console.log(found ? `LFW at ${found.dir} (${found.via})` : "no LFW: run npx deno task data lfw");
 * ```
 * @module
 */
import { join } from "node:path";
import { isDir, isFile, REPO_ROOT } from "../fs/paths.ts";

/** The environment variable that points the kit at an LFW folder. */
export const LFW_ENV = "SF2_LFW_DIR";

/** The command that fetches LFW into the default place. */
export const LFW_FETCH_COMMAND = "npx deno task data lfw";

/** A located LFW folder and which rule found it. */
export interface LfwLocation {
  dir: string;
  via: "explicit" | "env" | "cache" | "workbench";
}

/** Whether `dir` looks like an LFW folder in the kit's layout (`pairs.txt` + `images/`). */
export async function isLfwFolder(dir: string): Promise<boolean> {
  return (await isFile(join(dir, "pairs.txt"))) && (await isDir(join(dir, "images")));
}

/** The candidate folders in search order (see the module doc); `explicit` first when given. */
export function lfwCandidates(explicit?: string): LfwLocation[] {
  const out: LfwLocation[] = [];
  if (explicit) out.push({ dir: explicit, via: "explicit" });
  const env = Deno.env.get(LFW_ENV);
  if (env) out.push({ dir: env, via: "env" });
  out.push({ dir: join(REPO_ROOT, "data/cache/lfw"), via: "cache" });
  out.push({ dir: join(REPO_ROOT, "../shared/data/lfw"), via: "workbench" });
  return out;
}

/**
 * The first LFW folder in the search order, or null when there is none. An explicit folder is returned as it is
 * (the caller's own errors then name what is missing in it); the others must hold `pairs.txt` and `images/`.
 */
export async function locateLfw(explicit?: string): Promise<LfwLocation | null> {
  for (const c of lfwCandidates(explicit)) {
    if (c.via === "explicit" || await isLfwFolder(c.dir)) return c;
  }
  return null;
}

/** The folder name that stands for "real LFW, wherever the kit finds it" in configs and flags. */
export const LFW_SEARCH = "lfw";

/**
 * A data folder as given, except {@link LFW_SEARCH} (`"lfw"`), which becomes the first LFW folder in the search
 * order; when there is none the error says where the kit looked and how to fetch LFW.
 */
export async function resolveLfwDir(dir: string): Promise<string> {
  if (dir !== LFW_SEARCH) return dir;
  const found = await locateLfw();
  if (!found) {
    throw new Error(
      `no LFW folder found (looked in $${LFW_ENV} and data/cache/lfw): fetch it with ${LFW_FETCH_COMMAND}, ` +
        `or give the folder (data.dir / --data)`,
    );
  }
  return found.dir;
}
