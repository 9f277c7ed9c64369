/**
 * A PyTorch checkpoint → a kit run folder that `deno task eval` and `deno task embed` take like a trained one:
 * `run.json` (name, `imported`: file, SHA-256, format, source, where the backbone was and the prefix stripped;
 * the model config; the preprocessing the source trained with) and `checkpoint.sf2` (the backbone as `model/…`,
 * the head as `head/weight` (d×K) and `head/bias` when the file has one). Written atomically: a failure leaves
 * nothing at the target.
 *
 * @example
 * ```ts
 * import { importCheckpoint } from "./import.ts";
 * const r = await importCheckpoint("model_20000.pth", { source: "opensphere", out: "results/import/sf20" });
 * r.config; // { type: "sfnet", depth: 20, … }
 * ```
 * @module
 */
import { basename } from "node:path";
import { DataError } from "../data/errors.ts";
import { KIT_PREPROCESS, type Preprocess } from "../data/preprocess.ts";
import { sha256Hex } from "../fs/sha256.ts";
import type { ModelConfig } from "../models/config.ts";
import { modelName } from "../models/config.ts";
import { countModelParams } from "../models/registry.ts";
import { runMetadata } from "../fs/metadata.ts";
import { formatJson, writeDirAtomic, writeFileIn } from "../fs/write.ts";
import { encodeCheckpoint, type NamedArray } from "../train/checkpoint.ts";
import { RUN_FILES } from "../train/loop.ts";
import { findBackbone, headToKit, type KitHead, stateDictToKit, type TorchSource } from "./mapping.ts";
import { readTorchBytes } from "./torch_load.ts";

/** What `--source` accepts: a family (the branch is then recognised from the layout) or a branch. */
export type ImportSource = "opensphere" | "insightface" | TorchSource;

/** The preprocessing each source trains with (PROVENANCE-backbones.md, "Preprocessing"). */
export const SOURCE_PREPROCESS: Readonly<Record<TorchSource, Preprocess>> = {
  "opensphere": { ...KIT_PREPROCESS, source: "OpenSphere image_pipeline: BGR→RGB, (v − 127.5) / 127.5" },
  "opensphere-iclr": { ...KIT_PREPROCESS, source: "OpenSphere image_pipeline: BGR→RGB, (v − 127.5) / 127.5" },
  "opensphere-v0": { ...KIT_PREPROCESS, source: "OpenSphere image_pipeline: BGR→RGB, (v − 127.5) / 127.5" },
  "insightface": { ...KIT_PREPROCESS, source: "insightface: BGR2RGB, ((v / 255) − 0.5) / 0.5" },
};

export interface ImportOptions {
  source: ImportSource;
  /** Config fields that override the inferred ones (e.g. `{ block: "deprecated" }`). */
  model?: Record<string, unknown>;
  out: string;
  /** Run name; default the file's name without extension, prefixed with the source. */
  name?: string;
}

export interface ImportResult {
  out: string;
  name: string;
  config: ModelConfig;
  source: TorchSource;
  format: "zip" | "legacy";
  tensors: number;
  parameters: number;
  head: { numClasses: number } | null;
}

/** The branch a checkpoint comes from, given the family and how the file is laid out. */
export function resolveSource(source: ImportSource, at: readonly string[], prefix: string): TorchSource {
  if (source !== "opensphere") return source;
  if (prefix === "module.") return at.length ? "opensphere-iclr" : "opensphere-v0";
  return "opensphere";
}

/** Reads, maps and writes; see the module comment. */
export async function importCheckpoint(file: string, options: ImportOptions): Promise<ImportResult> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(file, "checkpoint not found");
    throw err;
  }
  const ck = await readTorchBytes(bytes, file);
  const found = findBackbone(ck);
  const source = resolveSource(options.source, found.at, found.prefix);
  const { config, tensors } = stateDictToKit(found.stateDict, { source, model: options.model, file });
  if (source === "insightface" && config.type !== "iresnet") {
    throw new DataError(file, `insightface checkpoints are IResNets; this one maps to ${modelName(config)}`);
  }
  let head: KitHead | null = null;
  if (found.head) head = headToKit(found.head, config.featDim, source, `${file} ['head']`);
  const arrays: NamedArray[] = [...tensors].map(([name, t]) => ({
    name: `model/${name}`,
    shape: t.shape,
    data: t.data,
  }));
  if (head) {
    arrays.push({ name: "head/weight", shape: [head.featDim, head.numClasses], data: head.weight });
    if (head.bias) arrays.push({ name: "head/bias", shape: [head.bias.length], data: head.bias });
  }
  const stem = basename(file).replace(/\.[^.]+$/, "");
  const name = options.name ?? `${source}-${stem}`.replace(/[^A-Za-z0-9._-]+/g, "_");
  const meta = await runMetadata({});
  const count = countModelParams(config);
  const record = {
    name,
    imported: {
      file,
      sha256: await sha256Hex(bytes),
      bytes: bytes.length,
      format: ck.format,
      source,
      backboneAt: found.at,
      keyPrefix: found.prefix,
      date: meta.date,
      kitCommit: meta.kitCommit,
    },
    config: { model: config },
    preprocess: SOURCE_PREPROCESS[source],
    model: { name: modelName(config), ...count },
    head: head ? { numClasses: head.numClasses, layout: "d×K", bias: head.bias?.length ?? 0 } : null,
  };
  const checkpoint = await encodeCheckpoint({ step: 0, imported: true }, arrays);
  await writeDirAtomic(options.out, async (dir) => {
    await writeFileIn(dir, RUN_FILES.run, formatJson(record));
    await writeFileIn(dir, RUN_FILES.checkpoint, checkpoint);
  });
  return {
    out: options.out,
    name,
    config,
    source,
    format: ck.format,
    tensors: found.stateDict.size,
    parameters: count.total,
    head: head ? { numClasses: head.numClasses } : null,
  };
}
