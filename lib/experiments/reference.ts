/**
 * The committed reference results: `data/reference/experiments-<profile>.json`, one small {@link GridResults} file
 * per profile (records only, no checkpoints), so the report and the notebooks show real trained results without
 * retraining. Written only by a complete grid (`deno task reproduce --profile cpu --recompute` or
 * `deno task experiments --profile cpu`), atomically.
 *
 * @example
 * ```ts
 * import { readReference } from "./reference.ts";
 * const cpu = await readReference("cpu");
 * console.log(cpu?.records.length, cpu?.machine);
 * ```
 * @module
 */
import { pathExists } from "../fs/paths.ts";
import { writeTextFileAtomic } from "../fs/write.ts";
import { type GridResults, RESULTS_SCHEMA } from "./grid.ts";

/** Folder of the committed reference results. */
export const REFERENCE_DIR = new URL("../../data/reference/", import.meta.url).pathname;

/** Path of a profile's reference file. */
export function referencePath(profile: string, dir = REFERENCE_DIR): string {
  return `${dir.replace(/\/$/, "")}/experiments-${profile}.json`;
}

/**
 * Where a grid keeps its runs and writes its results by default: `results/experiments/<profile>` and the committed
 * reference. A variant never overwrites those: pointed at another synthetic folder (`data`, the experiments task's
 * `--data`), which trains other configs in the same run paths, it gets a folder of its own
 * (`results/experiments/<profile>@<folder name>`); restricted to some families (`--families`), whose results would
 * be a subset of the profile's, it writes `results-<families>.json` in its folder instead of the reference.
 */
export function gridPaths(
  profile: string,
  variant: { data?: string; families?: readonly string[] } = {},
): { workDir: string; results: string } {
  const { data, families } = variant;
  const name = data?.replace(/\/+$/, "").split("/").at(-1) || "data";
  const workDir = data === undefined ? `results/experiments/${profile}` : `results/experiments/${profile}@${name}`;
  if (data === undefined && families === undefined) return { workDir, results: referencePath(profile) };
  return { workDir, results: `${workDir}/results${families ? `-${families.join("-")}` : ""}.json` };
}

/** Parses a results file, checking its schema tag. */
export function parseResults(text: string, source: string): GridResults {
  let value: GridResults;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (value?.schema !== RESULTS_SCHEMA) {
    throw new Error(`${source}: schema: expected "${RESULTS_SCHEMA}", got ${JSON.stringify(value?.schema)}`);
  }
  if (!Array.isArray(value.records)) throw new Error(`${source}: records: expected an array`);
  return value;
}

/** The reference results of a profile, or null when none are committed. */
export async function readReference(profile: string, dir = REFERENCE_DIR): Promise<GridResults | null> {
  const file = referencePath(profile, dir);
  if (!(await pathExists(file))) return null;
  return parseResults(await Deno.readTextFile(file), file);
}

/** Writes a results file atomically (temporary sibling, then rename). */
export async function writeResults(file: string, results: GridResults): Promise<void> {
  await Deno.mkdir(file.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  // One record per line keeps the committed file small and its diffs readable.
  const { records, ...head } = results;
  const text = JSON.stringify(head, null, 2).replace(/\n}$/, "") + ',\n  "records": [\n' +
    records.map((r) => `    ${JSON.stringify(r)}`).join(",\n") + "\n  ]\n}\n";
  await writeTextFileAtomic(file, text);
}
