/**
 * Training configurations: one zod-validated JSON file per experiment (`configs/train/`), with `--key=value`
 * overrides on dotted paths (`--head.lambda=0.5`, `--train.steps=100`) validated by the same schema, so a bad
 * file or flag is reported as `configs/train/x.json (with --train.steps=0): train.steps: Too small: …`.
 *
 * Defaults are OpenSphere's paper settings (shared/notes/opensphere.md §4): SGD lr 0.1, momentum 0.9, weight
 * decay 5e-4 on every parameter, multistep ×0.1, batch 512, horizontal flip p 0.5, validation every 2000 steps.
 *
 * @example
 * ```ts
 * import { applyOverrides, parseTrainConfig } from "./config.ts";
 * const raw = { name: "demo", model: { type: "sfnet", depth: 4, width: 0.125, inputSize: 16 }, head: { type: "sphereface2" },
 *   data: { kind: "toy", classes: 6, perClass: 8, size: 16 }, train: { steps: 10, batchSize: 8 } };
 * const cfg = parseTrainConfig(applyOverrides(raw, ["--train.steps=20", "--head.lambda=0.5"]), "demo");
 * ```
 * @module
 */
import { z } from "zod";
import { formatZodError, HeadConfigSchema } from "../losses/config.ts";
import { ModelConfigSchema } from "../models/config.ts";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** Label noise as OpenSphere's sec33 applies it, once, to the training list (see label_noise.ts). */
const noise = {
  /** Fraction of images whose label is redrawn uniformly over all classes (the draw may return the true one). */
  noiseRatio: z.number().min(0).max(1).default(0),
  /** Seed of the noise draws (OpenSphere: 10086), separate from the run's seed like OpenSphere's. */
  noiseSeed: int(0, 2 ** 32 - 1).default(10086),
};

/** In-memory random images (a random prototype per class plus pixel noise), for tests and smoke runs. */
export const ToyDataSchema = z.strictObject({
  kind: z.literal("toy"),
  classes: int(2, 10000),
  perClass: int(1, 10000),
  size: int(8, 112),
  /** Held-out identities for pair validation (open-set, like LFW). 0: no validation pairs. */
  valClasses: int(0, 1000).default(4),
  valPerClass: int(2, 100).default(4),
  /** Pixel noise relative to the class prototype (std); higher is harder. */
  spread: z.number().min(0).max(10).default(0.5),
  ...noise,
});

/**
 * An LFW-layout folder (real LFW from `deno task data lfw`, or the kit's synthetic set): View 1 as an open-set
 * split, training on `peopleDevTrain.txt`, validating on `pairsDevTest.txt`, through the aligned-crop cache.
 */
export const LfwDataSchema = z.strictObject({
  kind: z.literal("lfw-view1"),
  dir: z.string().min(1),
  /** Aligned crop side; the model's inputSize must equal it. */
  size: int(8, 224).default(112),
  cacheDir: z.string().min(1).default("data/cache/crops"),
  /** Skip the few images the shared LFW copy lacks instead of failing. */
  skipIncomplete: z.boolean().default(true),
  /**
   * Train only on identities with at least this many images (1: all of peopleDevTrain). 2854 of View 1's 4038
   * training identities have a single image, a class no pair can ever test, which at CPU budgets mostly adds
   * classifier weights to fit.
   */
  minImages: int(1, 1000).default(1),
  ...noise,
});

/**
 * OpenSphere's format: a training list (`relative/path label` per line) of pre-aligned images under `root`
 * (VGGFace2 112×112 in the paper), and optional validation pair lists (`label path0 path1`).
 */
export const ListDataSchema = z.strictObject({
  kind: z.literal("list"),
  root: z.string().min(1),
  list: z.string().min(1),
  size: int(8, 224).default(112),
  valRoot: z.string().min(1).optional(),
  valPairs: z.array(z.string().min(1)).default([]),
  ...noise,
});

export const DataConfigSchema = z.discriminatedUnion("kind", [ToyDataSchema, LfwDataSchema, ListDataSchema]);
export type DataConfig = z.output<typeof DataConfigSchema>;

export const OptimConfigSchema = z.strictObject({
  /** Iterations (OpenSphere counts iterations, not epochs). */
  steps: int(1),
  batchSize: int(1, 65536).default(512),
  lr: z.number().gt(0).max(100).default(0.1),
  momentum: z.number().min(0).lt(1).default(0.9),
  /** PyTorch SGD semantics: g ← g + wd·w on every parameter, head included. */
  weightDecay: z.number().min(0).max(1).default(5e-4),
  /** Iterations at which the LR is multiplied by `gamma` (MultiStepLR stepped per iteration). */
  milestones: z.array(int(1)).default([]),
  gamma: z.number().gt(0).max(1).default(0.1),
  /** Probability of a horizontal flip per image. */
  flip: z.number().min(0).max(1).default(0.5),
  /** Clip the global gradient norm (torch clip_grad_norm_); null: off (OpenSphere v0's 1e5 is effectively off). */
  gradClip: z.number().gt(0).nullable().default(null),
}).superRefine((t, ctx) => {
  for (let i = 1; i < t.milestones.length; i++) {
    if (t.milestones[i] <= t.milestones[i - 1]) {
      ctx.addIssue({
        code: "custom",
        path: ["milestones", i],
        message: `milestones must increase strictly, got ${t.milestones[i - 1]} then ${t.milestones[i]}`,
      });
    }
  }
});

export const TrainConfigSchema = z.strictObject({
  /** Free text for humans (JSON has no comments). */
  _comment: z.string().optional(),
  name: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, "use letters, digits, '.', '_' or '-'"),
  /** One seed drives initialisation, shuffling, flips (and the label noise when noiseSeed is not given). */
  seed: int(0, 2 ** 32 - 1).default(0),
  model: ModelConfigSchema,
  head: HeadConfigSchema,
  data: DataConfigSchema,
  train: OptimConfigSchema,
  checkpoint: z.strictObject({
    /** Write `checkpoint.sf2` every N steps (and always at the end); 0: only at the end. */
    every: int(0).default(1000),
  }).default({ every: 1000 }),
  validation: z.strictObject({
    /** Verify on the data's pair lists every N steps (and at the end); 0: only at the end. */
    every: int(0).default(2000),
    /** Fuse each image's embedding with its mirror's. */
    flip: z.boolean().default(true),
    batchSize: int(1, 4096).default(64),
  }).default({ every: 2000, flip: true, batchSize: 64 }),
}).superRefine((c, ctx) => {
  const size = c.model.inputSize;
  if (c.data.size !== size) {
    ctx.addIssue({
      code: "custom",
      path: ["model", "inputSize"],
      message: `model.inputSize (${size}) must equal data.size (${c.data.size})`,
    });
  }
});
export type TrainConfig = z.output<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** Validates a config; errors list every problem as `source: path.to.field: message`. */
export function parseTrainConfig(input: unknown, source = "train config"): TrainConfig {
  const result = TrainConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(formatZodError(result.error, source));
}

/** An invalid config or override (tasks report it as a usage error). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Applies `--a.b.c=value` overrides to a raw (unvalidated) config, returning a copy. Values are JSON when they
 * parse as JSON (`5`, `true`, `[1,2]`, `null`, `"x"`) and strings otherwise. Intermediate objects are created;
 * overriding through a non-object (e.g. `--seed.x=1`) is an error naming the flag.
 */
export function applyOverrides(raw: unknown, overrides: readonly string[]): Record<string, unknown> {
  const out = structuredClone(raw) as Record<string, unknown>;
  if (out === null || typeof out !== "object" || Array.isArray(out)) {
    throw new ConfigError("a train config must be a JSON object");
  }
  for (const flag of overrides) {
    const m = /^--([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)=(.*)$/s.exec(flag);
    if (!m) throw new ConfigError(`override ${flag}: expected --path.to.key=value`);
    const path = m[1].split(".");
    let value: unknown;
    try {
      value = JSON.parse(m[2]);
    } catch {
      value = m[2];
    }
    let node = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (next === null || typeof next !== "object" || Array.isArray(next)) {
        throw new ConfigError(`override ${flag}: ${key} is not an object`);
      }
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return out;
}

/** Reads a JSON config file, applies overrides and validates; errors name the file and the overrides. */
export async function loadTrainConfig(file: string, overrides: readonly string[] = []): Promise<TrainConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new ConfigError(`${file}: config file not found`);
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${file}: a train config must be a JSON object, got ${JSON.stringify(raw).slice(0, 40)}`);
  }
  const source = overrides.length ? `${file} (with ${overrides.join(" ")})` : file;
  return parseTrainConfig(applyOverrides(raw, overrides), source);
}
