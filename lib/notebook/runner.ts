/**
 * Headless execution of the kit's notebooks through Jupyter: nbclient on Debian's python3 drives the Deno
 * kernel of `jupyter/kernels/deno` (found through `JUPYTER_PATH`), with the output-race workaround of
 * `execute.py`; the executed notebook, its HTML export and the key numbers it emitted are returned or written.
 *
 * @example
 * ```ts
 * import { executeNotebook, listNotebooks } from "./runner.ts";
 * const [first] = await listNotebooks();
 * const run = await executeNotebook({ notebook: first.path, outDir: "/tmp/nb", params: { steps: 20 } });
 * console.log(run.seconds, run.keyNumbers);
 * ```
 * @module
 */
import { basename, join } from "node:path";
import { extractKeyNumbers, type Json, type NotebookJson } from "../render/display.ts";
import { REPO_ROOT } from "../fs/paths.ts";
import { renderMathInHtml } from "./html_math.ts";
import { PARAMS_ENV } from "./params.ts";

/** The kit's root folder (lib/fs/paths.ts; re-exported for the notebooks). */
export { REPO_ROOT };
/** Where the notebooks live. */
export const NOTEBOOK_DIR = join(REPO_ROOT, "notebooks");
/** The folder holding `kernels/deno/kernel.json`, for `JUPYTER_PATH`. */
export const JUPYTER_DIR = join(REPO_ROOT, "jupyter");
/** The kernelspec name the notebooks declare. */
export const KERNEL_NAME = "deno";
/** The Python that has nbclient and nbconvert (Debian's, not a pyenv one); override with SF2_PYTHON. */
export const DEFAULT_PYTHON = "/usr/bin/python3";
const EXECUTE_PY = new URL("./execute.py", import.meta.url).pathname;

export interface NotebookEntry {
  /** File name without `.ipynb`, e.g. `01_softmax_to_binary`. */
  name: string;
  path: string;
}

/** The notebooks in `dir`, sorted by name (scratch files starting with `_` and checkpoints are skipped). */
export async function listNotebooks(dir: string = NOTEBOOK_DIR): Promise<NotebookEntry[]> {
  const entries: NotebookEntry[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ipynb") && !e.name.startsWith("_") && !e.name.startsWith(".")) {
      entries.push({ name: e.name.slice(0, -".ipynb".length), path: join(dir, e.name) });
    }
  }
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Picks notebooks by name: an exact name, a file name, a number (`04`: the name `04_…`) or a unique prefix (`04b`);
 * all when `names` is empty.
 * Throws naming the available notebooks when a name matches none or several.
 */
export function selectNotebooks(all: readonly NotebookEntry[], names: readonly string[]): NotebookEntry[] {
  if (!names.length) return [...all];
  return names.map((raw) => {
    const name = basename(raw).replace(/\.ipynb$/, "");
    const exact = all.find((n) => n.name === name);
    if (exact) return exact;
    // A number names the notebook it numbers: "04" is 04_model_parallel, not 04b_face_pipeline too.
    const numbered = all.filter((n) => n.name.startsWith(`${name}_`));
    if (numbered.length === 1) return numbered[0];
    const matches = all.filter((n) => n.name.startsWith(name));
    if (matches.length === 1) return matches[0];
    const available = all.map((n) => n.name).join(", ");
    throw new Error(
      matches.length
        ? `notebook "${raw}" is ambiguous: ${matches.map((n) => n.name).join(", ")}`
        : `no notebook "${raw}"; available: ${available}`,
    );
  });
}

export interface ExecuteOptions {
  /** The `.ipynb` to run (it is not modified). */
  notebook: string;
  /** Existing folder that receives `<name>.ipynb`, `<name>.html` and `key_numbers.json`. */
  outDir: string;
  /** Parameters passed to the notebook as JSON in SF2_NB_PARAMS. */
  params?: Record<string, unknown>;
  /** Per-cell timeout in seconds (default 600). */
  timeoutS?: number;
  /** Extra environment for the kernel (e.g. SF2_BACKEND, SF2_CACHE_DIR). */
  env?: Record<string, string>;
  /** Python with nbclient + nbconvert (default SF2_PYTHON or /usr/bin/python3). */
  python?: string;
}

export interface NotebookRun {
  name: string;
  /** Seconds spent executing cells (kernel start included). */
  seconds: number;
  cells: number;
  /** What the notebook emitted with `keyNumbers(...)`, or null if it emitted none. */
  keyNumbers: { [key: string]: Json } | null;
  /** Formulas typeset in the HTML export, and those KaTeX rejected (with its message). */
  math: { rendered: number; errors: string[] };
  files: { notebook: string; html: string; keyNumbers: string | null };
}

/** Thrown when a cell fails (the message holds the cell's error) or Jupyter is missing. */
export class NotebookError extends Error {
  override name = "NotebookError";
}

/** Executes one notebook headless; throws {@link NotebookError} on a cell error. */
export async function executeNotebook(options: ExecuteOptions): Promise<NotebookRun> {
  const name = basename(options.notebook).replace(/\.ipynb$/, "");
  const python = options.python ?? Deno.env.get("SF2_PYTHON") ?? DEFAULT_PYTHON;
  await checkJupyter(python);
  const notebookOut = join(options.outDir, `${name}.ipynb`);
  const htmlOut = join(options.outDir, `${name}.html`);
  const jupyterPath = [JUPYTER_DIR, Deno.env.get("JUPYTER_PATH")].filter(Boolean).join(":");
  const out = await new Deno.Command(python, {
    args: [
      EXECUTE_PY,
      options.notebook,
      notebookOut,
      htmlOut,
      "--kernel",
      KERNEL_NAME,
      "--timeout",
      String(options.timeoutS ?? 600),
    ],
    env: {
      JUPYTER_PATH: jupyterPath,
      NO_COLOR: "1",
      [PARAMS_ENV]: JSON.stringify(options.params ?? {}),
      ...options.env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const stderr = dec.decode(out.stderr);
  if (!out.success) {
    throw new NotebookError(`${name}: execution failed (exit ${out.code})\n${trimStderr(stderr)}`);
  }
  const stdoutLines = dec.decode(out.stdout).trim().split("\n");
  const summary = JSON.parse(stdoutLines[stdoutLines.length - 1]) as { seconds: number; cells: number };
  const executed = JSON.parse(await Deno.readTextFile(notebookOut)) as NotebookJson;
  const keyNumbers = extractKeyNumbers(executed);
  // The maths of the HTML export, typeset now (KaTeX, fonts inlined): it then renders offline, without MathJax.
  const math = renderMathInHtml(await Deno.readTextFile(htmlOut));
  await Deno.writeTextFile(htmlOut, math.html);
  let keyNumbersPath: string | null = null;
  if (keyNumbers) {
    keyNumbersPath = join(options.outDir, "key_numbers.json");
    await Deno.writeTextFile(keyNumbersPath, JSON.stringify(keyNumbers, null, 2) + "\n");
  }
  return {
    name,
    seconds: summary.seconds,
    cells: summary.cells,
    keyNumbers,
    math: { rendered: math.rendered, errors: math.errors },
    files: { notebook: notebookOut, html: htmlOut, keyNumbers: keyNumbersPath },
  };
}

/** Drops Deno's "unstable" banner and Rust backtraces, keeping the cell error readable. */
function trimStderr(stderr: string): string {
  return stderr.split("\n").filter((l) => !/deno jupyter" is unstable/.test(l)).join("\n").trim();
}

/** Fails early, with the install command, when the Python lacks nbclient/nbconvert. */
async function checkJupyter(python: string): Promise<void> {
  let ok = false;
  try {
    ok = (await new Deno.Command(python, { args: ["-c", "import nbclient, nbconvert"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new NotebookError(
      `${python} cannot import nbclient and nbconvert: install Jupyter's nbconvert, e.g. ` +
        "`sudo apt-get install jupyter-nbconvert` (Debian/Ubuntu) or `pip install nbconvert nbclient`, " +
        "and point SF2_PYTHON at that python",
    );
  }
}
