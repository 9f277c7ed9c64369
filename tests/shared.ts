/**
 * Test helpers: the read-only ground truth in `../shared` (beside the repository, never copied into it), and
 * backend switching.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmKernelFixes } from "../lib/backend/wasm_kernels.ts";

/** The repository root. */
export const REPO = new URL("../", import.meta.url).pathname;
/** `../shared` beside the repository. */
export const SHARED = new URL("../../shared/", import.meta.url).pathname;

/**
 * Absolute path of a file under ../shared; throws a message that says what is missing and why it is needed
 * when the folder or the file is absent.
 */
export function sharedPath(relative: string): string {
  const path = SHARED + relative;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(
      `missing ${path}: the tests read the kit's ground truth (golden vectors, LFW) from ../shared beside the ` +
        `repository; clone the repository next to a copy of shared/ (see README, "Tests")`,
    );
  }
  return path;
}

/** Activates a backend for a test (wasm with the kit's kernel fixes). */
export async function useBackend(name: "cpu" | "wasm"): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialise`);
  if (name === "wasm") registerWasmKernelFixes();
  tf.env().set("PROD", true);
}

/** Runs a task as a subprocess with `deno run -A`, returning status and output. */
export async function runDeno(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: REPO,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The last non-empty line of a text. */
export function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1];
}

/** Deterministic values in [−1, 1) from a 32-bit LCG: the same inputs on every backend and every run. */
export function lcgValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
