/**
 * Child process of reference_test.ts: a notebook's retrain path (`experimentResults` with a work folder and a
 * synthetic folder, both relative to the kit's root) run from notebooks/; prints what the test checks as JSON.
 * Usage: `deno run -A notebook_retrain_child.ts WORK_DIR DATA_DIR` (from notebooks/).
 * @module
 */
import { initBackend } from "../../lib/backend/select.ts";
import { experimentResults } from "../../lib/notebook/experiments.ts";

const [workDir, data] = Deno.args;
await initBackend({ requested: "wasm" });
const nb = await experimentResults(["t"], { source: "retrain", profile: "smoke", workDir, data, log: () => {} });
console.log(JSON.stringify({
  cwd: Deno.cwd(),
  overrides: nb.results.datasets[0].overrides,
  records: nb.results.records.length,
}));
