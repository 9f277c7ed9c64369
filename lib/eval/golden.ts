/**
 * Checks the kit's metric implementations against golden cases (`shared/vectors/metrics.json`, schema
 * `sphereface2-metric-goldens/1`, defined in PROVENANCE-metrics.md): OpenSphere ACC/EER/AUC/TPR@FPR and Combined,
 * insightface 10-fold accuracy (from embeddings and from cosines) and the IJB nearest-FPR table. Every expected
 * number must match to the file's absolute tolerance (1e-9) in its own unit.
 *
 * @example
 * ```ts
 * import { loadMetricGoldens, verifyMetricCase } from "./golden.ts";
 * const file = await loadMetricGoldens("tests/golden/metrics.json");
 * for (const c of file.cases) console.log(verifyMetricCase(c, file.tolerance_abs).line);
 * ```
 * @module
 */
import { z } from "zod";
import { formatZodError } from "../losses/config.ts";
import {
  distancesFromCosines,
  distancesFromEmbeddings,
  nearestFprTable,
  tenFoldAccuracy,
  type TenFoldResult,
} from "./insightface_metrics.ts";
import { combinedMetrics, openSphereMetrics } from "./opensphere_metrics.ts";

const numbers = z.array(z.number());
const labels01 = z.array(z.union([z.literal(0), z.literal(1)]));
const metricTable = z.record(z.string(), z.number());
const tenFold = z.object({
  fold_sizes: numbers,
  fold_accuracy: numbers,
  fold_correct: numbers,
  best_threshold_index: numbers,
  best_threshold: numbers,
  mean: z.number(),
  std: z.number(),
});

export const MetricCaseSchema = z.object({
  id: z.string(),
  kind: z.enum(["opensphere_pairs", "lfw_6000", "insightface_10fold", "opensphere_combined"]),
  input: z.object({
    scores: numbers.optional(),
    cos: numbers.optional(),
    labels: labels01.optional(),
    emb1: z.array(numbers).optional(),
    emb2: z.array(numbers).optional(),
    lists: z.array(z.object({ name: z.string(), scores: numbers, labels: labels01 })).optional(),
  }),
  expected: z.object({
    opensphere: metricTable.optional(),
    insightface_10fold: tenFold.optional(),
    insightface_ijb_nearest_fpr: metricTable.optional(),
    combined: metricTable.optional(),
    per_list: z.array(metricTable).optional(),
    per_list_insightface_10fold: z.array(tenFold).optional(),
  }),
});
export type MetricCase = z.infer<typeof MetricCaseSchema>;

export const MetricGoldenFileSchema = z.object({
  schema: z.string().optional(),
  tolerance_abs: z.number().positive().default(1e-9),
  fpr_targets_opensphere: z.array(z.string()).optional(),
  fpr_targets_insightface_ijb: z.array(z.string()).optional(),
  cases: z.array(MetricCaseSchema).min(1),
});
export type MetricGoldenFile = z.infer<typeof MetricGoldenFileSchema>;

/** Reads and validates a metric golden file; errors name the file and field. */
export async function loadMetricGoldens(path: string): Promise<MetricGoldenFile> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new Error(`${path}: cannot read metric goldens (${(err as Error).message})`);
  }
  const parsed = MetricGoldenFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, path));
  return parsed.data;
}

/** One compared number. */
export interface MetricCheck {
  key: string;
  got: number;
  expected: number;
  pass: boolean;
}

export interface MetricCaseResult {
  id: string;
  pass: boolean;
  checks: MetricCheck[];
  /** `PASS id  (N numbers, max |Δ| …)` or `FAIL id  key got … expected …`. */
  line: string;
}

/** Runs the kit's implementation on one case and compares every expected number. */
export function verifyMetricCase(c: MetricCase, tolerance = 1e-9): MetricCaseResult {
  const checks: MetricCheck[] = [];
  const add = (key: string, got: number, expected: number) =>
    checks.push({ key, got, expected, pass: Math.abs(got - expected) <= tolerance });
  const table = (prefix: string, got: Record<string, number>, expected: Record<string, number>) => {
    for (const [k, v] of Object.entries(expected)) add(`${prefix}.${k}`, got[k] ?? NaN, v);
  };
  const folds = (prefix: string, got: TenFoldResult, expected: z.infer<typeof tenFold>) => {
    const arrays: Array<[string, number[], number[]]> = [
      ["fold_sizes", got.foldSizes, expected.fold_sizes],
      ["fold_correct", got.foldCorrect, expected.fold_correct],
      ["fold_accuracy", got.foldAccuracy, expected.fold_accuracy],
      ["best_threshold_index", got.bestThresholdIndex, expected.best_threshold_index],
      ["best_threshold", got.bestThreshold, expected.best_threshold],
    ];
    for (const [name, g, e] of arrays) e.forEach((v, i) => add(`${prefix}.${name}[${i}]`, g[i] ?? NaN, v));
    add(`${prefix}.mean`, got.mean, expected.mean);
    add(`${prefix}.std`, got.std, expected.std);
  };
  const targetsOf = (t: Record<string, number>) => Object.keys(t).map((k) => k.replace(/^TPR@FPR=/, ""));

  try {
    const { input, expected } = c;
    const scores = input.scores ?? input.cos;
    if (expected.opensphere) {
      if (!scores || !input.labels) throw new Error("input.scores/cos and input.labels are required");
      const targets = targetsOf(expected.opensphere).filter((k) => !["ACC", "EER", "AUC"].includes(k));
      table("opensphere", openSphereMetrics(scores, input.labels, targets), expected.opensphere);
    }
    if (expected.insightface_ijb_nearest_fpr) {
      if (!scores || !input.labels) throw new Error("input.scores/cos and input.labels are required");
      const e = expected.insightface_ijb_nearest_fpr;
      table("ijb", nearestFprTable(scores, input.labels, targetsOf(e)), e);
    }
    if (expected.insightface_10fold) {
      if (!input.cos || !input.labels) throw new Error("input.cos and input.labels are required");
      folds("10fold(cos)", tenFoldAccuracy(distancesFromCosines(input.cos), input.labels), expected.insightface_10fold);
      if (input.emb1 && input.emb2) {
        const d = distancesFromEmbeddings(input.emb1, input.emb2);
        folds("10fold(emb)", tenFoldAccuracy(d, input.labels), expected.insightface_10fold);
      }
    }
    if (expected.combined || expected.per_list || expected.per_list_insightface_10fold) {
      const lists = input.lists;
      if (!lists) throw new Error("input.lists is required");
      if (expected.combined) {
        const targets = targetsOf(expected.combined).filter((k) => !["ACC", "EER", "AUC"].includes(k));
        table("combined", combinedMetrics(lists, targets), expected.combined);
      }
      expected.per_list?.forEach((e, i) => {
        const targets = targetsOf(e).filter((k) => !["ACC", "EER", "AUC"].includes(k));
        table(`per_list[${i}]`, openSphereMetrics(lists[i].scores, lists[i].labels, targets), e);
      });
      expected.per_list_insightface_10fold?.forEach((e, i) => {
        folds(`per_list[${i}].10fold`, tenFoldAccuracy(distancesFromCosines(lists[i].scores), lists[i].labels), e);
      });
    }
  } catch (err) {
    return { id: c.id, pass: false, checks, line: `FAIL ${c.id}  error: ${(err as Error).message}` };
  }
  const failed = checks.filter((k) => !k.pass);
  const maxErr = checks.reduce((m, k) => Math.max(m, Math.abs(k.got - k.expected)), 0);
  const pass = failed.length === 0 && checks.length > 0;
  const line = pass
    ? `PASS ${c.id}  (${checks.length} numbers, max |Δ| ${maxErr.toExponential(1)})`
    : `FAIL ${c.id}  ${failed.slice(0, 3).map((k) => `${k.key} got ${k.got} expected ${k.expected}`).join("; ")}${
      failed.length > 3 ? ` (+${failed.length - 3} more)` : ""
    }`;
  return { id: c.id, pass, checks, line };
}

/** Every case; `summary` is `metrics: N passed, M failed`. */
export function verifyMetricFile(
  file: MetricGoldenFile,
): { results: MetricCaseResult[]; passed: number; failed: number; summary: string } {
  const results = file.cases.map((c) => verifyMetricCase(c, file.tolerance_abs));
  const passed = results.filter((r) => r.pass).length;
  return {
    results,
    passed,
    failed: results.length - passed,
    summary: `metrics: ${passed} passed, ${results.length - passed} failed`,
  };
}
