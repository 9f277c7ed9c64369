/**
 * Checks the checkpoint reader, the PyTorch → kit mapping and the kit's backbones against golden vectors of the
 * official code (`tests/golden/backbones.json`, format `backbones-golden-v1`, described in
 * PROVENANCE-backbones.md). For each case, through the same library path `deno task import` uses:
 *
 * 1. the checkpoint is read ({@link readTorchFile}; its format must be the case's `checkpoint_format`), the backbone
 *    found and its prefix stripped ({@link findBackbone}; must agree with `checkpoint_layout`);
 * 2. the architecture inferred from the shapes must agree with `kit_equivalent` (type, depth, width, embedding
 *    and input size, BN), and the tensors are mapped onto a kit model built from `kit_equivalent`;
 * 3. the case's images (RGB, (v − mean)/std from `preprocess`) run through the model in the case's `mode` (train:
 *    one batch through BN) and the embedding must satisfy |got − ref| ≤ tolerance.abs + tolerance.rel·|ref|;
 * 4. when the case has them: the BN running statistics after the train forward (`bn_stats_after`, each tensor
 *    within `rel_to_max_of_tensor`·max|ref|), and the input gradient dL/dx of L = Σ embedding·v
 *    (`input_gradient`, elementwise abs + rel, and ‖Δ‖₂ ≤ l2_rel·‖g‖₂).
 *
 * @example
 * ```ts
 * import { loadBackboneGolden, verifyBackboneCase } from "./golden.ts";
 * const golden = await loadBackboneGolden("tests/golden/backbones.json");
 * for (const c of golden.cases) console.log((await verifyBackboneCase(c, golden.dir)).line);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { readImage } from "../data/image.ts";
import { decodeNpy } from "../data/npy.ts";
import { preprocessPixels } from "../data/preprocess.ts";
import { formatZodError } from "../losses/config.ts";
import { type ModelConfig, parseModelConfig } from "../models/config.ts";
import { createModel } from "../models/registry.ts";
import { findBackbone, inferModelConfig, loadKitTensors, torchNameMap, torchToKit } from "./mapping.ts";
import { toFloat32 } from "./tensor.ts";
import { readTorchFile, stateDictAt } from "./torch_load.ts";

const matrix = z.array(z.array(z.number()));

/** One case of backbones.json (the fields the check uses; the others are ignored). */
export const BackboneCaseSchema = z.object({
  name: z.string(),
  checkpoint: z.string(),
  checkpoint_format: z.enum(["zip", "legacy"]),
  checkpoint_layout: z.object({
    container: z.enum(["dict", "state_dict"]),
    backbone_at: z.array(z.string()).default([]),
    key_prefix: z.string().default(""),
  }),
  kit_equivalent: z.record(z.string(), z.unknown()),
  preprocess: z.object({
    channel_order: z.enum(["RGB", "BGR"]),
    mean: z.union([z.number(), z.tuple([z.number(), z.number(), z.number()])]),
    std: z.union([z.number(), z.tuple([z.number(), z.number(), z.number()])]),
  }),
  images: z.array(z.string()).min(1),
  mode: z.enum(["eval", "train"]),
  embedding: matrix,
  tolerance: z.object({ abs: z.number().min(0), rel: z.number().min(0) }),
  bn_stats_after: z.object({
    file: z.string(),
    tolerance: z.object({ rel_to_max_of_tensor: z.number().min(0) }),
  }).optional(),
  input_gradient: z.object({
    v: matrix,
    file: z.string(),
    shape: z.array(z.number().int()),
    tolerance: z.object({ abs: z.number().min(0), rel: z.number().min(0), l2_rel: z.number().min(0) }),
  }).optional(),
});
export type BackboneCase = z.infer<typeof BackboneCaseSchema>;

export const BackboneGoldenSchema = z.object({
  format: z.literal("backbones-golden-v1"),
  cases: z.array(BackboneCaseSchema).min(1),
});

/** Reads and validates a golden file; `dir` is the folder its paths are relative to. */
export async function loadBackboneGolden(path: string): Promise<{ dir: string; cases: BackboneCase[] }> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new Error(`${path}: cannot read golden file (${(err as Error).message})`);
  }
  const parsed = BackboneGoldenSchema.safeParse(json);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, path));
  return { dir: dirname(path), cases: parsed.data.cases };
}

/** One compared quantity: worst |got − ref| and worst ratio to its allowance (≤ 1 passes). */
export interface Check {
  field: string;
  maxAbsError: number;
  worstRatio: number;
  pass: boolean;
}

export interface BackboneResult {
  name: string;
  pass: boolean;
  checks: Check[];
  /** `PASS name  embedding 3.1e-6 (0.021)  …` or `FAIL name  error: …`. */
  line: string;
  error?: string;
}

/** Elementwise |got − ref| ≤ abs + rel·|ref|. */
export function compareArrays(
  field: string,
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  abs: number,
  rel: number,
): Check {
  if (got.length !== ref.length) return { field, maxAbsError: Infinity, worstRatio: Infinity, pass: false };
  let maxAbsError = 0;
  let worstRatio = 0;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i] - ref[i]);
    const ratio = Number.isFinite(err) ? err / (abs + rel * Math.abs(ref[i])) : Infinity;
    if (!(err <= maxAbsError)) maxAbsError = err;
    if (!(ratio <= worstRatio)) worstRatio = ratio;
  }
  return { field, maxAbsError, worstRatio, pass: worstRatio <= 1 };
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** Runs one case on the current backend; never throws (an error is a failed case, with its message). */
export async function verifyBackboneCase(c: BackboneCase, dir: string): Promise<BackboneResult> {
  try {
    const checks = await runCase(c, dir);
    const pass = checks.every((k) => k.pass);
    const detail = checks.map((k) => `${k.field} ${k.maxAbsError.toExponential(1)} (${k.worstRatio.toFixed(3)})`)
      .join("  ");
    return { name: c.name, pass, checks, line: `${pass ? "PASS" : "FAIL"} ${c.name}  ${detail}` };
  } catch (err) {
    const error = (err as Error).message;
    return { name: c.name, pass: false, checks: [], line: `FAIL ${c.name}  error: ${error}`, error };
  }
}

/** The fields of `kit_equivalent` that a state dict's shapes determine. */
function shapeFields(c: ModelConfig): Record<string, unknown> {
  const base = { type: c.type, depth: c.depth, width: c.width, featDim: c.featDim, inputSize: c.inputSize };
  return c.type === "sfnet" ? { ...base, bn: c.bn } : base;
}

async function runCase(c: BackboneCase, dir: string): Promise<Check[]> {
  const file = resolve(dir, c.checkpoint);
  const ck = await readTorchFile(file);
  if (ck.format !== c.checkpoint_format) {
    throw new Error(`${file}: read as ${ck.format}, expected ${c.checkpoint_format}`);
  }
  const found = findBackbone(ck);
  const layoutAt = c.checkpoint_layout.container === "dict" ? c.checkpoint_layout.backbone_at : [];
  if (found.at.join("/") !== layoutAt.join("/") || found.prefix !== c.checkpoint_layout.key_prefix) {
    throw new Error(
      `${file}: backbone found at [${found.at}] with prefix "${found.prefix}", the case says [${layoutAt}] ` +
        `with "${c.checkpoint_layout.key_prefix}"`,
    );
  }
  const config = parseModelConfig(c.kit_equivalent, `${c.name}: kit_equivalent`);
  const inferred = inferModelConfig(found.stateDict, { source: "opensphere-any", file });
  const want = JSON.stringify(shapeFields(config));
  const got = JSON.stringify(shapeFields(inferred));
  if (want !== got) throw new Error(`${file}: inferred ${got}, kit_equivalent is ${want}`);
  const tensors = torchToKit(found.stateDict, config, file);
  const model = createModel(config, { seed: 0 }, c.name);
  const checks: Check[] = [];
  try {
    loadKitTensors(model, tensors, file);
    const size = config.inputSize;
    const pixels = new Float32Array(c.images.length * size * size * 3);
    for (const [i, rel] of c.images.entries()) {
      const img = await readImage(resolve(dir, rel));
      if (img.width !== size || img.height !== size) {
        throw new Error(`${rel}: ${img.width}×${img.height}, the model takes ${size}×${size}`);
      }
      const p = c.preprocess;
      pixels.set(
        preprocessPixels(img.data, { channelOrder: p.channel_order, mean: p.mean, std: p.std }),
        i * size ** 2 * 3,
      );
    }
    const x = tf.tensor4d(pixels, [c.images.length, size, size, 3]);
    try {
      const e = model.forward(x, c.mode === "train");
      const got = e.dataSync();
      e.dispose();
      checks.push(compareArrays("embedding", got, c.embedding.flat(), c.tolerance.abs, c.tolerance.rel));
      if (c.mode === "train") model.commitBatchStats();
      if (c.bn_stats_after) {
        if (c.mode !== "train") throw new Error("bn_stats_after needs a train-mode case");
        checks.push(...await bnStatsChecks(c.bn_stats_after, dir, config, model.variables));
      }
      if (c.input_gradient) checks.push(await gradientCheck(c.input_gradient, dir, model, x, c.mode === "train"));
    } finally {
      x.dispose();
    }
  } finally {
    model.dispose();
  }
  return checks;
}

async function bnStatsChecks(
  spec: NonNullable<BackboneCase["bn_stats_after"]>,
  dir: string,
  config: ModelConfig,
  variables: ReadonlyMap<string, tf.Variable>,
): Promise<Check[]> {
  const file = resolve(dir, spec.file);
  const ck = await readTorchFile(file);
  const sd = stateDictAt(ck, []);
  const names = torchNameMap(config);
  let worst: Check = { field: "bn_stats", maxAbsError: 0, worstRatio: 0, pass: true };
  let compared = 0;
  for (const [key, t] of sd) {
    // The kit does not count batches: num_batches_tracked is PyTorch bookkeeping only.
    if (key.endsWith("num_batches_tracked")) continue;
    const kit = names.get(key);
    const v = kit ? variables.get(kit) : undefined;
    if (!v) throw new Error(`${file}: ${key} has no kit counterpart`);
    const ref = toFloat32(t);
    const k = compareArrays(`bn_stats ${key}`, v.dataSync(), ref, spec.tolerance.rel_to_max_of_tensor * maxAbs(ref), 0);
    compared++;
    if (!(k.worstRatio <= worst.worstRatio)) worst = { ...k, field: "bn_stats" };
  }
  if (!compared) throw new Error(`${file}: no running statistics in the file`);
  return [worst];
}

async function gradientCheck(
  spec: NonNullable<BackboneCase["input_gradient"]>,
  dir: string,
  model: ReturnType<typeof createModel>,
  x: tf.Tensor4D,
  training: boolean,
): Promise<Check> {
  const file = resolve(dir, spec.file);
  const ref = decodeNpy(await Deno.readFile(file), file);
  if (ref.shape.join() !== x.shape.join()) throw new Error(`${file}: shape [${ref.shape}], input is [${x.shape}]`);
  const v = tf.tensor2d(spec.v);
  // In the case's mode: a train-mode gradient goes through the batch statistics (its BN updates are dropped).
  const g = tf.grad((input) => tf.sum(tf.mul(model.forward(input as tf.Tensor4D, training), v)))(x);
  model.discardBatchStats();
  const got = g.dataSync();
  tf.dispose([g, v]);
  const k = compareArrays("input_grad", got, ref.data, spec.tolerance.abs, spec.tolerance.rel);
  let d2 = 0;
  let r2 = 0;
  for (let i = 0; i < got.length; i++) {
    d2 += (got[i] - ref.data[i]) ** 2;
    r2 += ref.data[i] ** 2;
  }
  const l2Ratio = Math.sqrt(d2) / (spec.tolerance.l2_rel * Math.sqrt(r2));
  const worstRatio = Math.max(k.worstRatio, l2Ratio);
  return { field: "input_grad", maxAbsError: k.maxAbsError, worstRatio, pass: k.pass && l2Ratio <= 1 };
}

/** Runs every case; the summary line is `backbones: N passed, M failed`. */
export async function verifyBackboneFile(
  golden: { dir: string; cases: BackboneCase[] },
  onResult?: (r: BackboneResult) => void,
): Promise<{ results: BackboneResult[]; failed: number; summary: string }> {
  const results: BackboneResult[] = [];
  for (const c of golden.cases) {
    const r = await verifyBackboneCase(c, golden.dir);
    onResult?.(r);
    results.push(r);
  }
  const failed = results.filter((r) => !r.pass).length;
  return { results, failed, summary: `backbones: ${results.length - failed} passed, ${failed} failed` };
}
