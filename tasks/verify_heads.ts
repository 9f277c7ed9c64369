/**
 * `deno task verify-heads [FILE] [--backend NAME]`: checks the kit's heads against golden vectors in the
 * heads.json format (default: the copy the kit carries, tests/golden/heads.json). One line per case, then
 * `heads: N passed, M failed`;
 * exits 1 if any case fails.
 * @module
 */
import { z } from "zod";
import { backendFlag, parseFlags, runTask, startBackend, UsageError, userPath } from "../lib/cli/flags.ts";
import { loadGoldenFile, verifyFile } from "../lib/losses/golden.ts";

const DEFAULT_FILE = new URL("../tests/golden/heads.json", import.meta.url).pathname;

await runTask(async () => {
  const { flags, positionals } = parseFlags(
    Deno.args,
    z.strictObject({ backend: backendFlag }),
    "verify-heads",
  );
  if (positionals.length > 1) throw new UsageError("verify-heads: give at most one FILE");
  const file = positionals[0] !== undefined ? userPath(positionals[0]) : DEFAULT_FILE;
  await startBackend(flags.backend);
  const golden = await loadGoldenFile(file);
  console.log(`file: ${file} (${golden.cases.length} cases; columns: field maxAbsError (error/allowance))`);
  const { results, failed, summary } = await verifyFile(golden);
  for (const r of results) console.log(r.line);
  console.log(summary);
  return failed > 0 ? 1 : 0;
});
