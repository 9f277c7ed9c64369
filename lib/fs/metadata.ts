/**
 * Provenance stamped on every results folder: when, with which commit of the kit, on which Deno.
 *
 * @example
 * ```ts
 * import { runMetadata } from "./metadata.ts";
 * const meta = await runMetadata({ profile: "smoke" });
 * // { date: "2025-…Z", kitCommit: "8c5f7e0…" | "unknown", deno: "2.9.6", …, settings: { profile: "smoke" } }
 * ```
 * @module
 */
import { REPO_ROOT } from "./paths.ts";

export interface RunMetadata {
  /** ISO 8601, UTC. */
  date: string;
  /** `git rev-parse HEAD` of the kit, or "unknown" outside a git checkout or without git. */
  kitCommit: string;
  deno: string;
  v8: string;
  typescript: string;
  os: string;
  arch: string;
  settings: Record<string, unknown>;
}

/** The commit the kit is checked out at; "unknown" when git or the repository is unavailable. */
export async function kitCommit(repo: string = REPO_ROOT): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      cwd: repo,
      stdout: "piped",
      stderr: "null",
    }).output();
    const hash = new TextDecoder().decode(out.stdout).trim();
    return out.success && /^[0-9a-f]{40,64}$/.test(hash) ? hash : "unknown";
  } catch {
    // No git executable, or no permission to run it: provenance degrades, the run goes on.
    return "unknown";
  }
}

/** Date, kit commit, runtime versions and the given settings. */
export async function runMetadata(settings: Record<string, unknown>, now: Date = new Date()): Promise<RunMetadata> {
  return {
    date: now.toISOString(),
    kitCommit: await kitCommit(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os: Deno.build.os,
    arch: Deno.build.arch,
    settings,
  };
}
