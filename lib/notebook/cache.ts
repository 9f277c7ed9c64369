/**
 * Runs a cell's heavy step once and reuses the result: {@link cached} stores a JSON result under a key derived
 * from a name and the inputs that determine it, and recomputes when asked (`recompute`, or the environment
 * variable {@link RECOMPUTE_ENV} set to 1). Entries are written to a temporary file and renamed, so an
 * interrupted cell never leaves a truncated entry.
 *
 * @example
 * ```ts
 * import { cached } from "./cache.ts";
 * const { value, fromCache } = await cached("sweep", { steps: 200 }, () => ({ loss: 0.12 }));
 * ```
 * @module
 */
import { dirname, join } from "node:path";
import { sha256Hex } from "../fs/sha256.ts";

/** Set to 1 (or true) to recompute every cached step. */
export const RECOMPUTE_ENV = "SF2_RECOMPUTE";
/** Overrides the cache folder (default: `results/cache/notebooks` in the kit). */
export const CACHE_DIR_ENV = "SF2_CACHE_DIR";

/** The default cache folder, inside the (git-ignored) results folder of the kit. */
export const DEFAULT_CACHE_DIR = new URL("../../results/cache/notebooks/", import.meta.url).pathname;

/** The cache folder in force: {@link CACHE_DIR_ENV} when set, else {@link DEFAULT_CACHE_DIR}. */
export function cacheDir(): string {
  return envFlag(CACHE_DIR_ENV) ?? DEFAULT_CACHE_DIR;
}

export interface CacheOptions {
  /** Ignore a stored entry and compute again (default: {@link RECOMPUTE_ENV}). */
  recompute?: boolean;
  /** Cache folder (default: {@link CACHE_DIR_ENV}, else {@link DEFAULT_CACHE_DIR}). */
  dir?: string;
}

export interface Cached<T> {
  value: T;
  /** Whether the value was read from the cache rather than computed. */
  fromCache: boolean;
  /** The cache entry's file. */
  path: string;
}

function envFlag(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The value of `compute()`, read from the cache when an entry for (`name`, `inputs`) exists and no recompute
 * was asked for. `inputs` must be JSON and hold everything the result depends on (parameters, seeds). The value
 * must survive a JSON round trip.
 */
export async function cached<T>(
  name: string,
  inputs: unknown,
  compute: () => T | Promise<T>,
  options: CacheOptions = {},
): Promise<Cached<T>> {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`cached: name must be letters, digits, . _ -; got ${name}`);
  const recompute = options.recompute ?? /^(1|true|yes)$/i.test(envFlag(RECOMPUTE_ENV) ?? "");
  const dir = options.dir ?? cacheDir();
  const path = join(dir, `${name}-${(await sha256Hex(JSON.stringify(inputs) ?? "null")).slice(0, 16)}.json`);
  if (!recompute) {
    try {
      const entry = JSON.parse(await Deno.readTextFile(path)) as { value: T };
      return { value: entry.value, fromCache: true, path };
    } catch (err) {
      // A missing entry is the normal first run; an unreadable one is recomputed and overwritten.
      if (!(err instanceof Deno.errors.NotFound) && !(err instanceof SyntaxError)) throw err;
    }
  }
  const value = await compute();
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify({ name, inputs, value }));
  await Deno.rename(tmp, path);
  return { value, fromCache: false, path };
}
