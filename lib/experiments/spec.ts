/**
 * The paper's experiments as data: one JSON file per family in `configs/experiments/` (λ, t, margins, comparison,
 * label noise), each a list of rows (a head config and a label-noise ratio; a row names the field it varies,
 * `"axis": "head.lambda", "x": 0.3`, instead of repeating the head, and its role in the claim), and the profiles of
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
import { formatZodError, type HeadConfig, HeadConfigSchema, resolveHead } from "../losses/config.ts";

/** Where the experiment files live. */
export const EXPERIMENTS_DIR = `${REPO_ROOT}configs/experiments`;
/** The families, in report order. */
export const FAMILIES = ["lambda", "t", "margins", "comparison", "noise"] as const;
export type Family = typeof FAMILIES[number];

/**
 * What a row is to its family's claim, so claims.ts and the report find rows by role, never by label or value:
 * `paper` the paper's setting the others are compared with (λ 0.7, t 3, SphereFace2 in the comparison, the
 * SphereFace2 series under label noise), `weak` the setting claimed to hurt (λ 0.3), `baseline` the setting every
 * other is claimed to improve on (t = 1), `through-g` the gradient-form row of the margins family (a finding of the
 * kit, not one of the margin forms).
 */
export const ROLES = ["paper", "weak", "baseline", "through-g"] as const;
export type Role = typeof ROLES[number];

/** The roles each family's claim reads: exactly one row each (noise: the rows of one series). */
export const REQUIRED_ROLES: Record<Family, ReadonlyArray<{ role: Role; what: string }>> = {
  lambda: [
    { role: "paper", what: "the paper's λ, which no other should beat" },
    { role: "weak", what: "the small λ claimed to hurt" },
  ],
  t: [
    { role: "baseline", what: "t = 1, which every t > 1 is compared with" },
    { role: "paper", what: "the paper's t, which the report compares rows with" },
  ],
  margins: [],
  comparison: [{ role: "paper", what: "SphereFace2, compared with every other loss" }],
  noise: [{ role: "paper", what: "the SphereFace2 series, compared with each other series at each ratio" }],
};

/** The fields a row's `axis` may set: the noise ratio or a head field. */
const AXIS = /^(noise|head\.[A-Za-z]+)$/;

export const RowSchema = z.strictObject({
  label: z.string().min(1),
  /** What the row is to the family's claim (see {@link ROLES}). */
  role: z.enum(ROLES).optional(),
  /** The config field this row varies (`head.lambda`, `head.t`, `noise`): set to `x`, not repeated. */
  axis: z.string().regex(AXIS, "noise or head.<field>").optional(),
  /** Position on the family's axis (λ, t, noise ratio), for figures; the value of `axis` when given. */
  x: z.number().optional(),
  /** Line of a multi-series figure (noise: the loss). */
  series: z.string().optional(),
  head: HeadConfigSchema,
  /** Fraction of training labels redrawn (OpenSphere sec33). */
  noise: z.number().min(0).max(1).default(0),
}).superRefine((r, ctx) => {
  if (r.axis && r.x === undefined) {
    ctx.addIssue({ code: "custom", path: ["x"], message: `axis ${r.axis} needs the value x` });
  }
});
export type Row = z.output<typeof RowSchema>;

/**
 * A file's rows as written → rows with their whole head and noise: a row without `head` takes the family's, a head
 * object without `type` is laid over the family's (`{"gradForm": "through-g"}`), and `axis` sets its field to `x`.
 * Head names are resolved before (see {@link loadExperiment}); anything malformed is left for the schema to report.
 */
function expandRows(input: unknown): unknown {
  if (!isObject(input) || !Array.isArray(input.rows)) return input;
  const family = input.head;
  const rows = input.rows.map((row) => {
    if (!isObject(row)) return row;
    let head = row.head === undefined ? family : row.head;
    if (isObject(row.head) && !("type" in row.head) && isObject(family)) head = { ...family, ...row.head };
    const out: Record<string, unknown> = { ...row, head: structuredClone(head) };
    if (typeof row.axis === "string" && AXIS.test(row.axis) && typeof row.x === "number") {
      if (row.axis === "noise") out.noise = row.x;
      else if (isObject(out.head)) out.head[row.axis.slice("head.".length)] = row.x;
    }
    return out;
  });
  return { ...input, rows };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export const ExperimentSchema = z.preprocess(
  expandRows,
  z.strictObject({
    family: z.enum(FAMILIES),
    title: z.string().min(1),
    question: z.string().min(1),
    /** The paper's claim this family tests, in words. */
    claim: z.string().min(1),
    /** The axis's name in tables and figures (λ, t, noise ratio). */
    axis: z.string().min(1),
    /** The head of the rows that give none (or give only the fields they change). */
    head: HeadConfigSchema.optional(),
    rows: z.array(RowSchema).min(1),
  }).superRefine((e, ctx) => {
    for (const { role, what } of REQUIRED_ROLES[e.family]) {
      const n = e.rows.filter((r) => r.role === role).length;
      if (n === 0 || (n > 1 && e.family !== "noise")) {
        ctx.addIssue({
          code: "custom",
          path: ["rows"],
          message: `the ${e.family} claim needs ${e.family === "noise" ? "rows" : "exactly one row"} with role ` +
            `"${role}" (${what}), found ${n}`,
        });
      }
    }
    if (e.family === "noise") {
      e.rows.forEach((r, i) => {
        if (r.series === undefined || r.x === undefined) {
          ctx.addIssue({ code: "custom", path: ["rows", i], message: "a label-noise row needs its series and x" });
        }
      });
      const series = new Set(e.rows.filter((r) => r.role === "paper").map((r) => r.series));
      if (series.size > 1) {
        ctx.addIssue({
          code: "custom",
          path: ["rows"],
          message: `the rows with role "paper" must form one series, got ${[...series].join(", ")}`,
        });
      }
    }
  }),
);
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
      testPairs: z.number().int().min(1).max(1_000_000).optional(),
    }),
  ]).default(false),
  /** Why this dataset and budget: stated in the report. */
  note: z.string().default(""),
});
export type DatasetSpec = z.output<typeof DatasetSchema>;

/** How `deno task reproduce` treats a profile: fields, not comparisons of profile names (lib/reproduce/pipeline.ts). */
export const ReproduceSchema = z.strictObject({
  /**
   * Train one model first and report it against its random initialisation (smoke: SphereFace2 on the synthetic
   * faces); `--train-config` and `--train-steps` replace these, `--train-steps 0` skips it. null: none.
   */
  singleRun: z.strictObject({ config: z.string().min(1), steps: z.number().int().min(1) }).nullable().default(null),
  /** `--data DIR` points the profile's synthetic datasets (and the single run) at DIR. */
  dataFlag: z.boolean().default(false),
  /**
   * The grid's results are the committed reference `data/reference/experiments-NAME.json`: read instead of training
   * when present (unless `--recompute` or `--shard`), written after a grid. false: always trained, never kept.
   */
  reference: z.boolean().default(true),
  /** Train in a private temporary folder, removed afterwards (minutes of work, never resumed), unless `--work`. */
  scratch: z.boolean().default(false),
  /** Refuse to train when data the plan needs is missing (user-supplied datasets), naming each file. */
  requireData: z.boolean().default(false),
  /**
   * Also report this profile's committed reference (first) and its follow-ups, and check the claims on it rather
   * than on this profile's grid (smoke: the `cpu` numbers, which mean something).
   */
  showReference: z.string().optional(),
  /** Heading of the grid's report section (default: "Trained experiments: the kit's reproduction … (profile `NAME`)"). */
  sectionTitle: z.string().min(1).optional(),
});
export type ReproduceSpec = z.output<typeof ReproduceSchema>;
/** The `reproduce` fields of a profile that gives none: a grid whose results are a committed reference. */
export const REPRODUCE_DEFAULTS: ReproduceSpec = {
  singleRun: null,
  dataFlag: false,
  reference: true,
  scratch: false,
  requireData: false,
};

export const ProfileSchema = z.strictObject({
  description: z.string().min(1),
  seeds: z.array(z.number().int().min(0)).min(1),
  datasets: z.array(DatasetSchema).min(1),
  /** Families to run (default: all). */
  families: z.array(z.enum(FAMILIES)).default([...FAMILIES]),
  /** A follow-up of that profile (e.g. a longer budget): its committed results appear in that profile's report. */
  investigates: z.string().optional(),
  /** What `deno task reproduce --profile NAME` does beyond training the grid (defaults: a committed-reference grid). */
  reproduce: ReproduceSchema.default(() => ({ ...REPRODUCE_DEFAULTS })),
});
export type Profile = z.output<typeof ProfileSchema>;

const ProfilesSchema = z.record(z.string().regex(/^[a-z0-9-]+$/), ProfileSchema).superRefine((all, ctx) => {
  // A profile may name another (its follow-up target, the reference it shows): that one must exist.
  for (const [name, p] of Object.entries(all)) {
    const refs: Array<[string[], string | undefined]> = [
      [[name, "investigates"], p.investigates],
      [[name, "reproduce", "showReference"], p.reproduce.showReference],
    ];
    for (const [path, ref] of refs) {
      if (ref !== undefined && !(ref in all)) {
        ctx.addIssue({
          code: "custom",
          path,
          message: `no profile "${ref}"; allowed: ${Object.keys(all).join(", ")}`,
        });
      }
    }
  }
});

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

/**
 * Reads and validates one experiment file: head names (`"head": "sec31.arcface"`, from configs/heads/) resolved,
 * rows expanded (see {@link ExperimentSchema}); errors name the file and the field (`rows.2.head: …`).
 */
export async function loadExperiment(file: string): Promise<Experiment> {
  const raw = await readJson(file);
  if (isObject(raw)) {
    if (typeof raw.head === "string") raw.head = await resolveHead(raw.head, `${file}: head`);
    if (Array.isArray(raw.rows)) {
      for (const [i, row] of raw.rows.entries()) {
        if (isObject(row) && typeof row.head === "string") {
          row.head = await resolveHead(row.head, `${file}: rows.${i}.head`);
        }
      }
    }
  }
  const parsed = ExperimentSchema.safeParse(raw);
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
