/**
 * Writing PyTorch checkpoints: state dicts as the zip-format file `torch.save` writes (torch ≥ 1.6), so that
 * `torch.load` reads them and the official modules take them with `load_state_dict(strict=True)`.
 *
 * The bytes follow torch 1.13's writer exactly (the version the golden files were made with), so that a state dict
 * with the same tensors and `_metadata` gives the same file, byte for byte (the tests check this on every golden
 * checkpoint):
 * - the pickle (`<stem>/data.pkl`, protocol 2) is what CPython's C pickler emits for torch's objects: GLOBALs
 *   `collections OrderedDict`, `torch._utils _rebuild_tensor_v2` and `torch <Type>Storage`; persistent ids
 *   `('storage', <Type>Storage, '<key>', 'cpu', numel)`; memo entries (BINPUT/BINGET) where CPython would share an
 *   object (interned and one-character strings, globals) and fresh ones elsewhere; SETITEM/SETITEMS batches of 1000;
 * - each state dict is an OrderedDict whose `_metadata` (module prefix → `{'version': n}`) is set by BUILD, as
 *   `nn.Module.state_dict()` leaves it. `load_state_dict` reads it only for BatchNorm's version (≥ 2 means
 *   `num_batches_tracked` is expected), so the inferred form (every key's module prefixes, version 2 for modules with
 *   `running_mean`) loads the same as torch's own, which also lists modules without parameters;
 * - the zip is miniz's as torch configures it: stored entries `<stem>/data.pkl`, `<stem>/data/<key>` (keys sorted as
 *   strings), `<stem>/version` (`3\n`), each local header padded with an `FB` extra field so that the data starts on a
 *   64-byte boundary (torch.load maps storages in place), data descriptors, and zip64 end records.
 *
 * Every tensor gets its own storage, contiguous, offset 0 (as `torch.save(model.state_dict())` of an ordinary model).
 *
 * @example
 * ```ts
 * import { encodeTorchSave, writeTorchSave } from "./torch_save.ts";
 * const sd = new Map([["fc.weight", { dtype: "float32" as const, shape: [2, 3], data: new Float32Array(6) }]]);
 * const bytes = encodeTorchSave(sd, { archiveName: "model" });                  // torch.save(sd, "model.pth")
 * await writeTorchSave("out/model_20000.pth", new Map([["backbone", sd], ["head", new Map()]])); // OpenSphere main
 * ```
 * @module
 */
import { writeFileAtomic } from "../train/checkpoint.ts";
import { numel, type StateDict, type TorchDType, type TorchTensor } from "./tensor.ts";

/** Module prefix → version, torch's `state_dict._metadata` (`{prefix: {'version': n}}`), in module order. */
export type ModuleVersions = Map<string, number>;

/** What a file holds: one state dict, or a plain dict of state dicts (OpenSphere main: `{backbone, head}`). */
export type TorchSaveRoot = StateDict | Map<string, StateDict>;

export interface TorchSaveOptions {
  /**
   * The zip's folder name; torch uses the file name without its extension. `writeTorchSave` derives it from the
   * path. Default `archive` (torch's name when saving to a buffer).
   */
  archiveName?: string;
  /**
   * Each state dict's `_metadata`, given its top-level name (`""` for a flat file). Default: inferred from the keys
   * (`inferModuleVersions`). Return null for none (a plain OrderedDict without `_metadata`).
   */
  metadata?: (name: string, sd: StateDict) => ModuleVersions | null;
  /** Write the state dicts as plain dicts (`torch.save({k: t for ...})`) rather than OrderedDicts. */
  plainDict?: boolean;
}

/** torch's storage class per dtype, and bytes per element. */
const STORAGE: Record<TorchDType, { name: string; bytes: number; array: string }> = {
  float64: { name: "DoubleStorage", bytes: 8, array: "Float64Array" },
  float32: { name: "FloatStorage", bytes: 4, array: "Float32Array" },
  float16: { name: "HalfStorage", bytes: 2, array: "Uint16Array" },
  bfloat16: { name: "BFloat16Storage", bytes: 2, array: "Uint16Array" },
  int64: { name: "LongStorage", bytes: 8, array: "BigInt64Array" },
  int32: { name: "IntStorage", bytes: 4, array: "Int32Array" },
  int16: { name: "ShortStorage", bytes: 2, array: "Int16Array" },
  int8: { name: "CharStorage", bytes: 1, array: "Int8Array" },
  uint8: { name: "ByteStorage", bytes: 1, array: "Uint8Array" },
  bool: { name: "BoolStorage", bytes: 1, array: "Uint8Array" },
};

/**
 * The `_metadata` that `nn.Module.state_dict()` would leave for these keys, as far as the keys tell: the root `""`
 * and every module prefix, in first-appearance order (torch's pre-order when the keys are in module order), version
 * 2 for a module that holds `running_mean` (BatchNorm's `_version`), 1 otherwise. Modules without parameters or
 * buffers (ReLU, Dropout) cannot be seen in the keys and are left out; `load_state_dict` does not need them.
 */
export function inferModuleVersions(keys: Iterable<string>): ModuleVersions {
  const out: ModuleVersions = new Map([["", 1]]);
  for (const key of keys) {
    const parts = key.split(".");
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join(".");
      if (!out.has(prefix)) out.set(prefix, 1);
    }
    if (parts.length > 1 && parts[parts.length - 1] === "running_mean") out.set(parts.slice(0, -1).join("."), 2);
    else if (parts.length === 1 && key === "running_mean") out.set("", 2);
  }
  return out;
}

/** Encodes `root` as the bytes of `torch.save(root, f)` (zip format). Pure; the same input gives the same bytes. */
export function encodeTorchSave(root: TorchSaveRoot, options: TorchSaveOptions = {}): Uint8Array {
  const archive = options.archiveName ?? "archive";
  if (!archive || /[\/\\]/.test(archive)) throw new Error(`torch.save: bad archive name "${archive}"`);
  const metadata = options.metadata ?? ((_name: string, sd: StateDict) => inferModuleVersions(sd.keys()));
  const nested = isNested(root);
  const storages: Uint8Array[] = [];
  const p = new Pickler();
  p.proto();
  const saveStateDict = (name: string, sd: StateDict) => {
    const meta = options.plainDict ? null : metadata(name, sd);
    const write = (key: string, t: TorchTensor) => {
      p.str(key);
      saveTensor(p, t, storages, name ? `${name}.${key}` : key);
    };
    if (options.plainDict) return p.exactDict([...sd], write);
    p.orderedDict([...sd], write);
    if (meta) {
      // state = {'_metadata': OrderedDict({prefix: {'version': n}})}, then BUILD.
      p.exactDict([["_metadata", meta]], (k, m) => {
        p.str(k);
        p.orderedDict([...m], (prefix, version) => {
          p.str(prefix);
          p.exactDict([["version", version]], (vk, v) => {
            p.str(vk);
            p.int(v);
          });
        });
      });
      p.op(BUILD);
    }
  };
  if (nested) {
    p.exactDict([...(root as Map<string, StateDict>)], (name, sd) => {
      p.str(name);
      saveStateDict(name, sd);
    });
  } else {
    saveStateDict("", root as StateDict);
  }
  p.op(STOP);

  const records: [string, Uint8Array][] = [[`${archive}/data.pkl`, p.bytes()]];
  const keys = storages.map((_, i) => String(i)).sort(); // torch: sorted(serialized_storages.keys())
  for (const key of keys) records.push([`${archive}/data/${key}`, storages[Number(key)]]);
  records.push([`${archive}/version`, new TextEncoder().encode("3\n")]);
  return zipStored(records);
}

/**
 * Writes `root` to `path` as `torch.save` would (archive name from the file name), atomically: a temp sibling, then
 * a rename, so a failure or a kill leaves no half-written checkpoint.
 */
export async function writeTorchSave(
  path: string,
  root: TorchSaveRoot,
  options: Omit<TorchSaveOptions, "archiveName"> = {},
): Promise<void> {
  const base = path.split(/[\/\\]/).pop()!;
  const dot = base.lastIndexOf(".");
  const archiveName = dot > 0 ? base.slice(0, dot) : base || "archive";
  await writeFileAtomic(path, encodeTorchSave(root, { ...options, archiveName }));
}

function isNested(root: TorchSaveRoot): boolean {
  let nested: boolean | undefined;
  for (const [key, value] of root) {
    const isMap = value instanceof Map;
    if (nested !== undefined && nested !== isMap) {
      throw new Error(`torch.save: "${key}" mixes state dicts and tensors at the top level`);
    }
    nested = isMap;
  }
  return nested ?? false;
}

/** Checks a tensor against its dtype and shape, naming the key. */
function tensorBytes(t: TorchTensor, key: string): Uint8Array {
  const s = STORAGE[t.dtype];
  if (!s) throw new Error(`torch.save: ${key}: unknown dtype ${t.dtype}`);
  if (t.data.constructor.name !== s.array) {
    throw new Error(`torch.save: ${key}: dtype ${t.dtype} needs a ${s.array}, got ${t.data.constructor.name}`);
  }
  if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`torch.save: ${key}: bad shape [${t.shape}]`);
  }
  if (t.data.length !== numel(t.shape)) {
    throw new Error(`torch.save: ${key}: shape [${t.shape}] has ${numel(t.shape)} elements, data ${t.data.length}`);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength); // read before encode returns
}

/** torch's contiguous strides (a size-0 dimension counts as 1). */
function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= Math.max(shape[i], 1);
  }
  return out;
}

/** `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())` with a persistent-id storage. */
function saveTensor(p: Pickler, t: TorchTensor, storages: Uint8Array[], key: string): void {
  const bytes = tensorBytes(t, key);
  const storageKey = String(storages.length);
  storages.push(bytes);
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.tuple(6, () => {
    p.tuple(5, () => {
      p.str("storage");
      p.global("torch", STORAGE[t.dtype].name);
      p.str(storageKey);
      p.str("cpu");
      p.int(numel(t.shape));
    });
    p.op(BINPERSID);
    p.int(0);
    p.tuple(t.shape.length, () => t.shape.forEach((d) => p.int(d)));
    const strides = contiguousStrides(t.shape);
    p.tuple(strides.length, () => strides.forEach((d) => p.int(d)));
    p.op(NEWFALSE);
    p.orderedDict([], () => {});
  });
  p.op(REDUCE);
  p.memoize();
}

// Pickle opcodes (protocol 2).
const MARK = 0x28, STOP = 0x2e, BINPERSID = 0x51, REDUCE = 0x52, BUILD = 0x62, SETITEM = 0x73, SETITEMS = 0x75;
const EMPTY_DICT = 0x7d, EMPTY_TUPLE = 0x29, TUPLE = 0x74, TUPLE1 = 0x85, NEWFALSE = 0x89;
const BATCHSIZE = 1000;

/**
 * The subset of CPython's C pickler that torch.save exercises. Memo: CPython memoizes by object identity, so a
 * string is a memo hit only when it is the same object; that holds for interned and one-character strings (the
 * empty string, 'storage', 'cpu', 'version', '_metadata', single characters), which are therefore shared by value
 * here; every other string is a fresh object in torch's code (built by concatenation or slicing), so a fresh entry.
 */
class Pickler {
  #chunks: number[] = [];
  #memoCount = 0;
  #shared = new Map<string, number>();

  proto(): void {
    this.#chunks.push(0x80, 2);
  }
  op(code: number): void {
    this.#chunks.push(code);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#chunks);
  }
  /** BINPUT / LONG_BINPUT of the next memo index; returns it. */
  memoize(): number {
    const i = this.#memoCount++;
    if (i < 256) this.#chunks.push(0x71, i);
    else this.#chunks.push(0x72, ...u32(i));
    return i;
  }
  #get(i: number): void {
    if (i < 256) this.#chunks.push(0x68, i);
    else this.#chunks.push(0x6a, ...u32(i));
  }
  #sharedOr(id: string, write: () => void): void {
    const hit = this.#shared.get(id);
    if (hit !== undefined) return this.#get(hit);
    write();
    this.#shared.set(id, this.memoize());
  }
  /** BINUNICODE, memoized (shared by value only where CPython shares the object). */
  str(s: string): void {
    const write = () => {
      const b = new TextEncoder().encode(s);
      this.#chunks.push(0x58, ...u32(b.length));
      for (const x of b) this.#chunks.push(x);
    };
    const interned = s.length === 0 || (s.length === 1 && s.charCodeAt(0) < 256) ||
      s === "storage" || s === "cpu" || s === "version" || s === "_metadata";
    if (interned) this.#sharedOr(`s:${s}`, write);
    else {
      write();
      this.memoize();
    }
  }
  global(module: string, name: string): void {
    this.#sharedOr(`g:${module}\n${name}`, () => {
      for (const c of `c${module}\n${name}\n`) this.#chunks.push(c.charCodeAt(0));
    });
  }
  /** BININT1 / BININT2 / BININT / LONG1, as CPython picks them. */
  int(n: number): void {
    if (!Number.isSafeInteger(n)) throw new Error(`pickle: ${n} is not a safe integer`);
    if (n >= 0 && n <= 0xff) this.#chunks.push(0x4b, n);
    else if (n >= 0 && n <= 0xffff) this.#chunks.push(0x4d, n & 0xff, n >> 8);
    else if (n >= -0x80000000 && n <= 0x7fffffff) this.#chunks.push(0x4a, ...u32(n >>> 0));
    else {
      // LONG1: little-endian two's complement, shortest form.
      const bytes: number[] = [];
      let v = BigInt(n);
      for (;;) {
        const byte = Number(v & 0xffn);
        bytes.push(byte);
        v >>= 8n;
        if ((v === 0n && byte < 0x80) || (v === -1n && byte >= 0x80)) break;
      }
      this.#chunks.push(0x8a, bytes.length, ...bytes);
    }
  }
  /** A tuple of `n` items written by `items`: TUPLE1-3 or MARK … TUPLE, memoized; () is EMPTY_TUPLE, not memoized. */
  tuple(n: number, items: () => void): void {
    if (n === 0) return this.op(EMPTY_TUPLE);
    if (n > 3) this.op(MARK);
    items();
    this.op(n > 3 ? TUPLE : TUPLE1 + n - 1);
    this.memoize();
  }
  /** A plain dict (C `batch_dict_exact`): EMPTY_DICT, memo, one SETITEM for one item, else MARK … SETITEMS batches. */
  exactDict<V>(entries: [string, V][], save: (k: string, v: V) => void): void {
    this.op(EMPTY_DICT);
    this.memoize();
    if (entries.length === 0) return;
    if (entries.length === 1) {
      save(...entries[0]);
      return this.op(SETITEM);
    }
    let i = 0;
    let n: number;
    do {
      this.op(MARK);
      n = 0;
      while (i < entries.length && n < BATCHSIZE) {
        save(...entries[i++]);
        n++;
      }
      this.op(SETITEMS);
    } while (n === BATCHSIZE);
  }
  /** `OrderedDict()` by REDUCE, then its items (C `batch_dict`, from an iterator). The caller writes any BUILD. */
  orderedDict<V>(entries: [string, V][], save: (k: string, v: V) => void): void {
    this.global("collections", "OrderedDict");
    this.op(EMPTY_TUPLE);
    this.op(REDUCE);
    this.memoize();
    let i = 0;
    while (i < entries.length) {
      if (i + 1 === entries.length) {
        save(...entries[i++]);
        this.op(SETITEM);
        break;
      }
      this.op(MARK);
      let n = 0;
      while (i < entries.length && n < BATCHSIZE) {
        save(...entries[i++]);
        n++;
      }
      this.op(SETITEMS);
      if (n < BATCHSIZE) break;
    }
  }
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

// ---- zip (miniz as torch's PyTorchStreamWriter drives it) ----

const ALIGN = 64;
const MAX_ZIP = 0xffffffff;

let crcTable: Uint32Array | undefined;
/** CRC-32 (IEEE), as zip stores it. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A zip of stored entries laid out as torch writes them: local header (version 0, flags 0x0808 — data descriptor,
 * UTF-8 —, zero time, CRC and sizes) with an `FB` extra field of `Z` padding that puts the data on a 64-byte
 * boundary, the data, a data descriptor (none, and flags 0x0800, for an empty entry, as miniz does); then the central directory and the zip64 end records torch always writes.
 * Sizes beyond 4 GiB would need zip64 extra fields in every header and are refused.
 */
function zipStored(records: [string, Uint8Array][]): Uint8Array {
  const enc = new TextEncoder();
  const central: { name: Uint8Array; crc: number; data: Uint8Array; offset: number }[] = [];
  // UTF-8 names; a data descriptor (crc and sizes after the data) for every non-empty entry.
  const flags = (data: Uint8Array) => data.length ? 0x0808 : 0x0800;
  let total = 0;
  const layout = records.map(([name, data]) => {
    const nameBytes = enc.encode(name);
    const start = total + 30 + nameBytes.length + 4;
    const padding = (ALIGN - (start % ALIGN)) % ALIGN;
    const offset = total;
    total = start + padding + data.length + (data.length ? 16 : 0); // miniz: no descriptor for an empty entry
    return { nameBytes, data, padding, offset };
  });
  const cdStart = total;
  const cdSize = layout.reduce((n, r) => n + 46 + r.nameBytes.length, 0);
  const end = cdStart + cdSize + 56 + 20 + 22;
  if (end > MAX_ZIP) throw new Error(`torch.save: ${end} bytes is beyond the 4 GiB this writer supports`);
  const out = new Uint8Array(end);
  const view = new DataView(out.buffer);
  let pos = 0;
  const w16 = (v: number) => (view.setUint16(pos, v, true), pos += 2);
  const w32 = (v: number) => (view.setUint32(pos, v, true), pos += 4);
  const w64 = (v: number) => (view.setBigUint64(pos, BigInt(v), true), pos += 8);
  const bytes = (b: Uint8Array) => (out.set(b, pos), pos += b.length);
  for (const r of layout) {
    const crc = crc32(r.data);
    w32(0x04034b50);
    w16(0); // version needed
    w16(flags(r.data));
    w16(0); // stored
    w16(0), w16(0); // time, date
    w32(0), w32(0), w32(0); // crc and sizes follow in the data descriptor
    w16(r.nameBytes.length);
    w16(4 + r.padding);
    bytes(r.nameBytes);
    bytes(enc.encode("FB"));
    w16(r.padding);
    out.fill(0x5a, pos, pos + r.padding); // 'Z'
    pos += r.padding;
    bytes(r.data);
    if (r.data.length) w32(0x08074b50), w32(crc), w32(r.data.length), w32(r.data.length);
    central.push({ name: r.nameBytes, crc, data: r.data, offset: r.offset });
  }
  for (const c of central) {
    w32(0x02014b50);
    w16(0), w16(0); // made by, needed
    w16(flags(c.data));
    w16(0);
    w16(0), w16(0);
    w32(c.crc), w32(c.data.length), w32(c.data.length);
    w16(c.name.length);
    w16(0), w16(0), w16(0), w16(0); // extra, comment, disk, internal attributes
    w32(0); // external attributes
    w32(c.offset);
    bytes(c.name);
  }
  const zip64End = pos;
  w32(0x06064b50);
  w64(44);
  w16(0x031e), w16(0x002d);
  w32(0), w32(0);
  w64(central.length), w64(central.length);
  w64(cdSize), w64(cdStart);
  w32(0x07064b50);
  w32(0);
  w64(zip64End);
  w32(1);
  w32(0x06054b50);
  w16(0), w16(0);
  w16(Math.min(central.length, 0xffff)), w16(Math.min(central.length, 0xffff));
  w32(cdSize), w32(cdStart);
  w16(0);
  if (pos !== end) throw new Error(`torch.save: internal error, wrote ${pos} of ${end} bytes`);
  return out;
}
