/**
 * `deno task export DIR --to pytorch --out FILE.pth [--source …]`: a kit run folder (trained or imported) as the
 * PyTorch checkpoint the official code saves, which its modules load with `load_state_dict(strict=True)`.
 * `deno task export DIR|CONFIG.json --to opensphere --out FILE.yml [--branch main|iclr]`: the training config as
 * OpenSphere's YAML for the same experiment. The last line of stdout is a JSON summary.
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, UsageError } from "../lib/cli/flags.ts";
import { exportOpenSphereConfig, exportPytorch } from "../lib/interop/export.ts";
import { OpenSphereExportError } from "../lib/interop/opensphere_config.ts";

const USAGE = `usage: deno task export DIR --to pytorch --out FILE.pth [--source SOURCE]
       deno task export DIR|CONFIG.json --to opensphere --out FILE.yml [--branch main|iclr] [--key=value ...]
  DIR        a run folder: deno task train's output, or deno task import's
  --to pytorch
             the backbone (+ head) as a torch.save file the official module loads with load_state_dict(strict=True)
    --source opensphere (main: {backbone, head}, as model_N.pth), opensphere-iclr (SphereFace2_ICLR21: the same
             with module. prefixes, as checkpoint_N.pth), opensphere-v0 (backbone_N.pth, head_N.pth beside it),
             insightface (flat backbone.pth, IResNet only). Default: an imported run's own source; otherwise
             opensphere, or opensphere-iclr for SFNet_deprecated (block "deprecated"), which main does not have
  --to opensphere
             the training config (the run's, or CONFIG.json with --key=value overrides as deno task train takes)
             as OpenSphere's YAML; fields the branch cannot express are refused by name, differences are listed
    --branch main (default: python main_train.py --cfg_path FILE.yml; sfnet.py blocks, IResNets, SphereFace2-C)
             or iclr (SphereFace2_ICLR21: python main_train.py --config FILE.yml; SFNet_deprecated, SphereFace2
             C/A/M, softmax/normface, label noise)
    --num-workers  DataLoader workers per GPU process in the YAML (default 4, as OpenSphere's configs)
  --out      the file to write (atomically)`;

const TASK_FLAGS = new Set(["to", "out", "source", "branch", "num-workers"]);
const Flags = z.strictObject({
  to: z.enum(["pytorch", "opensphere"]).optional(),
  out: z.string().min(1).optional(),
  source: z.enum(["opensphere", "opensphere-iclr", "opensphere-v0", "insightface"]).optional(),
  branch: z.enum(["main", "iclr"]).optional(),
  numWorkers: z.coerce.number().int().min(0).max(256).optional(),
});

await runTask(async () => {
  // Every --key=value whose key is not one of the task's flags is a config override, as deno task train takes them.
  const overrides = Deno.args.filter((a) => {
    const m = /^--([A-Za-z_][\w.]*)=/.exec(a);
    return m !== null && !TASK_FLAGS.has(m[1]);
  });
  const { flags, positionals } = parseFlags(Deno.args.filter((a) => !overrides.includes(a)), Flags, "export");
  if (positionals.length !== 1) throw new UsageError(`export: give exactly one run folder (or config file)\n${USAGE}`);
  if (!flags.to) throw new UsageError(`export: --to pytorch|opensphere is required\n${USAGE}`);
  if (!flags.out) throw new UsageError(`export: --out FILE is required\n${USAGE}`);
  const input = positionals[0];
  if (flags.to === "pytorch") {
    if (flags.branch || flags.numWorkers !== undefined) {
      throw new UsageError("export: --branch and --num-workers are for --to opensphere");
    }
    if (overrides.length) throw new UsageError("export: --key=value overrides are for --to opensphere");
    const stat = await Deno.stat(input).catch(() => null);
    if (!stat?.isDirectory) throw new UsageError(`export: ${input} is not a run folder`);
    const r = await exportPytorch(input, { out: flags.out, source: flags.source });
    console.error(
      `exported ${input}: ${r.backbone.model}, ${r.backbone.tensors} tensors` +
        `${r.head ? `, head with ${r.head.numClasses} classes` : ""} as ${r.source} -> ${r.files.join(", ")}`,
    );
    console.log(JSON.stringify(r));
    return 0;
  }
  if (flags.source) throw new UsageError("export: --source is for --to pytorch");
  try {
    const r = await exportOpenSphereConfig(input, {
      out: flags.out,
      branch: flags.branch,
      numWorkers: flags.numWorkers,
      overrides,
    });
    for (const w of r.warnings) console.error(`warning: ${w}`);
    console.error(`wrote OpenSphere ${r.branch} config -> ${r.out}`);
    console.log(JSON.stringify({ out: r.out, branch: r.branch, warnings: r.warnings }));
    return 0;
  } catch (err) {
    if (err instanceof OpenSphereExportError) throw new UsageError(err.message);
    throw err;
  }
});
