/**
 * `deno task import FILE.pth --source opensphere|insightface [--model JSON] --out DIR [--name NAME]`: reads a
 * PyTorch checkpoint (zip or legacy torch.save format; never executes anything in it), maps its backbone (and
 * head, when the file has one) onto the kit's model, and writes a run folder that `deno task eval DIR` and
 * `deno task embed DIR` take (atomically: nothing is left at DIR when it fails). The architecture is inferred from
 * the tensor shapes; `--model '{"block":"deprecated"}'` overrides inferred config fields. The last line of stdout
 * is a JSON summary.
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, UsageError } from "../lib/cli/flags.ts";
import { importCheckpoint } from "../lib/interop/import.ts";
import { modelName } from "../lib/models/config.ts";

const USAGE = `usage: deno task import FILE.pth --source opensphere|insightface --out DIR [--model JSON] [--name NAME]
  FILE.pth   a torch.save file: OpenSphere main model_N.pth ({backbone, head}), SphereFace2_ICLR21
             checkpoint_N.pth (module.-prefixed), OpenSphere_v0 backbone_N.pth, insightface model.pt / backbone.pth
  --source   opensphere (main, ICLR or v0: recognised from the layout; or opensphere-iclr / opensphere-v0)
             or insightface; fixes the preprocessing recorded for eval (RGB, (v - 127.5) / 127.5 for all)
  --out      the run folder to write (replaced only if the kit wrote it)
  --model    JSON object of kit model config fields overriding the inferred ones, e.g. '{"block":"deprecated"}'
             (OpenSphere_v0's SFNet_deprecated cannot be told from sfnet.py by its keys)
  --name     run name (default SOURCE-FILESTEM)
Refused: files whose pickle names anything outside the allow-list (os.system, builtins.eval, ...), and state dicts
that do not fit the architecture (every missing, unexpected and mis-shaped key is listed).`;

const Flags = z.strictObject({
  source: z.enum(["opensphere", "insightface", "opensphere-iclr", "opensphere-v0"]).optional(),
  out: z.string().min(1).optional(),
  model: z.string().optional(),
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, "use letters, digits, '.', '_' or '-'").optional(),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "import");
  if (positionals.length !== 1) throw new UsageError(`import: give exactly one checkpoint FILE\n${USAGE}`);
  if (!flags.source) throw new UsageError(`import: --source is required\n${USAGE}`);
  if (!flags.out) throw new UsageError(`import: --out DIR is required\n${USAGE}`);
  let model: Record<string, unknown> | undefined;
  if (flags.model !== undefined) {
    try {
      model = JSON.parse(flags.model);
    } catch (err) {
      throw new UsageError(`import: --model: not JSON (${(err as Error).message})`);
    }
    if (typeof model !== "object" || model === null || Array.isArray(model)) {
      throw new UsageError("import: --model: expected a JSON object of model config fields");
    }
  }
  const r = await importCheckpoint(positionals[0], { source: flags.source, model, out: flags.out, name: flags.name });
  console.error(
    `imported ${positionals[0]} (${r.format}, ${r.source}): ${modelName(r.config)}, ${r.tensors} tensors, ` +
      `${r.parameters} values${r.head ? `, head with ${r.head.numClasses} classes` : ""} -> ${r.out}`,
  );
  console.log(JSON.stringify(r));
});
