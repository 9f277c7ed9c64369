/**
 * Kit models out: a run folder (`deno task train` or `deno task import`) as the PyTorch checkpoint an official code
 * saves, and a training config as OpenSphere's YAML.
 *
 * - `exportPytorch`: the backbone (and head, when the run has one) in the source's key names, order, layouts and
 *   container (lib/interop/mapping.ts), written with torch.save's format (torch_save.ts), so that the official
 *   module takes it with `load_state_dict(strict=True)`:
 *   - `opensphere` (main): one `{'backbone': …, 'head': …}` file, as `model_N.pth`;
 *   - `opensphere-iclr` (SphereFace2_ICLR21): the same dict, keys prefixed `module.`, as `checkpoint_N.pth`;
 *   - `opensphere-v0`: the backbone file (`backbone_N.pth`, `module.` prefix) and the head in `head_N.pth` beside it;
 *   - `insightface`: the backbone alone (`backbone.pth`); its heads (partial FC) are not the kit's and are left out.
 *   BN `num_batches_tracked` is the run's step count (0 for an imported model), which eval-mode BN ignores.
 * - `exportOpenSphereConfig`: the run's training config (or a config file) as OpenSphere's YAML
 *   (opensphere_config.ts).
 *
 * @example
 * ```ts
 * import { exportPytorch } from "./export.ts";
 * const r = await exportPytorch("results/train/sec31-sfnet20-sphereface2", { out: "out/checkpoint_80000.pth" });
 * r.files; // ["out/checkpoint_80000.pth"]
 * ```
 * @module
 */
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { formatZodError } from "../losses/config.ts";
import { finalMapSize, type ModelConfig, ModelConfigSchema, modelName } from "../models/config.ts";
import { readCheckpoint } from "../train/checkpoint.ts";
import { loadTrainConfig, parseTrainConfig, type TrainConfig } from "../train/config.ts";
import { RUN_FILES } from "../train/loop.ts";
import { writeTextFileAtomic } from "../fs/write.ts";
import {
  type KitHead,
  kitHeadToStateDict,
  type KitTensors,
  kitTensorsToStateDict,
  type TorchSource,
} from "./mapping.ts";
import { type OpenSphereBranch, type OpenSphereYaml, toOpenSphereYaml } from "./opensphere_config.ts";
import type { StateDict } from "./tensor.ts";
import { writeTorchSave } from "./torch_save.ts";

/** A run folder read for export: the model config, the kit tensors, the head, where it came from. */
export interface RunForExport {
  dir: string;
  name: string;
  model: ModelConfig;
  /** The training config (kit runs); null for an imported model. */
  train: TrainConfig | null;
  /** The source an imported model came from. */
  importedFrom: TorchSource | null;
  tensors: KitTensors;
  head: KitHead | null;
  step: number;
}

const ImportedRun = z.object({
  name: z.string().min(1),
  imported: z.object({ source: z.enum(["opensphere", "opensphere-iclr", "opensphere-v0", "insightface"]) }),
  config: z.object({ model: ModelConfigSchema }),
});

/** Reads `run.json` and `checkpoint.sf2` of a run folder (trained or imported); errors name the file. */
export async function readRunForExport(dir: string): Promise<RunForExport> {
  const runFile = join(dir, RUN_FILES.run);
  let record: { config?: unknown; imported?: unknown };
  try {
    record = JSON.parse(await Deno.readTextFile(runFile));
  } catch (err) {
    throw new Error(`${runFile}: cannot read the run record (${(err as Error).message}); is ${dir} a run folder?`);
  }
  let model: ModelConfig, name: string;
  let train: TrainConfig | null = null;
  let importedFrom: TorchSource | null = null;
  if (record.imported !== undefined) {
    const parsed = ImportedRun.safeParse(record);
    if (!parsed.success) throw new Error(formatZodError(parsed.error, runFile));
    model = parsed.data.config.model;
    name = parsed.data.name;
    importedFrom = parsed.data.imported.source;
  } else {
    train = parseTrainConfig(record.config, `${runFile}: config`);
    model = train.model;
    name = train.name;
  }
  const ckFile = join(dir, RUN_FILES.checkpoint);
  const ck = await readCheckpoint(ckFile);
  const tensors: KitTensors = new Map();
  for (const [key, t] of ck.tensors) {
    if (key.startsWith("model/")) tensors.set(key.slice(6), { shape: t.shape, data: t.data });
  }
  const w = ck.tensors.get("head/weight");
  const b = ck.tensors.get("head/bias");
  let head: KitHead | null = null;
  if (w) {
    if (w.shape.length !== 2 || w.shape[0] !== model.featDim) {
      throw new Error(`${ckFile}: head/weight is [${w.shape}], expected [${model.featDim}, classes]`);
    }
    head = { featDim: w.shape[0], numClasses: w.shape[1], weight: w.data, bias: b ? b.data : null };
  }
  const step = Number((ck.header.state as { step?: unknown }).step ?? 0) || 0;
  return { dir, name, model, train, importedFrom, tensors, head, step };
}

/** The source a run is written for when none is asked: its own, else OpenSphere main (ICLR for SFNet_deprecated). */
export function defaultSource(run: Pick<RunForExport, "importedFrom" | "model">): TorchSource {
  if (run.importedFrom) return run.importedFrom;
  return run.model.type === "sfnet" && run.model.block === "deprecated" ? "opensphere-iclr" : "opensphere";
}

export interface PytorchExport {
  files: string[];
  source: TorchSource;
  backbone: { tensors: number; model: string };
  head: { numClasses: number; file: string } | null;
}

/**
 * Writes a run folder's model as the source's PyTorch checkpoint at `out` (see the module comment), atomically
 * per file. Returns the files written.
 */
export async function exportPytorch(
  dir: string,
  options: { out: string; source?: TorchSource },
): Promise<PytorchExport> {
  const run = await readRunForExport(dir);
  const source = options.source ?? defaultSource(run);
  if (finalMapSize(run.model.inputSize) !== 7) {
    throw new Error(
      `${dir}: ${modelName(run.model)} takes ${run.model.inputSize}x${run.model.inputSize} inputs; the official ` +
        `modules flatten a 7x7 map into their FC (112x112 inputs), so they could not load it`,
    );
  }
  const backbone = kitTensorsToStateDict(run.tensors, run.model, source, { numBatchesTracked: run.step });
  const head: StateDict | null = run.head && source !== "insightface" ? kitHeadToStateDict(run.head, source) : null;
  const files: string[] = [options.out];
  let headFile: string | null = null;
  if (source === "opensphere" || source === "opensphere-iclr") {
    const root = new Map<string, StateDict>([["backbone", backbone]]);
    if (head) root.set("head", head);
    await writeTorchSave(options.out, root);
    if (head) headFile = options.out;
  } else {
    await writeTorchSave(options.out, backbone);
    if (head) {
      // OpenSphere_v0 saves backbone_N.pth and head_N.pth side by side.
      const base = basename(options.out);
      headFile = join(
        dirname(options.out),
        /^backbone/.test(base) ? base.replace(/^backbone/, "head") : base.replace(/(\.[^.]*)?$/, "_head$1"),
      );
      await writeTorchSave(headFile, head);
      files.push(headFile);
    }
  }
  return {
    files,
    source,
    backbone: { tensors: backbone.size, model: modelName(run.model) },
    head: run.head && headFile ? { numClasses: run.head.numClasses, file: headFile } : null,
  };
}

/**
 * Writes OpenSphere's YAML for a training config: `input` is a run folder (its `run.json` config) or a config
 * file (`configs/train/*.json`). Imported runs have no training config and are refused.
 */
export async function exportOpenSphereConfig(
  input: string,
  options: { out: string; branch?: OpenSphereBranch; numWorkers?: number; overrides?: readonly string[] },
): Promise<OpenSphereYaml & { out: string }> {
  let config: TrainConfig;
  const stat = await Deno.stat(input).catch(() => null);
  if (!stat) throw new Error(`${input}: no such run folder or config file`);
  if (stat.isDirectory) {
    const run = await readRunForExport(input);
    if (!run.train) {
      throw new Error(
        `${input}: an imported model has no training config; export a config file (configs/train/*.json) instead`,
      );
    }
    config = run.train;
  } else {
    config = await loadTrainConfig(input, options.overrides ?? []);
  }
  const result = toOpenSphereYaml(config, { branch: options.branch, numWorkers: options.numWorkers });
  await Deno.mkdir(dirname(options.out), { recursive: true });
  await writeTextFileAtomic(options.out, result.yaml);
  return { ...result, out: options.out };
}
