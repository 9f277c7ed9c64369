/**
 * Checks the kit's heads against golden vectors produced by the official OpenSphere modules
 * (`shared/vectors/heads.json`, format `opensphere-heads-golden-v1`, described in PROVENANCE-heads.md).
 *
 * For each case the head is built from the case's parameters, W and b are set to the stored values, W is
 * re-normalised the way OpenSphere does it, and one forward + backward pass is compared field by field with
 * |got − ref| ≤ atol + rtol·|ref|:
 * loss atol 1e-6, rtol 1e-5; gradX/gradW/gradBias atol 2e-5·max|ref field|, rtol 1e-4; cos atol 2e-6;
 * b₀ (SphereFace2) as the loss.
 *
 * @example
 * ```ts
 * import { loadGoldenFile, verifyCase } from "./golden.ts";
 * const file = await loadGoldenFile("tests/golden/heads.json");
 * for (const c of file.cases) console.log((await verifyCase(c)).line);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { formatZodError, type HeadConfigInput, parseHeadConfig } from "./config.ts";
import { headGradients } from "./head.ts";
import { createHead } from "./registry.ts";
import { initialBias, type SphereFace2Head } from "./sphereface2.ts";

const matrix = z.array(z.array(z.number()));

/** One case of heads.json (fields the check uses; others are ignored). */
export const GoldenCaseSchema = z.object({
  name: z.string(),
  head: z.string(),
  branch: z.string(),
  gradForm: z.enum(["detached", "through-g", "plain"]),
  variant: z.enum(["C", "A", "M"]).optional(),
  params: z.object({ code: z.record(z.string(), z.union([z.number(), z.string()])) }),
  B: z.number().int().positive(),
  d: z.number().int().positive(),
  K: z.number().int().min(2),
  x: matrix,
  W: matrix,
  WNormalized: matrix.optional(),
  bias: z.array(z.number()).optional(),
  initialBias: z.array(z.number()).optional(),
  labels: z.array(z.number().int().min(0)),
  loss: z.number(),
  gradX: matrix,
  gradW: matrix,
  gradBias: z.array(z.number()).optional(),
  cos: matrix.optional(),
});
export type GoldenCase = z.infer<typeof GoldenCaseSchema>;

export const GoldenFileSchema = z.object({
  format: z.string().optional(),
  cases: z.array(GoldenCaseSchema).min(1),
});
export type GoldenFile = z.infer<typeof GoldenFileSchema>;

/** Reads and validates a golden file; errors name the file and the field (e.g. `cases.3.gradW`). */
export async function loadGoldenFile(path: string): Promise<GoldenFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(`${path}: cannot read golden file (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = GoldenFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, path));
  for (const [i, c] of parsed.data.cases.entries()) checkShapes(c, `${path}: cases.${i} (${c.name})`);
  return parsed.data;
}

function checkShapes(c: GoldenCase, where: string): void {
  const expect = (field: string, m: number[][] | undefined, rows: number, cols: number) => {
    if (!m) return;
    if (m.length !== rows || m.some((r) => r.length !== cols)) {
      throw new Error(`${where}: ${field} must be ${rows}×${cols}`);
    }
  };
  expect("x", c.x, c.B, c.d);
  expect("W", c.W, c.d, c.K);
  expect("WNormalized", c.WNormalized, c.d, c.K);
  expect("gradX", c.gradX, c.B, c.d);
  expect("gradW", c.gradW, c.d, c.K);
  expect("cos", c.cos, c.B, c.K);
  if (c.labels.length !== c.B) throw new Error(`${where}: labels must have B = ${c.B} entries`);
  const bad = c.labels.find((l) => l >= c.K);
  if (bad !== undefined) throw new Error(`${where}: label ${bad} is out of range [0, ${c.K - 1}]`);
}

/** The kit's head config equivalent to a golden case's official module and branch. */
export function configForCase(c: GoldenCase): HeadConfigInput {
  const code = c.params.code;
  const num = (key: string): number => {
    const v = code[key];
    if (typeof v !== "number") throw new Error(`case ${c.name}: params.code.${key} must be a number`);
    return v;
  };
  const iclr = c.branch.includes("ICLR");
  switch (c.head) {
    case "SphereFace2":
    case "SphereFace2C":
    case "SphereFace2A":
    case "SphereFace2M": {
      const variant = c.variant ?? (c.head.length === 12 ? c.head[11] : String(code.magn_type ?? "C"));
      if (variant !== "C" && variant !== "A" && variant !== "M") {
        throw new Error(`case ${c.name}: unknown SphereFace2 variant ${variant}`);
      }
      if (c.gradForm === "plain") throw new Error(`case ${c.name}: SphereFace2 needs a detached/through-g form`);
      return {
        type: "sphereface2",
        variant,
        lambda: num("alpha"),
        r: num("r"),
        m: num("m"),
        t: num("t"),
        lw: num("lw"),
        gradForm: c.gradForm,
        ...(iclr ? { angleEps: 1e-8, angleMax: 3.14 } : {}),
      };
    }
    case "SoftmaxLoss":
      return { type: "softmax", bias: (c.bias?.length ?? 0) === c.K };
    case "CocoLoss":
      return { type: "normface", s: num("s") };
    case "SphereFace":
      return { type: "sphereface", s: num("s"), m: num("m") };
    case "CosFace":
      return { type: "cosface", s: num("s"), m: num("m") };
    case "ArcFace":
      return { type: "arcface", s: num("s"), m: num("m") };
    default:
      throw new Error(`case ${c.name}: unknown head "${c.head}"`);
  }
}

/** Worst error of one field, as a fraction of its allowance (≤ 1 passes). */
export interface FieldCheck {
  field: string;
  maxAbsError: number;
  /** max over entries of |got − ref| / (atol + rtol·|ref|). */
  worstRatio: number;
  pass: boolean;
}

export interface CaseResult {
  name: string;
  pass: boolean;
  fields: FieldCheck[];
  /** One printable line: `PASS name  loss 1.2e-7 (0.01) …`. */
  line: string;
  error?: string;
}

/** Compares two flat arrays elementwise with atol + rtol·|ref|. */
export function compareField(
  field: string,
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  atol: number,
  rtol: number,
): FieldCheck {
  if (got.length !== ref.length) {
    return { field, maxAbsError: Infinity, worstRatio: Infinity, pass: false };
  }
  let maxAbsError = 0;
  let worstRatio = 0;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i] - ref[i]);
    const ratio = Number.isFinite(err) ? err / (atol + rtol * Math.abs(ref[i])) : Infinity;
    if (!(err <= maxAbsError)) maxAbsError = err;
    if (!(ratio <= worstRatio)) worstRatio = ratio;
  }
  return { field, maxAbsError, worstRatio, pass: worstRatio <= 1 };
}

const maxAbs = (a: number[]) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Runs one case on the current backend and compares every field. */
export async function verifyCase(c: GoldenCase): Promise<CaseResult> {
  try {
    const fields = await runCase(c);
    const pass = fields.every((f) => f.pass);
    const detail = fields.map((f) => `${f.field} ${f.maxAbsError.toExponential(1)} (${f.worstRatio.toFixed(3)})`)
      .join("  ");
    return { name: c.name, pass, fields, line: `${pass ? "PASS" : "FAIL"} ${c.name}  ${detail}` };
  } catch (err) {
    const error = (err as Error).message;
    return { name: c.name, pass: false, fields: [], line: `FAIL ${c.name}  error: ${error}`, error };
  }
}

async function runCase(c: GoldenCase): Promise<FieldCheck[]> {
  const config = configForCase(c);
  const head = createHead(
    parseHeadConfig(config, `case ${c.name}`),
    { featDim: c.d, numClasses: c.K, seed: 0 },
    `case ${c.name}`,
  );
  const owned: tf.Tensor[] = [];
  const own = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  try {
    const fields: FieldCheck[] = [];
    if (head.type === "sphereface2" && c.initialBias) {
      const b0 = initialBias((head as SphereFace2Head).config, c.K);
      fields.push(compareField("b0", [Math.fround(b0)], c.initialBias, 1e-6, 1e-5));
    }
    head.weight.assign(own(tf.tensor2d(c.W)));
    if (head.bias) {
      if (!c.bias || c.bias.length !== head.bias.shape[0]) {
        throw new Error(`bias must have ${head.bias.shape[0]} entries`);
      }
      head.bias.assign(own(tf.tensor1d(c.bias)));
    }
    const labels = own(tf.tensor1d(c.labels, "int32"));
    const x = own(tf.tensor2d(c.x));
    const grads = headGradients(head, x, labels);
    owned.push(grads.loss, grads.gradX, grads.gradW, ...(grads.gradBias ? [grads.gradBias] : []));
    fields.push(compareField("loss", await grads.loss.data(), [c.loss], 1e-6, 1e-5));
    const gradCheck = async (field: string, got: tf.Tensor | null, ref: number[] | undefined) => {
      if (!ref) return;
      if (!got) {
        fields.push({ field, maxAbsError: Infinity, worstRatio: Infinity, pass: false });
        return;
      }
      fields.push(compareField(field, await got.data(), ref, 2e-5 * maxAbs(ref), 1e-4));
    };
    await gradCheck("gradX", grads.gradX, c.gradX.flat());
    await gradCheck("gradW", grads.gradW, c.gradW.flat());
    await gradCheck("gradBias", grads.gradBias, c.gradBias);
    if (c.cos && head.normalizesWeight) {
      const details = head.inspect(x, labels);
      owned.push(details.cos, details.logits, details.targetLoss, details.nonTargetLoss, details.loss);
      fields.push(compareField("cos", await details.cos.data(), c.cos.flat(), 2e-6, 0));
    }
    return fields;
  } finally {
    tf.dispose(owned);
    head.dispose();
  }
}

/** Runs every case; `summary` is the closing line `heads: N passed, M failed`. */
export async function verifyFile(
  file: GoldenFile,
): Promise<{ results: CaseResult[]; passed: number; failed: number; summary: string }> {
  const results: CaseResult[] = [];
  for (const c of file.cases) results.push(await verifyCase(c));
  const passed = results.filter((r) => r.pass).length;
  const failed = results.length - passed;
  return { results, passed, failed, summary: `heads: ${passed} passed, ${failed} failed` };
}
