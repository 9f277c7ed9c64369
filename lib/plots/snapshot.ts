/**
 * Snapshot (golden file) assertions for figures, after Observable Plot's own test approach: the SVG is
 * normalised first (numbers rounded, one element per line) so that float noise in the last digits does not
 * fail a test while any visible change does. `UPDATE=1 deno test …` rewrites the goldens instead of comparing.
 * Name goldens `*.svg.snap`: `deno fmt` reformats `.svg` files, which would break the comparison.
 *
 * @example
 * ```ts
 * import { assertSnapshot } from "./snapshot.ts";
 * const svgText = '<svg width="10" height="10"><circle cx="5.000001" cy="5" r="2"/></svg>';
 * await assertSnapshot(svgText, new URL("./goldens/g.svg.snap", import.meta.url).pathname);
 * ```
 * @module
 */
import { dirname } from "node:path";

/** The environment variable that turns comparisons into rewrites. */
export const UPDATE_ENV = "UPDATE";

/**
 * Canonical text of an SVG: numbers with more than `digits` decimals rounded to `digits` (−0 → 0), a line
 * break between adjacent tags, trailing newline.
 */
export function normalizeSvg(svg: string, digits = 2): string {
  const rounded = svg.replace(/-?\d+\.\d+(?:e[-+]?\d+)?/gi, (n) => {
    const v = Number(Number(n).toFixed(digits));
    return Object.is(v, -0) ? "0" : String(v);
  });
  return rounded.replace(/>\s*</g, ">\n<").trim() + "\n";
}

/** The first differing line of two texts, for a readable failure message. */
export function firstDifference(expected: string, actual: string): string | null {
  const a = expected.split("\n");
  const b = actual.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `line ${i + 1}:\n  expected: ${(a[i] ?? "(end of file)").slice(0, 300)}\n  actual:   ${
        (b[i] ?? "(end of file)").slice(0, 300)
      }`;
    }
  }
  return null;
}

export interface SnapshotOptions {
  /** Rewrite instead of compare (default: the environment variable UPDATE is 1/true). */
  update?: boolean;
  /** Normalisation (default {@link normalizeSvg}). */
  normalize?: (text: string) => string;
}

/**
 * Compares the normalised `actual` with the golden file at `path`; writes it when updating or when the golden
 * does not exist yet (then the test fails, so a missing golden is never a silent pass). Throws with the first
 * differing line.
 */
export async function assertSnapshot(actual: string, path: string, options: SnapshotOptions = {}): Promise<void> {
  const normalize = options.normalize ?? normalizeSvg;
  const text = normalize(actual);
  const update = options.update ?? /^(1|true)$/i.test(Deno.env.get(UPDATE_ENV) ?? "");
  let golden: string | null = null;
  try {
    golden = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (update || golden === null) {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, text);
    if (golden === null && !update) {
      throw new Error(`snapshot ${path} did not exist; written now: review it, then rerun`);
    }
    return;
  }
  const diff = firstDifference(golden, text);
  if (diff !== null) {
    throw new Error(`snapshot mismatch with ${path} (rerun with ${UPDATE_ENV}=1 if the change is intended)\n${diff}`);
  }
}
