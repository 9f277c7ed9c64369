/**
 * `deno task verify-backbones [FILE] [--backend NAME]`: checks the PyTorch checkpoint reader, the PyTorch → kit
 * mapping and the kit's backbones against golden vectors of the official code in the backbones.json format
 * (default: tests/golden/backbones.json): every case's embedding (eval or train mode), and, where the case has
 * them, the BN running statistics after the train forward and the input gradient. One line per case, then
 * `backbones: N passed, M failed`; exits 1 if any case fails.
 * @module
 */
import { z } from "zod";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { loadBackboneGolden, verifyBackboneFile } from "../lib/interop/golden.ts";

const DEFAULT_FILE = new URL("../tests/golden/backbones.json", import.meta.url).pathname;
const USAGE = "usage: deno task verify-backbones [FILE] [--backend NAME]\n" +
  "  FILE  golden vectors in the backbones-golden-v1 format (default tests/golden/backbones.json)\n" +
  "Prints one line per case (checked quantity, max |error| and (error/allowance)), then " +
  "`backbones: N passed, M failed`; exit status 1 when a case fails.";

await runTask(async () => {
  const { flags, positionals } = parseFlags(
    Deno.args,
    z.strictObject({ backend: backendFlag }),
    "verify-backbones",
  );
  if (positionals.length > 1) throw new UsageError(`verify-backbones: give at most one FILE\n${USAGE}`);
  const file = positionals[0] ?? DEFAULT_FILE;
  await startBackend(flags.backend);
  const golden = await loadBackboneGolden(file);
  console.log(`file: ${file} (${golden.cases.length} cases; columns: quantity maxAbsError (error/allowance))`);
  const { failed, summary } = await verifyBackboneFile(golden, (r) => console.log(r.line));
  console.log(summary);
  return failed > 0 ? 1 : 0;
});
