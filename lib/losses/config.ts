/**
 * Head configurations: zod schemas whose errors name the field and the allowed range.
 *
 * Defaults are the paper's Sec. 3.1 configs (OpenSphere v0 `config/papers/SphereFace2/sec31`): SphereFace2-C
 * λ 0.7, r 40, m 0.4, t 3, lw 10; SphereFace s 30, m 1.5; CosFace s 30, m 0.35; ArcFace s 30, m 0.5;
 * NormFace (CocoLoss) s 30. These differ from some module defaults in OpenSphere (e.g. `lw` 50, CosFace s 64),
 * which the configs override.
 *
 * @example
 * ```ts
 * import { parseHeadConfig } from "./config.ts";
 * const cfg = parseHeadConfig({ type: "sphereface2", variant: "A" }); // m defaults to 0.5 for A
 * const arcface = await resolveHead("sec31.arcface"); // by name, from configs/heads/
 * ```
 * @module
 */
import { z } from "zod";
import { REPO_ROOT } from "../fs/paths.ts";

/** SphereFace2 margin variants: additive cosine (C), additive angular (A), multiplicative angular (M). */
export const SPHEREFACE2_VARIANTS = ["C", "A", "M"] as const;
export type SphereFace2Variant = typeof SPHEREFACE2_VARIANTS[number];

/**
 * Gradient forms of the official code. `detached` (default: OpenSphere v0 and main for C, every branch for A
 * and M): the margin and g are applied outside the gradient, dℓ/dcos = r·dℓ/dz. `through-g` (the ICLR branch's
 * SphereFace2C): dℓ/dcos = r·g'(cos)·dℓ/dz. Defined for variant C only.
 */
export const GRAD_FORMS = ["detached", "through-g"] as const;
export type GradForm = typeof GRAD_FORMS[number];

/** Default margin per variant (the paper's appendix configs). */
export const DEFAULT_MARGIN: Record<SphereFace2Variant, number> = { C: 0.4, A: 0.5, M: 1.7 };
/** Allowed margin per variant: C and A add to a cosine or an angle; M multiplies the angle. */
export const MARGIN_RANGE: Record<SphereFace2Variant, [number, number]> = {
  C: [0, 1],
  A: [0, Math.PI / 2],
  M: [1, 4],
};

export const SphereFace2ConfigSchema = z.strictObject({
  type: z.literal("sphereface2"),
  variant: z.enum(SPHEREFACE2_VARIANTS).default("C"),
  /** λ, the positive/negative balance (OpenSphere's `alpha`). */
  lambda: z.number().gt(0).lt(1).default(0.7),
  /** r, the scale of the cosine logits. */
  r: z.number().gt(0).max(128).default(40),
  /** m, the margin; its default and range depend on `variant`. */
  m: z.number().optional(),
  /** t, the exponent of the similarity adjustment g(z) = 2((z+1)/2)^t − 1. */
  t: z.number().min(1).max(10).default(3),
  /** OpenSphere's loss weight `lw` (not in the paper): the loss is multiplied by lw/r. */
  lw: z.number().gt(0).max(1000).default(10),
  gradForm: z.enum(GRAD_FORMS).default("detached"),
  /** A/M: cos is clipped to [−1+ε, 1−ε] before acos and θ to [ε, angleMax] (v0: 1e-5, 3.14159; ICLR: 1e-8, 3.14). */
  angleEps: z.number().gt(0).max(0.01).default(1e-5),
  angleMax: z.number().min(3).max(Math.PI).default(3.14159),
}).superRefine((c, ctx) => {
  if (c.m !== undefined) {
    const [lo, hi] = MARGIN_RANGE[c.variant];
    if (!(c.m >= lo && c.m <= hi)) {
      ctx.addIssue({
        code: "custom",
        path: ["m"],
        message: `m must be in [${lo}, ${hi.toFixed(4)}] for variant ${c.variant}, got ${c.m}`,
      });
    }
  }
  if (c.gradForm === "through-g" && c.variant !== "C") {
    ctx.addIssue({
      code: "custom",
      path: ["gradForm"],
      message:
        `gradForm "through-g" exists for variant C only (the ICLR branch's SphereFace2C); got variant ${c.variant}`,
    });
  }
}).transform((c) => ({ ...c, m: c.m ?? DEFAULT_MARGIN[c.variant] }));
export type SphereFace2Config = z.output<typeof SphereFace2ConfigSchema>;

export const SoftmaxConfigSchema = z.strictObject({
  type: z.literal("softmax"),
  /** Per-class bias (v0/ICLR: yes, initialised to 0; main: none). */
  bias: z.boolean().default(true),
});
export type SoftmaxConfig = z.output<typeof SoftmaxConfigSchema>;

const scale = z.number().gt(0).max(128);

export const NormFaceConfigSchema = z.strictObject({
  type: z.literal("normface"),
  s: scale.default(30),
});
export type NormFaceConfig = z.output<typeof NormFaceConfigSchema>;

export const SphereFaceConfigSchema = z.strictObject({
  type: z.literal("sphereface"),
  s: scale.default(30),
  /** Multiplicative angular margin (v0/ICLR 1.5, main 1.7); non-integer allowed. */
  m: z.number().min(1).max(4).default(1.5),
});
export type SphereFaceConfig = z.output<typeof SphereFaceConfigSchema>;

export const CosFaceConfigSchema = z.strictObject({
  type: z.literal("cosface"),
  s: scale.default(30),
  m: z.number().min(0).max(1).default(0.35),
});
export type CosFaceConfig = z.output<typeof CosFaceConfigSchema>;

export const ArcFaceConfigSchema = z.strictObject({
  type: z.literal("arcface"),
  s: scale.default(30),
  m: z.number().min(0).max(Math.PI / 2).default(0.5),
});
export type ArcFaceConfig = z.output<typeof ArcFaceConfigSchema>;

export const HeadConfigSchema = z.discriminatedUnion("type", [
  SphereFace2ConfigSchema,
  SoftmaxConfigSchema,
  NormFaceConfigSchema,
  SphereFaceConfigSchema,
  CosFaceConfigSchema,
  ArcFaceConfigSchema,
]);
export type HeadConfig = z.output<typeof HeadConfigSchema>;
/** What a user writes: every field but `type` optional. */
export type HeadConfigInput = z.input<typeof HeadConfigSchema>;

/** Head names accepted in `type`. */
export const HEAD_TYPES = ["sphereface2", "softmax", "normface", "sphereface", "cosface", "arcface"] as const;
export type HeadType = typeof HEAD_TYPES[number];

/**
 * Validates a head config. Errors list every problem as `source: field: message`, e.g.
 * `config.json: head.lambda: Too big: expected number to be <1`.
 */
export function parseHeadConfig(input: unknown, source = "head config"): HeadConfig {
  const result = HeadConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new Error(formatZodError(result.error, source));
}

/** One line per issue: `source: path.to.field: message`. */
export function formatZodError(error: z.ZodError, source: string): string {
  return error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.join(".") : "(root)";
    return `${source}: ${path}: ${issue.message}`;
  }).join("\n");
}

/** The named heads: every `configs/heads/*.json` file groups head configs as `{ "group": { "name": config } }`. */
// Plain concatenation, not node:path: this module is also bundled for the browser (lib/web).
export const HEADS_DIR: string = `${REPO_ROOT}configs/heads/`;

const catalogues = new Map<string, Promise<Record<string, HeadConfig>>>();

/**
 * The named heads of `dir` (default configs/heads/), validated once, as `group.name` → config
 * (`sec31.sphereface2`, `appendix.sphereface2-a`). Errors name the file and the entry; a name defined by two files
 * is an error naming both.
 */
export function loadHeadCatalogue(dir = HEADS_DIR): Promise<Record<string, HeadConfig>> {
  let p = catalogues.get(dir);
  if (!p) {
    catalogues.set(dir, p = readCatalogue(dir));
    p.catch(() => catalogues.delete(dir));
  }
  return p;
}

async function readCatalogue(dir: string): Promise<Record<string, HeadConfig>> {
  const out: Record<string, HeadConfig> = {};
  const where: Record<string, string> = {};
  const files = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".json")) files.push(e.name);
  for (const name of files.sort()) {
    const file = `${dir.replace(/\/$/, "")}/${name}`;
    let groups: unknown;
    try {
      groups = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (!groups || typeof groups !== "object" || Array.isArray(groups)) {
      throw new Error(`${file}: expected an object of groups`);
    }
    for (const [group, heads] of Object.entries(groups)) {
      if (group.startsWith("_")) continue;
      if (!heads || typeof heads !== "object" || Array.isArray(heads)) {
        throw new Error(`${file}: ${group}: expected an object of named head configs`);
      }
      for (const [head, config] of Object.entries(heads)) {
        const key = `${group}.${head}`;
        if (where[key]) throw new Error(`${file}: ${key}: head name already defined in ${where[key]}`);
        out[key] = parseHeadConfig(config, `${file}: ${key}`);
        where[key] = file;
      }
    }
  }
  return out;
}

/**
 * A head given by name (`"sec31.arcface"`, from {@link loadHeadCatalogue}) or as a config (validated here); `source`
 * names the file and field in errors, e.g. `configs/train/x.json: head: no head named "sec31.foo"; known: …`.
 */
export async function resolveHead(head: unknown, source = "head", dir = HEADS_DIR): Promise<HeadConfig> {
  if (typeof head !== "string") return parseHeadConfig(head, source);
  const catalogue = await loadHeadCatalogue(dir);
  const found = catalogue[head];
  if (!found) {
    throw new Error(
      `${source}: no head named ${JSON.stringify(head)} in ${dir}; known: ${Object.keys(catalogue).join(", ")}`,
    );
  }
  return structuredClone(found);
}
