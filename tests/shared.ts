/**
 * Test helpers: the golden vectors the kit carries (`tests/golden/`, copies of the official code's outputs), real
 * LFW where the kit finds it (never in the repository: tests that need it are ignored when it is absent, and say
 * why), and backend switching.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmKernelFixes } from "../lib/backend/wasm_kernels.ts";
import { LFW_ENV, LFW_FETCH_COMMAND, locateLfw } from "../lib/data/lfw_location.ts";
import { REPO_ROOT } from "../lib/fs/paths.ts";

/** The repository root. */
export const REPO = REPO_ROOT;
/** The golden vectors the kit carries (same layout as the team's `shared/vectors/`). */
export const GOLDEN = new URL("./golden/", import.meta.url).pathname;

/** Absolute path of a golden file under `tests/golden/`; throws naming it when it is missing. */
export function goldenPath(relative: string): string {
  const path = GOLDEN + relative;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`missing golden file ${path}: the kit carries its golden vectors in tests/golden/`);
  }
  return path;
}

/** Real LFW's folder as the kit finds it (`lib/data/lfw_location.ts`), or null: found once per test process. */
export const LFW_DIR: string | null = (await locateLfw())?.dir ?? null;

/** The marker every LFW-dependent test carries in its name when it is ignored (`.ci/run` counts these). */
export const LFW_SKIP_MARK = "[skipped: needs real LFW]";

/** Absolute path of a file inside the located LFW folder (only call it inside an {@link lfwTest}). */
export function lfwPath(relative = ""): string {
  if (!LFW_DIR) throw new Error("lfwPath called without LFW: wrap the test in lfwTest");
  return relative ? `${LFW_DIR}/${relative}` : LFW_DIR;
}

/**
 * A test that needs real LFW: it runs where the kit finds LFW and is reported as ignored otherwise, its name then
 * saying why and how to get it (never silently passed). `alsoNeeds`: a file made from LFW that must be there too
 * (e.g. an insightface `.bin` of LFW pairs). The definition form takes Deno.test's other options; its own `ignore`
 * (another missing requirement, said in its name by the caller) is kept.
 */
export function lfwTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  alsoNeeds?: string,
): void;
export function lfwTest(definition: Deno.TestDefinition & { alsoNeeds?: string }): void;
export function lfwTest(
  nameOrDef: string | (Deno.TestDefinition & { alsoNeeds?: string }),
  fn?: (t: Deno.TestContext) => void | Promise<void>,
  alsoNeeds?: string,
): void {
  const def = typeof nameOrDef === "string" ? { name: nameOrDef, fn: fn!, alsoNeeds } : nameOrDef;
  let present = LFW_DIR !== null;
  if (present && def.alsoNeeds) {
    try {
      Deno.statSync(def.alsoNeeds);
    } catch {
      present = false;
    }
  }
  const why = LFW_DIR ? `needs ${def.alsoNeeds}` : `${LFW_FETCH_COMMAND}, or set ${LFW_ENV}`;
  const { alsoNeeds: _, ...rest } = def;
  Deno.test({
    ...rest,
    name: present ? def.name : `${def.name} ${LFW_SKIP_MARK} (${why})`,
    ignore: !present || (def.ignore ?? false),
  });
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
