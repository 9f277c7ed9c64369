/**
 * Ownership of folders by processes: a lock file holding the owner's pid (taken over when that process is dead),
 * and the clean-up of `*.tmp-PID` leftovers whose writer died (a SIGKILL or power loss skips every `finally`).
 *
 * @example
 * ```ts
 * import { acquireLock, removeStaleTemps } from "./lock.ts";
 * await Deno.mkdir("/tmp/demo-run", { recursive: true });
 * const release = await acquireLock("/tmp/demo-run/run.lock", "/tmp/demo-run");
 * await removeStaleTemps("/tmp/demo-run"); // drops e.g. checkpoint.sf2.tmp-12345 when pid 12345 is gone
 * release();
 * ```
 * @module
 */
import { join } from "node:path";

/**
 * Whether process `pid` is alive on this machine. Linux answers from /proc; elsewhere `kill -0`. A pid that
 * cannot be checked counts as alive: a lock is only ever taken over from a process known to be dead.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync("/proc/self");
    try {
      Deno.statSync(`/proc/${pid}`);
      return true;
    } catch {
      return false;
    }
  } catch {
    // No /proc (macOS, BSD).
  }
  try {
    return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync().success;
  } catch {
    return true;
  }
}

/** A folder another live process holds (see {@link acquireLock}). */
export class LockedError extends Error {
  override name = "LockedError";
}

/**
 * Creates `file` holding `body`, or returns false when it already exists. The content is written to a temporary
 * sibling first and hard-linked into place, so no other process ever reads a half-written lock (with a plain
 * create-then-write, a concurrent reader could find it empty, take it for a dead owner's and remove it: two runs in
 * one folder).
 */
async function createComplete(file: string, body: string): Promise<boolean> {
  const tmp = `${file}-${crypto.randomUUID().slice(0, 8)}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, body);
  try {
    await Deno.link(tmp, file);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/**
 * Creates `lockFile` holding this process's pid, atomically and complete (hard-linked from a written temporary
 * file): exactly one of several concurrent callers wins. A lock whose pid is dead (a killed run) is taken over; a live one is refused with a
 * {@link LockedError} naming `what`, the pid and the lock file. Returns the release function (idempotent).
 */
export async function acquireLock(lockFile: string, what: string): Promise<() => void> {
  const body = JSON.stringify({ pid: Deno.pid, host: Deno.hostname(), started: new Date().toISOString() }) + "\n";
  for (let attempt = 0; attempt < 3; attempt++) {
    let created: boolean;
    try {
      created = await createComplete(lockFile, body);
    } catch (err) {
      throw new Error(`cannot create the lock file ${lockFile}: ${(err as Error).message}`);
    }
    if (created) {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          Deno.removeSync(lockFile);
        } catch {
          // Already gone (removed by hand): nothing to release.
        }
      };
    }
    let owner: { pid?: unknown; host?: unknown } = {};
    try {
      owner = JSON.parse(await Deno.readTextFile(lockFile));
    } catch {
      // Unreadable or half-written: treated as stale below (its writer died between create and write).
    }
    const pid = typeof owner.pid === "number" ? owner.pid : NaN;
    const otherHost = typeof owner.host === "string" && owner.host !== Deno.hostname();
    if (otherHost || processAlive(pid)) {
      throw new LockedError(
        `${what} is in use by process ${pid}${otherHost ? ` on ${owner.host}` : ""} (lock file ${lockFile}); ` +
          `wait for it to finish, or remove the lock file if that process is gone`,
      );
    }
    await Deno.remove(lockFile).catch(() => {});
  }
  throw new LockedError(`${what}: could not take over the stale lock ${lockFile}`);
}

/** `<name>.tmp-<pid>` as written by the kit's atomic writers; the pid is the writer's. */
const TEMP_NAME = /^(.*)\.tmp-(\d+)$/;

/**
 * Removes the entries of `dir` named `<base>.tmp-<pid>` (files or folders) whose pid is dead, optionally only
 * those whose `<base>` is `base`. Returns the removed paths.
 */
export async function removeStaleTemps(dir: string, base?: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return removed;
    throw err;
  }
  for (const e of entries) {
    const m = TEMP_NAME.exec(e.name);
    if (!m || (base !== undefined && m[1] !== base) || processAlive(Number(m[2]))) continue;
    const path = join(dir, e.name);
    await Deno.remove(path, { recursive: true }).catch(() => {});
    removed.push(path);
  }
  return removed;
}
