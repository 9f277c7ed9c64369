/**
 * PyTorch state dicts ↔ the kit's backbones and heads, both directions, for OpenSphere (main, SphereFace2_ICLR21,
 * OpenSphere_v0) and insightface's arcface_torch. One name table per architecture drives both directions:
 *
 * | PyTorch (prefix `module.` stripped) | kit |
 * |---|---|
 * | SFNet `layerS.0.conv1` (ICLR SFNet_deprecated: `layerS.0.conv`), `layerS.0.bn1` | `stageS.conv`, `stageS.bn` |
 * | SFNet `layerS.b.conv{1,2}`, `layerS.b.bn{1,2}` (b ≥ 1) | `stageS.block{b}.conv{1,2}`, `.bn{1,2}` |
 * | IResNet `conv1`, `bn1`, `prelu`, `bn2` | `stem.conv`, `stem.bn`, `stem.prelu`, `bn` |
 * | IResNet `layerS.b.{bn1,conv1,bn2,prelu,conv2,bn3}`, `layerS.0.downsample.{0,1}` | `stageS.block{b+1}.…`, `.shortcut.{conv,bn}` |
 * | `fc`, `features`; BN `running_mean`/`running_var` | `fc`, `features`; `runningMean`/`runningVar` |
 *
 * Layouts (tests/golden/PROVENANCE-backbones.md, "What the kit must do"): conv weights OIHW ↔ HWIO; the FC weight
 * `[out, C·H·W]` ↔ `[H·W·C, out]` (transposed, rows permuted from PyTorch's C,H,W flatten to the kit's H,W,C);
 * 1-D tensors as they are; `num_batches_tracked` is dropped on import and written as int64 on export. Heads: the
 * class centres are d×K in the kit, OpenSphere v0/ICLR; K×d in OpenSphere main (`w`), with `b` the shared bias.
 *
 * Depth, width, embedding size and input size are inferred from the shapes; a state dict that does not fit the
 * inferred (or given) architecture is refused with every missing, unexpected and mis-shaped key named in one
 * error.
 *
 * @example
 * ```ts
 * import { readTorchFile } from "./torch_load.ts";
 * import { findBackbone, kitToStateDict, stateDictToKit } from "./mapping.ts";
 * import type { Model } from "../models/registry.ts";
 * declare const model: Model;
 * const ck = await readTorchFile("model_20000.pth");
 * const { stateDict } = findBackbone(ck);
 * const { config, tensors } = stateDictToKit(stateDict, { source: "opensphere", file: ck.file });
 * // … createModel(config) and loadKitTensors(model, tensors); back out again:
 * const sd = kitToStateDict(model, "opensphere");
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DataError } from "../data/errors.ts";
import {
  finalMapSize,
  IRESNET_BLOCKS,
  type ModelConfig,
  modelName,
  parseModelConfig,
  SFNET_BLOCKS,
  stageChannels,
} from "../models/config.ts";
import type { Model } from "../models/registry.ts";
import { modelSpecs } from "../models/registry.ts";
import { numel, type StateDict, toFloat32, type TorchTensor } from "./tensor.ts";
import { stateDictAt, topLevelKeys, type TorchFile } from "./torch_load.ts";
import { PickleDict } from "../data/pickle.ts";

/**
 * Where a checkpoint comes from, which fixes its key names, prefix and container:
 * - `opensphere` (main): `{backbone, head}`, no prefix, head `w` K×d;
 * - `opensphere-iclr` (SphereFace2_ICLR21): `{backbone, head}`, keys prefixed `module.`, SFNet_deprecated stage
 *   conv named `layerS.0.conv`, head `w` d×K;
 * - `opensphere-v0`: one flat state dict per file, prefixed `module.`, head `w` d×K;
 * - `insightface` (arcface_torch): a flat state dict, no prefix (IResNet only).
 */
export type TorchSource = "opensphere" | "opensphere-iclr" | "opensphere-v0" | "insightface";
export const TORCH_SOURCES: readonly TorchSource[] = ["opensphere", "opensphere-iclr", "opensphere-v0", "insightface"];

/** How each source saves (used by export; import finds the layout itself). */
export const SOURCE_LAYOUT: Readonly<
  Record<TorchSource, { container: "dict" | "state_dict"; keyPrefix: string; headLayout: "dK" | "Kd" }>
> = {
  "opensphere": { container: "dict", keyPrefix: "", headLayout: "Kd" },
  "opensphere-iclr": { container: "dict", keyPrefix: "module.", headLayout: "dK" },
  "opensphere-v0": { container: "state_dict", keyPrefix: "module.", headLayout: "dK" },
  "insightface": { container: "state_dict", keyPrefix: "", headLayout: "dK" },
};

/** A kit tensor as plain data: kit name → shape (kit layout) and float32 values. */
export interface KitArray {
  shape: number[];
  data: Float32Array;
}
export type KitTensors = Map<string, KitArray>;

/** How one kit tensor maps onto one PyTorch tensor. */
interface Entry {
  kit: string;
  torch: string;
  kind: "conv" | "fc" | "copy";
  /** Kit shape. */
  shape: number[];
}

/** One row per PyTorch key in PyTorch's state-dict order; `nbt` rows are the BN `num_batches_tracked` buffers. */
type Row = { entry: Entry } | { nbt: string };

const BN_SUFFIX: Record<string, string> = {
  weight: "weight",
  bias: "bias",
  runningMean: "running_mean",
  runningVar: "running_var",
};

/**
 * The name table of a config: kit spec order, renamed, with `num_batches_tracked` after each BN's running_var, and
 * SFNet-with-BN's `features` first (sfnet.py assigns `self.features` before `layer1`).
 */
function nameTable(config: ModelConfig, stageConv: "conv" | "conv1"): Row[] {
  const rows: Row[] = [];
  const rename = (kit: string): string => {
    const parts = kit.split(".");
    const leaf = parts.pop()!;
    const mod = parts.join(".");
    let t: string;
    if (config.type === "sfnet") {
      const m = /^stage(\d)\.(conv|bn|block(\d+)\.(conv[12]|bn[12]))$/.exec(mod);
      if (m) {
        if (m[2] === "conv") t = `layer${m[1]}.0.${stageConv}`;
        else if (m[2] === "bn") t = `layer${m[1]}.0.bn1`;
        else t = `layer${m[1]}.${m[3]}.${m[4]}`;
      } else t = mod; // fc, features
    } else {
      const stem: Record<string, string> = { "stem.conv": "conv1", "stem.bn": "bn1", "stem.prelu": "prelu", bn: "bn2" };
      const m = /^stage(\d)\.block(\d+)\.(.+)$/.exec(mod);
      if (stem[mod]) t = stem[mod];
      else if (m) {
        const layer = `layer${m[1]}.${Number(m[2]) - 1}`;
        t = m[3] === "shortcut.conv"
          ? `${layer}.downsample.0`
          : m[3] === "shortcut.bn"
          ? `${layer}.downsample.1`
          : `${layer}.${m[3]}`;
      } else t = mod; // fc, features
    }
    return `${t}.${BN_SUFFIX[leaf] ?? leaf}`;
  };
  for (const spec of modelSpecs(config)) {
    const torch = rename(spec.name);
    const kind = spec.shape.length === 4 ? "conv" : spec.name === "fc.weight" ? "fc" : "copy";
    rows.push({ entry: { kit: spec.name, torch, kind, shape: spec.shape } });
    if (spec.name.endsWith(".runningVar")) rows.push({ nbt: torch.replace(/running_var$/, "num_batches_tracked") });
  }
  if (config.type === "sfnet" && config.bn) {
    const isFeatures = (r: Row) => ("entry" in r ? r.entry.torch : r.nbt).startsWith("features.");
    return [...rows.filter(isFeatures), ...rows.filter((r) => !isFeatures(r))];
  }
  return rows;
}

/**
 * PyTorch key (no prefix) → kit name, for every tensor of a config (BN buffers included, `num_batches_tracked`
 * not). `stageConv` is `conv` for SphereFace2_ICLR21's SFNet_deprecated, `conv1` otherwise.
 */
export function torchNameMap(config: ModelConfig, stageConv: "conv" | "conv1" = "conv1"): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of nameTable(config, stageConv)) if ("entry" in r) out.set(r.entry.torch, r.entry.kit);
  return out;
}

/** PyTorch shape of a kit tensor. */
function torchShape(e: Entry): number[] {
  if (e.kind === "conv") {
    const [h, w, i, o] = e.shape;
    return [o, i, h, w];
  }
  if (e.kind === "fc") return [e.shape[1], e.shape[0]];
  return e.shape;
}

/** Conv OIHW → HWIO. */
export function oihwToHwio(data: Float32Array, [o, i, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) out[((y * w + x) * i + b) * o + a] = data[((a * i + b) * h + y) * w + x];
      }
    }
  }
  return out;
}

/** Conv HWIO → OIHW. */
export function hwioToOihw(data: Float32Array, [h, w, i, o]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) out[((a * i + b) * h + y) * w + x] = data[((y * w + x) * i + b) * o + a];
      }
    }
  }
  return out;
}

/**
 * PyTorch FC weight `[out, C·side·side]` (columns in C,H,W order) → kit `[side·side·C, out]` (rows in H,W,C order).
 */
export function torchFcToKit(data: Float32Array, out: number, c: number, side: number): Float32Array {
  const hw = side * side;
  const res = new Float32Array(data.length);
  for (let o = 0; o < out; o++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < hw; p++) res[(p * c + ch) * out + o] = data[o * c * hw + ch * hw + p];
    }
  }
  return res;
}

/** Kit FC weight `[side·side·C, out]` → PyTorch `[out, C·side·side]`. */
export function kitFcToTorch(data: Float32Array, out: number, c: number, side: number): Float32Array {
  const hw = side * side;
  const res = new Float32Array(data.length);
  for (let o = 0; o < out; o++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < hw; p++) res[o * c * hw + ch * hw + p] = data[(p * c + ch) * out + o];
    }
  }
  return res;
}

const lastChannels = (config: ModelConfig) => stageChannels(config.width)[3];

/** Where the backbone sits in a checkpoint, with the prefix stripped and `num_batches_tracked` kept. */
export interface FoundBackbone {
  stateDict: StateDict;
  /** Key path of the state dict in the file (`["backbone"]`, `[]`, …). */
  at: string[];
  /** The prefix stripped from every key (`module.` under DataParallel/DDP), or "". */
  prefix: string;
  /** The head's state dict when the file has one (`{backbone, head}`), prefix stripped. */
  head?: StateDict;
}

const stripPrefix = (sd: StateDict): { sd: StateDict; prefix: string } => {
  const keys = [...sd.keys()];
  if (keys.length && keys.every((k) => k.startsWith("module."))) {
    return { sd: new Map([...sd].map(([k, t]) => [k.slice("module.".length), t])), prefix: "module." };
  }
  return { sd, prefix: "" };
};

/**
 * Finds the backbone of a checkpoint: `obj['backbone']` (OpenSphere main and ICLR), `obj['model']['backbone']`
 * (main's resume files), `obj['state_dict']`, or the file itself when it is a state dict (OpenSphere v0,
 * insightface). Strips a `module.` prefix present on every key.
 */
export function findBackbone(ck: TorchFile): FoundBackbone {
  const root = ck.root;
  const candidates: string[][] = [["backbone"], ["model", "backbone"], ["state_dict"], []];
  for (const at of candidates) {
    let v: unknown = root;
    for (const k of at) v = v instanceof PickleDict ? v.get(k) : undefined;
    if (!(v instanceof PickleDict)) continue;
    let sd: StateDict;
    try {
      sd = stateDictAt(ck, at);
    } catch {
      continue;
    }
    const { sd: stripped, prefix } = stripPrefix(sd);
    const found: FoundBackbone = { stateDict: stripped, at, prefix };
    const headAt = at.length ? [...at.slice(0, -1), "head"] : null;
    if (headAt) {
      try {
        found.head = stripPrefix(stateDictAt(ck, headAt)).sd;
      } catch { /* no head beside the backbone */ }
    }
    return found;
  }
  throw new DataError(
    ck.file,
    `no backbone state dict found (looked at ['backbone'], ['model']['backbone'], ['state_dict'] and the top ` +
      `level; top-level keys: ${topLevelKeys(ck).slice(0, 10).join(", ") || "none (not a dict)"})`,
  );
}

const weightKeys = (sd: StateDict) => [...sd.keys()].filter((k) => !k.endsWith("num_batches_tracked"));

/** Options for {@link inferModelConfig} / {@link stateDictToKit}. */
export interface ImportOptions {
  source: TorchSource | "opensphere-any";
  /** Fields that override the inferred config (e.g. `{ block: "deprecated" }` for an OpenSphere_v0 SFNet_deprecated). */
  model?: Record<string, unknown>;
  /** Names the file in errors. */
  file?: string;
}

/**
 * Infers the kit config of a backbone state dict (prefix stripped) from its keys and shapes: architecture, depth
 * (blocks per stage), width (stage channels / 64…512), embedding size, input size (the FC's input), BN and the
 * SFNet block form (`layerS.0.conv` is SFNet_deprecated; BN only exists in sfnet.py; a BN-free `layerS.0.conv1`
 * net is taken as sfnet.py — OpenSphere_v0's SFNet_deprecated needs `model: { block: "deprecated" }`).
 */
export function inferModelConfig(sd: StateDict, options: ImportOptions): ModelConfig {
  const file = options.file ?? "state dict";
  const shape = (k: string) => sd.get(k)?.shape;
  const fail = (what: string): never => {
    throw new DataError(file, `cannot infer the architecture: ${what}`);
  };
  const isIResNet = sd.has("conv1.weight") && sd.has("prelu.weight");
  const deprecatedNames = sd.has("layer1.0.conv.weight");
  const isSfnet = !isIResNet && (deprecatedNames || sd.has("layer1.0.conv1.weight"));
  if (!isIResNet && !isSfnet) {
    fail(
      `neither an IResNet (conv1, prelu) nor an SFNet (layer1.0.conv1 / layer1.0.conv); first keys: ${
        weightKeys(sd).slice(0, 6).join(", ")
      }`,
    );
  }
  const fcw = shape("fc.weight");
  if (!fcw || fcw.length !== 2) return fail("no 2-D fc.weight");
  const featDim = fcw[0];
  const blocks = [1, 2, 3, 4].map((s) => {
    const idx = new Set<number>();
    for (const k of sd.keys()) {
      const m = new RegExp(`^layer${s}\\.(\\d+)\\.`).exec(k);
      if (m) idx.add(Number(m[1]));
    }
    return idx.size ? Math.max(...idx) + (isIResNet ? 1 : 0) : -1;
  });
  const channels = [1, 2, 3, 4].map((s) => {
    const k = isIResNet ? `layer${s}.0.conv1.weight` : `layer${s}.0.${deprecatedNames ? "conv" : "conv1"}.weight`;
    return shape(k)?.[0] ?? fail(`no ${k}`);
  });
  const table = isIResNet ? IRESNET_BLOCKS : SFNET_BLOCKS;
  const depth = Object.entries(table).find(([, b]) => b.join() === blocks.join())?.[0];
  if (!depth) {
    fail(
      `blocks per stage [${blocks}] match no ${isIResNet ? "IResNet" : "SFNet"} depth (${
        Object.entries(table).map(([d, b]) => `${d}: [${b}]`).join("; ")
      })`,
    );
  }
  const width = channels[0] / 64;
  if (stageChannels(width).join() !== channels.join()) {
    fail(`stage widths [${channels}] are not 64/128/256/512 × one width (the kit rounds 64·w, 128·w, …)`);
  }
  const area = fcw[1] / channels[3];
  const side = Math.round(Math.sqrt(area));
  if (side * side !== area) fail(`fc.weight input ${fcw[1]} is not ${channels[3]}·side²`);
  const inputSize = 16 * side;
  const bn = isIResNet || sd.has("layer1.0.bn1.weight");
  let config: Record<string, unknown>;
  if (isIResNet) {
    const fw = sd.get("features.weight");
    // insightface and v0 freeze the final BN1d weight at 1; OpenSphere main trains it.
    const frozenAtOne = fw !== undefined && toFloat32(fw).every((v) => v === 1);
    const variant = options.source === "insightface" || options.source === "opensphere-v0" ||
        (options.source !== "opensphere" && frozenAtOne)
      ? "v0"
      : "main";
    config = { type: "iresnet", depth: Number(depth), variant, width, inputSize, featDim };
  } else {
    const block = deprecatedNames ? "deprecated" : "sfnet";
    const init = deprecatedNames ? "iclr" : block === "sfnet" ? "kaiming" : "v0";
    config = { type: "sfnet", depth: Number(depth), block, bn, init, width, inputSize, featDim };
    if (bn) config.finalBnWeight = options.source === "opensphere-v0" ? 1 : 0.1;
  }
  return parseModelConfig({ ...config, ...options.model }, `${file}: model`);
}

/**
 * Maps a backbone state dict (prefix stripped) onto kit tensors for `config`. Every expected key must be present
 * with its shape and nothing else may be (`num_batches_tracked` aside); otherwise one error lists them all.
 */
export function torchToKit(sd: StateDict, config: ModelConfig, file = "state dict"): KitTensors {
  const stageConv = sd.has("layer1.0.conv.weight") ? "conv" : "conv1";
  const rows = nameTable(config, stageConv);
  const missing: string[] = [];
  const misshaped: string[] = [];
  const expected = new Set<string>();
  const out: KitTensors = new Map();
  const side = finalMapSize(config.inputSize);
  for (const r of rows) {
    if (!("entry" in r)) continue;
    const e = r.entry;
    expected.add(e.torch);
    const t = sd.get(e.torch);
    const want = torchShape(e);
    if (!t) {
      missing.push(e.torch);
      continue;
    }
    if (t.shape.join() !== want.join()) {
      misshaped.push(`${e.torch} [${t.shape}] (expected [${want}])`);
      continue;
    }
    const v = toFloat32(t);
    const data = e.kind === "conv"
      ? oihwToHwio(v, t.shape)
      : e.kind === "fc"
      ? torchFcToKit(v, t.shape[0], lastChannels(config), side)
      : v;
    out.set(e.kit, { shape: e.shape, data });
  }
  const unexpected = [...sd.keys()].filter((k) => !expected.has(k) && !k.endsWith("num_batches_tracked"));
  if (missing.length || unexpected.length || misshaped.length) {
    const parts = [
      missing.length ? `missing ${missing.length}: ${missing.join(", ")}` : "",
      unexpected.length ? `unexpected ${unexpected.length}: ${unexpected.join(", ")}` : "",
      misshaped.length ? `wrong shape ${misshaped.length}: ${misshaped.join(", ")}` : "",
    ].filter(Boolean);
    throw new DataError(file, `the state dict does not fit ${modelName(config)}: ${parts.join("; ")}`);
  }
  return out;
}

/** Infers the config (unless given) and maps the tensors: the import direction in one call. */
export function stateDictToKit(
  sd: StateDict,
  options: ImportOptions & { config?: ModelConfig },
): { config: ModelConfig; tensors: KitTensors } {
  const config = options.config ?? inferModelConfig(sd, options);
  return { config, tensors: torchToKit(sd, config, options.file) };
}

/**
 * Kit tensors → a PyTorch backbone state dict in the source's key names, order and layouts (float32; BN
 * `num_batches_tracked` int64 0-d, `numBatchesTracked` or 0). `keyPrefix` defaults to the source's (`module.`
 * for ICLR and v0).
 */
export function kitTensorsToStateDict(
  tensors: KitTensors,
  config: ModelConfig,
  source: TorchSource,
  options: { keyPrefix?: string; numBatchesTracked?: number } = {},
): StateDict {
  if (source === "insightface" && config.type !== "iresnet") {
    throw new Error(`insightface has no ${modelName(config)}: only IResNets can be written for it`);
  }
  if (source === "opensphere" && config.type === "sfnet" && config.block === "deprecated") {
    throw new Error(
      `OpenSphere main has no SFNet_deprecated (block "deprecated"): write it for opensphere-iclr or opensphere-v0`,
    );
  }
  if (source === "opensphere-v0" && config.type === "sfnet" && config.block === "deprecated" && config.bn) {
    throw new Error("OpenSphere_v0's SFNet_deprecated has no BN");
  }
  const stageConv = source === "opensphere-iclr" && config.type === "sfnet" && config.block === "deprecated"
    ? "conv"
    : "conv1";
  const prefix = options.keyPrefix ?? SOURCE_LAYOUT[source].keyPrefix;
  const side = finalMapSize(config.inputSize);
  const sd: StateDict = new Map();
  for (const r of nameTable(config, stageConv)) {
    if (!("entry" in r)) {
      sd.set(prefix + r.nbt, {
        dtype: "int64",
        shape: [],
        data: BigInt64Array.of(BigInt(options.numBatchesTracked ?? 0)),
      });
      continue;
    }
    const e = r.entry;
    const t = tensors.get(e.kit);
    if (!t) throw new Error(`${modelName(config)}: no tensor ${e.kit}`);
    if (t.shape.join() !== e.shape.join()) {
      throw new Error(`${modelName(config)}: ${e.kit} has shape [${t.shape}], expected [${e.shape}]`);
    }
    const data = e.kind === "conv"
      ? hwioToOihw(t.data, t.shape)
      : e.kind === "fc"
      ? kitFcToTorch(t.data, t.shape[1], lastChannels(config), side)
      : Float32Array.from(t.data);
    sd.set(prefix + e.torch, { dtype: "float32", shape: torchShape(e), data });
  }
  return sd;
}

/** Every tensor of a model (parameters and BN buffers) as plain arrays, by kit name. */
export function modelTensors(model: Model): KitTensors {
  const out: KitTensors = new Map();
  for (const [name, v] of model.variables) out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  return out;
}

/** A model's backbone as a PyTorch state dict for `source` (see {@link kitTensorsToStateDict}). */
export function kitToStateDict(
  model: Model,
  source: TorchSource,
  options: { keyPrefix?: string; numBatchesTracked?: number } = {},
): StateDict {
  return kitTensorsToStateDict(modelTensors(model), model.config, source, options);
}

/** Assigns kit tensors to a model's variables (every variable must be given, with its shape). */
export function loadKitTensors(model: Model, tensors: KitTensors, source = "tensors"): void {
  for (const [name, variable] of model.variables) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${source}: no tensor for ${name}`);
    if (t.shape.join() !== variable.shape.join()) {
      throw new Error(`${source}: ${name} has shape [${t.shape}], the model expects [${variable.shape}]`);
    }
    const value = tf.tensor(t.data, t.shape, "float32");
    variable.assign(value);
    value.dispose();
  }
}

/** A head's class centres (kit layout d×K) and bias, as plain arrays. */
export interface KitHead {
  featDim: number;
  numClasses: number;
  /** d×K, row-major. */
  weight: Float32Array;
  /** `[1]` (SphereFace2), `[K]` (Softmax v0/ICLR) or null. */
  bias: Float32Array | null;
}

/**
 * A head's state dict (prefix stripped; `w`, optional `b`) → kit layout. The class-centre matrix is d×K in v0/ICLR
 * and K×d in main; the orientation is taken from `featDim` when only one axis matches it, else from the source.
 */
export function headToKit(sd: StateDict, featDim: number, source: TorchSource, file = "head"): KitHead {
  const w = sd.get("w") ?? sd.get("weight");
  if (!w || w.shape.length !== 2) {
    throw new DataError(file, `head: expected a 2-D 'w', found ${[...sd.keys()].join(", ") || "nothing"}`);
  }
  const [r, c] = w.shape;
  const kd = r !== featDim && c === featDim
    ? true
    : r === featDim && c !== featDim
    ? false
    : r === featDim && c === featDim
    ? SOURCE_LAYOUT[source].headLayout === "Kd"
    : null;
  if (kd === null) throw new DataError(file, `head: w is [${w.shape}], neither axis is the embedding size ${featDim}`);
  const v = toFloat32(w);
  const k = kd ? r : c;
  const weight = kd ? transpose(v, r, c) : v;
  const b = sd.get("b") ?? sd.get("bias");
  const bias = b ? toFloat32(b) : null;
  if (bias && bias.length !== 1 && bias.length !== k) {
    throw new DataError(file, `head: b has ${bias.length} values, expected 1 or ${k}`);
  }
  const unexpected = [...sd.keys()].filter((x) => !["w", "weight", "b", "bias"].includes(x));
  if (unexpected.length) throw new DataError(file, `head: unexpected ${unexpected.join(", ")}`);
  return { featDim, numClasses: k, weight, bias };
}

/** Kit head → `{w, b}` in the source's layout (K×d for OpenSphere main, d×K otherwise; softmax bias as `[1, K]`). */
export function kitHeadToStateDict(head: KitHead, source: TorchSource, keyPrefix = SOURCE_LAYOUT[source].keyPrefix) {
  const sd: StateDict = new Map();
  const kd = SOURCE_LAYOUT[source].headLayout === "Kd";
  const { featDim: d, numClasses: k } = head;
  sd.set(keyPrefix + "w", {
    dtype: "float32",
    shape: kd ? [k, d] : [d, k],
    data: kd ? transpose(head.weight, d, k) : Float32Array.from(head.weight),
  });
  if (head.bias) {
    sd.set(keyPrefix + "b", {
      dtype: "float32",
      shape: head.bias.length === 1 ? [1] : [1, head.bias.length],
      data: Float32Array.from(head.bias),
    });
  }
  return sd;
}

function transpose(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = v[i * cols + j];
  return out;
}

/** Tensor count and element count of a state dict (for summaries). */
export function stateDictSize(sd: StateDict): { tensors: number; elements: number } {
  let elements = 0;
  for (const t of sd.values()) elements += numel(t.shape);
  return { tensors: sd.size, elements };
}

export type { TorchTensor };
