/**
 * `deno task verify-metrics [FILE]`: checks the kit's verification metrics (OpenSphere ACC/EER/AUC/TPR@FPR and
 * Combined, insightface 10-fold and IJB nearest-FPR) against golden cases in the metrics.json format
 * (default: the copy the kit carries, tests/golden/metrics.json). One line per case, then
 * `metrics: N passed, M failed`; exits 1 if any
 * case fails.
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, UsageError, userPath } from "../lib/cli/flags.ts";
import { loadMetricGoldens, verifyMetricFile } from "../lib/eval/golden.ts";

const DEFAULT_FILE = new URL("../tests/golden/metrics.json", import.meta.url).pathname;

await runTask(async () => {
  const { positionals } = parseFlags(Deno.args, z.strictObject({}), "verify-metrics");
  if (positionals.length > 1) throw new UsageError("verify-metrics: give at most one FILE");
  const file = positionals[0] !== undefined ? userPath(positionals[0]) : DEFAULT_FILE;
  const golden = await loadMetricGoldens(file);
  console.log(`file: ${file} (${golden.cases.length} cases; tolerance ${golden.tolerance_abs} absolute)`);
  const { results, failed, summary } = verifyMetricFile(golden);
  for (const r of results) console.log(r.line);
  console.log(summary);
  return failed > 0 ? 1 : 0;
});
