/**
 * The paper's experiments as data: one JSON file per family in `configs/experiments/` (λ, t, margins, comparison,
 * label noise), each a list of rows (a head config and a label-noise ratio), and the profiles of
 * `configs/experiments/profiles.json` that say on which datasets, backbones and seeds the rows are trained.
 * Both are zod-validated; errors name the file and the field.
 *
 * A row's training setup (head + noise) is a *cell*; cells shared between families (the paper's default
 * SphereFace2 appears in every one of them) are trained once per dataset and seed.
 *
 * @example
 * ```ts
 * import { loadExperiments, loadProfile } from "./spec.ts";
 * const experiments = await loadExperiments();
 * const profile = await loadProfile("smoke");
 * console.log(experiments.map((e) => `${e.family}: ${e.rows.length} rows`), profile.seeds);
 * ```
 * @module
 */
import { z } from "zod";
import { REPO_ROOT } from "../fs/paths.ts";
import { formatZodError, type HeadConfig, HeadConfigSchema } from "../losses/config.ts";

/** Where the experiment files live. */
export const EXPERIMENTS_DIR = `${REPO_ROOT}configs/experiments`;
/** The families, in report order. */
export const FAMILIES = ["lambda", "t", "margins", "comparison", "noise"] as const;
export type Family = typeof FAMILIES[number];

export const RowSchema = z.strictObject({
  label: z.string().min(1),
  /** Position on the family's axis (λ, t, noise ratio), for figures. */
  x: z.number().optional(),
  /** Line of a multi-series figure (noise: the loss). */
  series: z.string().optional(),
  head: HeadConfigSchema,
  /** Fraction of training labels redrawn (OpenSphere sec33). */
  noise: z.number().min(0).max(1).default(0),
});
export type Row = z.output<typeof RowSchema>;

export const ExperimentSchema = z.strictObject({
  family: z.enum(FAMILIES),
  title: z.string().min(1),
  question: z.string().min(1),
  /** The paper's claim this family tests, in words. */
  claim: z.string().min(1),
  axis: z.string().min(1),
  rows: z.array(RowSchema).min(1),
});
export type Experiment = z.output<typeof ExperimentSchema>;

export const DatasetSchema = z.strictObject({
  /** Short name used in tables and run folders. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and '-'"),
  /** Base training config (backbone, data, budget); each row replaces its head and noise ratio. */
  config: z.string().min(1),
  /** Further `--path.to.key=value` overrides of the base config. */
  overrides: z.array(z.string().regex(/^--[^=]+=/, "--path.to.key=value")).default([]),
  /** Also verify on LFW View 2 (`pairs.txt` of the config's data.dir, 10 folds of 600 pairs). */
  view2: z.boolean().default(false),
  /**
   * The kit's synthetic faces, generated into data.dir when absent: `true` for the default set (200 identities × 6
   * images; an existing folder is used as it is), or the generation parameters that differ from it (then an existing
   * folder must match them).
   */
  synthetic: z.union([
    z.boolean(),
    z.strictObject({
      identities: z.number().int().min(4).max(1_000_000).optional(),
      imagesPerIdentity: z.number().int().min(2).max(1000).optional(),
    }),
  ]).default(false),
  /** Why this dataset and budget: stated in the report. */
  note: z.string().default(""),
});
export type DatasetSpec = z.output<typeof DatasetSchema>;

export const ProfileSchema = z.strictObject({
  description: z.string().min(1),
  seeds: z.array(z.number().int().min(0)).min(1),
  datasets: z.array(DatasetSchema).min(1),
  /** Families to run (default: all). */
  families: z.array(z.enum(FAMILIES)).default([...FAMILIES]),
  /** A follow-up of that profile (e.g. a longer budget): its committed results appear in that profile's report. */
  investigates: z.string().optional(),
});
export type Profile = z.output<typeof ProfileSchema>;

const ProfilesSchema = z.record(z.string().regex(/^[a-z0-9-]+$/), ProfileSchema);

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reads and validates one experiment file. */
export async function loadExperiment(file: string): Promise<Experiment> {
  const parsed = ExperimentSchema.safeParse(await readJson(file));
  if (!parsed.success) throw new Error(formatZodError(parsed.error, file));
  return parsed.data;
}

/** The experiment families of `dir` (default configs/experiments), in {@link FAMILIES} order. */
export async function loadExperiments(dir = EXPERIMENTS_DIR, families: readonly Family[] = FAMILIES) {
  const out: Experiment[] = [];
  for (const family of families) {
    const e = await loadExperiment(`${dir}/${family}.json`);
    if (e.family !== family) throw new Error(`${dir}/${family}.json: family: expected "${family}", got "${e.family}"`);
    out.push(e);
  }
  return out;
}

/** Names of the profiles in `profiles.json`. */
export async function profileNames(dir = EXPERIMENTS_DIR): Promise<string[]> {
  return Object.keys(await readJson(`${dir}/profiles.json`) as object);
}

/** Names of the profiles that investigate `profile` (their `investigates` field), in file order. */
export async function investigationsOf(profile: string, dir = EXPERIMENTS_DIR): Promise<string[]> {
  const all = ProfilesSchema.parse(await readJson(`${dir}/profiles.json`));
  return Object.entries(all).filter(([, p]) => p.investigates === profile).map(([name]) => name);
}

/** Points the profile's synthetic datasets at `dir` (a `--data.dir` override), e.g. a small test copy. */
export function withSyntheticDir(profile: Profile, dir: string): Profile {
  return {
    ...profile,
    datasets: profile.datasets.map((d) => d.synthetic ? { ...d, overrides: [...d.overrides, `--data.dir=${dir}`] } : d),
  };
}

/** Reads one profile of `profiles.json`. */
export async function loadProfile(name: string, dir = EXPERIMENTS_DIR): Promise<Profile> {
  const file = `${dir}/profiles.json`;
  const parsed = ProfilesSchema.safeParse(await readJson(file));
  if (!parsed.success) throw new Error(formatZodError(parsed.error, file));
  const p = parsed.data[name];
  if (!p) throw new Error(`${file}: no profile "${name}"; allowed: ${Object.keys(parsed.data).join(", ")}`);
  return p;
}

const fmt = (v: number) => String(Number(v.toPrecision(6)));

/** A readable, unique id of a cell (head + noise): `sphereface2-C-l0.7-r40-m0.4-t3`, `arcface-s30-m0.5-noise0.2`. */
export function cellId(head: HeadConfig, noise: number): string {
  const h = head as Record<string, unknown>;
  const parts: string[] = [head.type];
  if (head.type === "sphereface2") {
    parts.push(String(h.variant), `l${fmt(h.lambda as number)}`, `r${fmt(h.r as number)}`, `m${fmt(h.m as number)}`);
    parts.push(`t${fmt(h.t as number)}`);
    if (h.lw !== 10) parts.push(`lw${fmt(h.lw as number)}`);
    if (h.gradForm === "through-g") parts.push("through-g");
    // The angle clipping of A/M (ICLR branch: 1e-8, 3.14): a row that changes it is another cell.
    if (h.angleEps !== 1e-5) parts.push(`eps${fmt(h.angleEps as number)}`);
    if (h.angleMax !== 3.14159) parts.push(`amax${fmt(h.angleMax as number)}`);
  } else {
    for (const k of ["s", "m"]) if (typeof h[k] === "number") parts.push(`${k}${fmt(h[k] as number)}`);
    if (h.bias === false) parts.push("nobias");
  }
  if (noise > 0) parts.push(`noise${fmt(noise)}`);
  return parts.join("-");
}

/** The distinct cells of some experiments, in first-appearance order. */
export function distinctCells(
  experiments: readonly Experiment[],
): Array<{ id: string; head: HeadConfig; noise: number }> {
  const seen = new Map<string, { id: string; head: HeadConfig; noise: number }>();
  for (const e of experiments) {
    for (const r of e.rows) {
      const id = cellId(r.head, r.noise);
      if (!seen.has(id)) seen.set(id, { id, head: r.head, noise: r.noise });
    }
  }
  return [...seen.values()];
}
