/**
 * A trained run folder as the web page loads it: `model.json` (model config, the SphereFace2 head's r, t and shared
 * bias, the verification threshold they imply, optional LFW score histograms, the tensor table) and `weights.bin`
 * (the backbone's float32 tensors, BN statistics included, back to back). `deno task web build --model RUN_DIR`
 * writes both ({@link packWebModel}); the page and `deno task compare` rebuild the same model from them
 * ({@link restoreWebModel}), so the two run one pipeline on the same numbers.
 *
 * No Deno API here: this module is bundled into the page.
 *
 * @example
 * ```ts
 * import { packWebModel, restoreWebModel, type RunTensors } from "./web_model.ts";
 * declare const run: RunTensors; // name, step, model and head configs, checkpoint tensors
 * const { meta, weights } = packWebModel(run);                              // build time
 * const model = restoreWebModel(meta, weights.buffer as ArrayBuffer);                    // page / compare
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { formatZodError, type HeadConfig } from "../losses/config.ts";
import { verificationThreshold } from "../losses/sphereface2.ts";
import { type ModelConfig, parseModelConfig } from "../models/config.ts";
import { createModel, type Model } from "../models/registry.ts";

export const WEB_MODEL_FORMAT = "sf2-web-model/1";

const Histogram = z.strictObject({
  /** Bin edges in cosine, length bins + 1. */
  edges: z.array(z.number()),
  positive: z.array(z.number().int().min(0)),
  negative: z.array(z.number().int().min(0)),
  /** Where the scores came from, e.g. "LFW view 2, 600 matched + 600 mismatched pairs". */
  source: z.string(),
});
export type ScoreHistogram = z.infer<typeof Histogram>;

export const WebModelMetaSchema = z.strictObject({
  format: z.literal(WEB_MODEL_FORMAT),
  /** Run name and the training step of its checkpoint, e.g. "cpu-lfw-view1-sfnet20-sphereface2@4000". */
  name: z.string(),
  step: z.number().int().min(0),
  model: z.unknown(),
  head: z.strictObject({
    type: z.literal("sphereface2"),
    variant: z.enum(["C", "A", "M"]),
    r: z.number().gt(0),
    t: z.number().min(1),
    bias: z.number(),
  }),
  /** cos* = g⁻¹(−b/r): the page's and compare's decision threshold. */
  threshold: z.number().min(-1).max(1),
  histogram: Histogram.nullable(),
  tensors: z.array(z.strictObject({
    name: z.string(),
    shape: z.array(z.number().int().min(0)),
    /** Offset in float32 elements into weights.bin. */
    offset: z.number().int().min(0),
  })),
});
export type WebModelMeta = z.infer<typeof WebModelMetaSchema>;

/** Validates a `model.json`; errors name the source and the field. */
export function parseWebModelMeta(input: unknown, source: string): WebModelMeta {
  const r = WebModelMetaSchema.safeParse(input);
  if (!r.success) throw new Error(formatZodError(r.error, source));
  return r.data;
}

/** What {@link packWebModel} needs from a run: its config parts and checkpointed tensors by name. */
export interface RunTensors {
  name: string;
  step: number;
  model: ModelConfig;
  head: HeadConfig;
  /** Checkpoint tensors (`model/…`, `head/bias`, …). */
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
  histogram?: ScoreHistogram | null;
}

/**
 * The page's files from a run: the backbone's tensors (in the model's own variable order) and the head's threshold.
 * Only SphereFace2 runs qualify: the threshold comes from their shared bias; other heads have none.
 */
export function packWebModel(run: RunTensors): { meta: WebModelMeta; weights: Uint8Array } {
  if (run.head.type !== "sphereface2") {
    throw new Error(
      `${run.name}: head "${run.head.type}" has no shared bias, so no threshold; the page needs a SphereFace2 run`,
    );
  }
  const bias = run.tensors.get("head/bias");
  if (!bias) throw new Error(`${run.name}: checkpoint has no head/bias`);
  const names = [...run.tensors.keys()].filter((n) => n.startsWith("model/"));
  let total = 0;
  const table = names.map((n) => {
    const t = run.tensors.get(n)!;
    const entry = { name: n.slice("model/".length), shape: [...t.shape], offset: total };
    total += t.data.length;
    return entry;
  });
  const all = new Float32Array(total);
  names.forEach((n, i) => all.set(run.tensors.get(n)!.data, table[i].offset));
  const head = {
    type: "sphereface2" as const,
    variant: run.head.variant,
    r: run.head.r,
    t: run.head.t,
    bias: bias.data[0],
  };
  const meta: WebModelMeta = {
    format: WEB_MODEL_FORMAT,
    name: run.name,
    step: run.step,
    model: run.model,
    head,
    threshold: verificationThreshold(head, head.bias),
    histogram: run.histogram ?? null,
    tensors: table,
  };
  return { meta, weights: new Uint8Array(all.buffer) };
}

/** Rebuilds the backbone of a packed model (eval mode use: `model.forward(x, false)`); the caller disposes it. */
export function restoreWebModel(meta: WebModelMeta, weights: ArrayBuffer): { model: Model; config: ModelConfig } {
  const config = parseModelConfig(meta.model, "model.json: model");
  const data = new Float32Array(weights);
  const model = createModel(config, { seed: 0 }, "model.json: model");
  try {
    const byName = new Map(meta.tensors.map((t) => [t.name, t]));
    for (const [name, variable] of model.variables) {
      const t = byName.get(name);
      if (!t) throw new Error(`model.json: no tensor ${name}`);
      if (t.shape.join() !== variable.shape.join()) {
        throw new Error(`model.json: ${name} has shape [${t.shape}], the model expects [${variable.shape}]`);
      }
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (t.offset + size > data.length) throw new Error(`weights.bin: too short for ${name}`);
      const value = tf.tensor(data.subarray(t.offset, t.offset + size), t.shape, "float32");
      variable.assign(value);
      value.dispose();
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, config };
}

/**
 * Bins positive and negative pair cosines for the page's histogram, `bins` equal bins over the scores' own range (a
 * weakly trained model's cosines can all lie within 0.01 of each other; fixed bins on [−1, 1] would show one bar).
 */
export function scoreHistogram(
  positive: ArrayLike<number>,
  negative: ArrayLike<number>,
  source: string,
  bins = 40,
): ScoreHistogram {
  let lo = Infinity, hi = -Infinity;
  for (const xs of [positive, negative]) {
    for (let i = 0; i < xs.length; i++) lo = Math.min(lo, xs[i]), hi = Math.max(hi, xs[i]);
  }
  if (!(hi > lo)) [lo, hi] = Number.isFinite(lo) ? [lo - 1e-3, lo + 1e-3] : [-1, 1];
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + ((hi - lo) * i) / bins));
  const count = (xs: ArrayLike<number>) => {
    const out = new Array(bins).fill(0);
    for (let i = 0; i < xs.length; i++) {
      out[Math.min(bins - 1, Math.max(0, Math.floor(((xs[i] - lo) / (hi - lo)) * bins)))]++;
    }
    return out;
  };
  return { edges, positive: count(positive), negative: count(negative), source };
}
