/**
 * Reads PyTorch checkpoints (`torch.save` files) without Python and without running any of their code:
 *
 * - the zip format (torch ≥ 1.6): `<stem>/data.pkl` plus one raw little-endian entry `<stem>/data/<key>` per
 *   storage (the stem is the saved file's name, so it is found, not assumed);
 * - the legacy format (`_use_new_zipfile_serialization=False`, torch < 1.6): five pickles back to back (magic
 *   number, protocol 1001, system info, the object, the sorted storage keys), then each storage as an int64
 *   element count and its raw bytes. Keys are C pointer addresses there, not 0, 1, 2, ….
 *
 * The pickles are read by the kit's one safe reader (`lib/data/pickle.ts`) with {@link TORCH_GLOBALS} as the
 * allow-list: `collections.OrderedDict`, the tensor/parameter rebuilders and the storage types. A file whose pickle
 * names anything else (`os.system`, `builtins.eval`, `subprocess.Popen`, a numpy scalar, a pickled module) is
 * refused with an {@link UnsafePickleError} naming the global and the file; nothing in the file is ever executed.
 *
 * Tensors come out contiguous (storage offset and strides applied), in their stored dtype (float32, float64,
 * float16 and bfloat16 as raw bits, int64, …), each with its own copy of the data, also when several tensors view
 * one storage.
 *
 * @example
 * ```ts
 * import { readTorchFile, stateDictAt } from "./torch_load.ts";
 * const ck = await readTorchFile("model_20000.pth");
 * const backbone = stateDictAt(ck, ["backbone"]); // Map<string, TorchTensor>
 * ```
 * @module
 */
import { DataError } from "../data/errors.ts";
import {
  type GlobalHandler,
  PickleDict,
  PickleGlobal,
  PickleObject,
  PickleTuple,
  type PickleValue,
  unpickleAt,
} from "../data/pickle.ts";
import { isZip, readZip } from "../fs/zip.ts";
import { numel, type StateDict, type TorchData, type TorchDType, type TorchTensor, typedArrayOf } from "./tensor.ts";

export { UnsafePickleError } from "../data/pickle.ts";

/** torch's legacy storage class names → dtype. */
export const STORAGE_DTYPES: Readonly<Record<string, TorchDType>> = {
  DoubleStorage: "float64",
  FloatStorage: "float32",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<TorchDType, number>> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A storage as a persistent id names it; `bytes` is filled when the file's storages are read. */
interface StorageRef {
  dtype: TorchDType;
  key: string;
  numel: number;
  bytes?: Uint8Array;
  /** Legacy storage views: element offset into the root storage. */
  viewOf?: { root: StorageRef; offset: number };
}

/** A tensor as `_rebuild_tensor_v2` describes it, materialised once storages are known. */
class TensorRef {
  tensor?: TorchTensor;
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

/** What a checkpoint file holds: its format and the unpickled object (tensors as {@link tensorOf} reads them). */
export interface TorchFile {
  file: string;
  format: "zip" | "legacy";
  root: PickleValue;
}

const ints = (v: PickleValue, what: string): number[] => {
  const items = v instanceof PickleTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => typeof x === "number" && Number.isInteger(x))) {
    throw new Error(`${what} must be a tuple of ints`);
  }
  return items as number[];
};

/** The allow-list: every global a state-dict checkpoint uses, and nothing that could act on the machine. */
function torchGlobals(refs: TensorRef[]): Map<string, GlobalHandler> {
  const g = new Map<string, GlobalHandler>();
  const orderedDict: GlobalHandler = (args) => {
    const d = new PickleDict();
    // OrderedDict(iterable of pairs) is allowed too; torch writes OrderedDict() and fills it with SETITEMS.
    const pairs = args[0];
    if (Array.isArray(pairs)) {
      for (const p of pairs) if (p instanceof PickleTuple && p.items.length === 2) d.map.set(p.items[0], p.items[1]);
    }
    return d;
  };
  g.set("collections.OrderedDict", orderedDict);
  const rebuildTensor: GlobalHandler = (args) => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof PickleObject) || storage.kind !== "storage") throw new Error("expected a storage");
    if (typeof offset !== "number") throw new Error("storage offset must be an int");
    const ref = new TensorRef(storage.value as StorageRef, offset, ints(size, "size"), ints(stride, "stride"));
    refs.push(ref);
    return new PickleObject("tensor", ref);
  };
  g.set("torch._utils._rebuild_tensor_v2", rebuildTensor);
  g.set("torch._utils._rebuild_tensor", rebuildTensor);
  // nn.Parameter: the tensor itself (requires_grad and hooks do not matter for weights).
  const rebuildParameter: GlobalHandler = (args) => {
    if (!(args[0] instanceof PickleObject) || args[0].kind !== "tensor") throw new Error("expected a tensor");
    return args[0];
  };
  g.set("torch._utils._rebuild_parameter", rebuildParameter);
  g.set("torch._utils._rebuild_parameter_with_state", rebuildParameter);
  for (const name of Object.keys(STORAGE_DTYPES)) {
    // Storage classes only appear inside persistent ids; calling one is not something a checkpoint does.
    g.set(`torch.${name}`, () => {
      throw new Error(`torch.${name} is not callable here`);
    });
  }
  return g;
}

const storageType = (v: PickleValue, file: string): TorchDType => {
  const name = v instanceof PickleGlobal ? v.name.replace(/^torch\./, "") : String(v);
  const dtype = STORAGE_DTYPES[name];
  if (!dtype) throw new DataError(file, `unsupported storage type ${name}`);
  return dtype;
};

/** Parses a persistent id `('storage', type, key, location, numel[, view_metadata])`. */
function storageFromPid(pid: PickleValue, file: string, storages: Map<string, StorageRef>): PickleValue {
  if (!(pid instanceof PickleTuple) || pid.items[0] !== "storage" || pid.items.length < 5) {
    const what = pid instanceof PickleTuple ? String(pid.items[0]) : typeof pid;
    throw new DataError(
      file,
      `refused: persistent id of kind ${what} (only storages are read; a pickled module's ` +
        `source code is not)`,
    );
  }
  const [, type, key, , count, view] = pid.items;
  if (typeof key !== "string" || typeof count !== "number") throw new DataError(file, "malformed storage id");
  const dtype = storageType(type, file);
  let root = storages.get(key);
  if (!root) storages.set(key, root = { dtype, key, numel: count });
  if (view instanceof PickleTuple) {
    // Legacy storage views: (view_key, offset, view_size) into the root storage.
    const [, offset, size] = view.items;
    return new PickleObject(
      "storage",
      {
        dtype,
        key,
        numel: Number(size),
        viewOf: { root, offset: Number(offset) },
      } satisfies StorageRef,
    );
  }
  return new PickleObject("storage", root);
}

/** Copies a (possibly strided, offset) view of a storage into a new contiguous tensor. */
function materialise(ref: TensorRef, file: string, name: string, typed: Map<StorageRef, TorchData>): TorchTensor {
  let storage = ref.storage;
  let base = ref.offset;
  if (storage.viewOf) {
    base += storage.viewOf.offset;
    storage = storage.viewOf.root;
  }
  if (!storage.bytes) throw new DataError(file, `${name}: storage ${storage.key} is missing from the file`);
  const { size, stride } = ref;
  if (size.length !== stride.length) throw new DataError(file, `${name}: size and stride differ in rank`);
  const n = numel(size);
  let last = base;
  for (let i = 0; i < size.length; i++) {
    if (size[i] < 0 || stride[i] < 0) throw new DataError(file, `${name}: negative size or stride`);
    if (size[i] > 0) last += (size[i] - 1) * stride[i];
  }
  const storageNumel = storage.bytes.length / DTYPE_BYTES[storage.dtype];
  if (n > 0 && (base < 0 || last >= storageNumel)) {
    throw new DataError(
      file,
      `${name}: view (offset ${base}, size [${size}], stride [${stride}]) reaches element ${last} of a storage of ` +
        `${storageNumel}`,
    );
  }
  let src = typed.get(storage);
  if (!src) {
    // One aligned copy per storage (zip entries are 64-byte aligned in the file, but the file's buffer may not be).
    src = typedArrayOf(storage.dtype, storage.bytes.slice().buffer);
    typed.set(storage, src);
  }
  const contiguous = size.every((_, i) => size[i] === 1 || stride[i] === numel(size.slice(i + 1)));
  let data: TorchData;
  if (contiguous) {
    data = src.slice(base, base + n) as TorchData;
  } else {
    data = typedArrayOf(storage.dtype, new ArrayBuffer(n * DTYPE_BYTES[storage.dtype]));
    const out = data as unknown as { [i: number]: number | bigint };
    const input = src as unknown as { [i: number]: number | bigint };
    const idx = new Array(size.length).fill(0);
    let at = base;
    for (let k = 0; k < n; k++) {
      out[k] = input[at];
      // Odometer over the indices, last axis fastest.
      for (let d = size.length - 1; d >= 0; d--) {
        idx[d]++;
        at += stride[d];
        if (idx[d] < size[d]) break;
        at -= idx[d] * stride[d];
        idx[d] = 0;
      }
    }
  }
  return { dtype: storage.dtype, shape: [...size], data };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Reads a checkpoint from bytes; `file` names it in every error. */
export async function readTorchBytes(bytes: Uint8Array, file: string): Promise<TorchFile> {
  const refs: TensorRef[] = [];
  const globals = torchGlobals(refs);
  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue) => storageFromPid(pid, file, storages);
  let root: PickleValue;
  let format: TorchFile["format"];
  if (isZip(bytes)) {
    format = "zip";
    const zip = readZip(bytes, file);
    const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) {
      throw new DataError(
        file,
        `expected one <name>/data.pkl in the zip, found ${pkls.length} (not a torch.save file?)`,
      );
    }
    const stem = pkls[0].slice(0, -"/data.pkl".length);
    const order = zip.entries.get(`${stem}/byteorder`);
    if (order && new TextDecoder().decode(await zip.read(order.name)).trim() !== "little") {
      throw new DataError(file, "big-endian checkpoints are not supported");
    }
    root = unpickleAt(await zip.read(pkls[0]), `${file}: ${pkls[0]}`, { globals, persistentLoad }).value;
    for (const s of storages.values()) {
      const entry = `${stem}/data/${s.key}`;
      if (!zip.entries.has(entry)) throw new DataError(file, `storage entry ${entry} is missing`);
      s.bytes = await zip.read(entry);
      if (s.bytes.length < s.numel * DTYPE_BYTES[s.dtype]) {
        throw new DataError(file, `${entry}: ${s.bytes.length} bytes for ${s.numel} ${s.dtype} elements`);
      }
    }
  } else {
    format = "legacy";
    const plain = new Map<string, GlobalHandler>();
    const magic = unpickleAt(bytes, file, { globals: plain });
    if (magic.value !== LEGACY_MAGIC && !(typeof magic.value === "bigint" && magic.value === LEGACY_MAGIC)) {
      throw new DataError(file, "neither a zip nor a legacy torch.save file (no magic number)");
    }
    const protocol = unpickleAt(bytes, file, { globals: plain, start: magic.end });
    if (protocol.value !== 1001) throw new DataError(file, `legacy protocol ${protocol.value}, expected 1001`);
    const info = unpickleAt(bytes, file, { globals: plain, start: protocol.end });
    if (info.value instanceof PickleDict && info.value.get("little_endian") === false) {
      throw new DataError(file, "big-endian checkpoints are not supported");
    }
    const obj = unpickleAt(bytes, file, { globals, persistentLoad, start: info.end });
    root = obj.value;
    const keys = unpickleAt(bytes, file, { globals: plain, start: obj.end });
    if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) {
      throw new DataError(file, "legacy storage key list is not a list of str");
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = keys.end;
    for (const key of keys.value as string[]) {
      const s = storages.get(key);
      if (!s) throw new DataError(file, `legacy storage ${key} is listed but no tensor uses it`);
      if (pos + 8 > bytes.length) throw new DataError(file, `truncated before storage ${key}`);
      const count = Number(view.getBigInt64(pos, true));
      const len = count * DTYPE_BYTES[s.dtype];
      pos += 8;
      if (pos + len > bytes.length) throw new DataError(file, `truncated in storage ${key}`);
      s.bytes = bytes.subarray(pos, pos + len);
      pos += len;
    }
  }
  const typed = new Map<StorageRef, TorchData>();
  for (const [i, ref] of refs.entries()) ref.tensor = materialise(ref, file, `tensor ${i}`, typed);
  return { file, format, root };
}

/** Reads a checkpoint file (errors name the path). */
export async function readTorchFile(path: string): Promise<TorchFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(path, "checkpoint not found");
    throw err;
  }
  return await readTorchBytes(bytes, path);
}

/** The tensor a value holds, if it is one. */
export function tensorOf(v: PickleValue | undefined): TorchTensor | undefined {
  return v instanceof PickleObject && v.kind === "tensor" ? (v.value as TensorRef).tensor : undefined;
}

/** Whether a value is a dict whose values are all tensors (a state dict). */
export function isStateDict(v: PickleValue | undefined): v is PickleDict {
  return v instanceof PickleDict && v.map.size > 0 && [...v.map.values()].every((x) => tensorOf(x) !== undefined);
}

/** The state dict at a key path of the root object (`[]`: the root itself), as a name → tensor Map in file order. */
export function stateDictAt(ck: TorchFile, path: readonly string[]): StateDict {
  let v: PickleValue | undefined = ck.root;
  for (const [i, k] of path.entries()) {
    if (!(v instanceof PickleDict)) {
      throw new DataError(ck.file, `no dict at ${path.slice(0, i).map((p) => `['${p}']`).join("") || "the top"}`);
    }
    v = v.get(k);
  }
  const where = path.map((p) => `['${p}']`).join("") || "the top level";
  if (!isStateDict(v)) throw new DataError(ck.file, `${where} is not a state dict (a dict of tensors)`);
  const out: StateDict = new Map();
  for (const [k, t] of v.map) out.set(String(k), tensorOf(t)!);
  return out;
}

/** The top-level keys of a checkpoint that is a dict (for messages). */
export function topLevelKeys(ck: TorchFile): string[] {
  return ck.root instanceof PickleDict ? [...ck.root.map.keys()].map(String) : [];
}
