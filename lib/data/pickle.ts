/**
 * The kit's one pickle reader: a safe subset of Python's pickle format (protocols 0–5) that builds plain values and
 * never runs code. Classes and functions (`GLOBAL`, `STACK_GLOBAL`) are looked up in an allow-list the caller
 * passes; anything else — `os.system`, `builtins.eval`, `posix.system`, `subprocess.Popen`, a numpy array — is
 * refused with an error naming the global, the file and the byte offset, before any of it could matter. `INST`,
 * `OBJ`, `NEWOBJ` and the extension registry are refused outright (they instantiate arbitrary classes).
 *
 * Two users: insightface's validation `.bin` files (`lfw.bin`, `agedb_30.bin`, …), a tuple `(list of JPEG blobs,
 * list of bools)` read with an empty allow-list ({@link readInsightfaceBin}; written byte for byte by
 * {@link writeInsightfaceBin}), and PyTorch checkpoints, whose allow-list (OrderedDict, tensor rebuilders, storage
 * types) and persistent-id resolver live with the checkpoint reader in `lib/interop/torch_load.ts`.
 *
 * @example
 * ```ts
 * import { PickleDict, readInsightfaceBin, unpickle, writeInsightfaceBin } from "./pickle.ts";
 * declare const jpegA: Uint8Array, jpegB: Uint8Array, pickledOrderedDict: Uint8Array;
 * const bytes = writeInsightfaceBin({ images: [jpegA, jpegB], issame: [true] });
 * const { images, issame } = readInsightfaceBin(bytes, "my.bin");
 * // With an allow-list: only collections.OrderedDict may be called.
 * const globals = new Map([["collections.OrderedDict", () => new PickleDict()]]);
 * unpickle(pickledOrderedDict, "x.pkl", { globals });
 * ```
 * @module
 */
import { DataError } from "./errors.ts";

/** Values this reader can build. `bigint` only for integers beyond 2^53; `unknown` for allow-listed objects. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | PickleDict
  | PickleGlobal
  | PickleObject;

/** A Python tuple (kept apart from lists so the `.bin` shape can be checked). */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** A Python dict (or OrderedDict), in insertion order; `attrs` holds what a `BUILD` set on it (`_metadata`). */
export class PickleDict {
  readonly map = new Map<PickleValue, PickleValue>();
  readonly attrs = new Map<string, PickleValue>();
  /** The value at a string key, or undefined. */
  get(key: string): PickleValue | undefined {
    return this.map.get(key);
  }
}

/** An allow-listed global (`module.name`) as it sits on the stack before `REDUCE` calls it. */
export class PickleGlobal {
  constructor(readonly name: string, readonly call: GlobalHandler) {}
}

/** Whatever an allow-listed function returns that is not a plain value (a tensor, a storage). */
export class PickleObject {
  constructor(readonly kind: string, readonly value: unknown) {}
}

/** Called by `REDUCE` with the argument tuple's items; returns the object the call would have built. */
export type GlobalHandler = (args: PickleValue[]) => PickleValue;

export interface UnpickleOptions {
  /** Allowed globals by `module.name` (e.g. `collections.OrderedDict`); every other global is refused. */
  globals?: ReadonlyMap<string, GlobalHandler>;
  /** Resolves `BINPERSID`/`PERSID` ids (PyTorch storages); without it persistent ids are refused. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Byte offset to start at (several pickles back to back, as in PyTorch's legacy format). */
  start?: number;
}

/** Thrown for a global outside the allow-list: `global` is `module.name` as the file spells it. */
export class UnsafePickleError extends DataError {
  override name = "UnsafePickleError";
  constructor(file: string, readonly global: string, offset: number, opcode: string) {
    super(
      file,
      `refused: the pickle at byte ${offset} (${opcode}) names ${global}, which is not on the allow-list of ` +
        `classes and functions a checkpoint may use; loading it could run arbitrary code`,
    );
  }
}

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

const OPNAMES: Record<number, string> = {
  0x63: "GLOBAL (a class or function, e.g. a numpy array)",
  0x93: "STACK_GLOBAL (a class or function, e.g. a numpy array)",
  0x52: "REDUCE",
  0x62: "BUILD",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x69: "INST",
  0x6f: "OBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
};

/** Unpickles `bytes`; `file` names the file in errors (with the byte offset). */
export function unpickle(bytes: Uint8Array, file: string, options: UnpickleOptions = {}): PickleValue {
  return unpickleAt(bytes, file, options).value;
}

/** Unpickles one pickle starting at `options.start`; returns the value and the offset just past its STOP. */
export function unpickleAt(
  bytes: Uint8Array,
  file: string,
  options: UnpickleOptions = {},
): { value: PickleValue; end: number } {
  const globals = options.globals ?? new Map<string, GlobalHandler>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = options.start ?? 0;
  let opStart = pos;
  const fail = (what: string, at = pos): never => {
    throw new DataError(file, `not a supported pickle at byte ${at}: ${what}`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`truncated (needs ${n} more bytes, ${bytes.length - pos} left)`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4, true));
  const i32 = () => (need(4), pos += 4, view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail("length too large");
    return Number(v);
  };
  const blob = (n: number) => (need(n), pos += n, bytes.subarray(pos - n, pos));
  const dec = new TextDecoder();
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`${what}: truncated (no end of line)`, opStart);
    const s = dec.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) return fail("stack underflow");
    return v;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail("no MARK");
    const items = stack.splice(i) as PickleValue[];
    return items.slice(1);
  };
  const top =
    () => (stack.length && stack[stack.length - 1] !== MARK
      ? stack[stack.length - 1] as PickleValue
      : fail("empty stack"));
  const listOnTop = (): PickleValue[] => {
    const l = stack[stack.length - 1];
    if (!Array.isArray(l)) return fail("APPEND(S) target is not a list");
    return l;
  };
  const dictOnTop = (): PickleDict => {
    const d = stack[stack.length - 1];
    if (!(d instanceof PickleDict)) return fail("SETITEM(S) target is not a dict");
    return d;
  };
  const opName = (op: number) => `opcode 0x${op.toString(16).padStart(2, "0")} ${OPNAMES[op] ?? ""}`.trimEnd();
  /** Looks a global up in the allow-list; a miss is refused by name (the name is data: never imported). */
  const resolve = (module: string, name: string, op: number): PickleGlobal => {
    const full = `${module}.${name}`;
    const handler = globals.get(full);
    if (!handler) throw new UnsafePickleError(file, full, opStart, opName(op));
    return new PickleGlobal(full, handler);
  };
  const longFrom = (b: Uint8Array): number | bigint => {
    // Two's-complement little-endian, as LONG1/LONG4 store it.
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  for (;;) {
    opStart = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("pickle protocol above 5");
        break;
      case 0x95: // FRAME: framing only groups opcodes; the content follows inline
        u64();
        break;
      case 0x2e: { // STOP
        const v = pop();
        return { value: v, end: pos };
      }
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = new PickleDict();
        for (let i = 0; i + 1 < items.length; i += 2) d.map.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        listOnTop().push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const l = listOnTop();
        for (const v of items) l.push(v);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        dictOnTop().map.set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = dictOnTop();
        for (let i = 0; i + 1 < items.length; i += 2) d.map.set(items[i], items[i + 1]);
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PickleTuple(popMark()));
        break;
      case 0x85:
      case 0x86:
      case 0x87: { // TUPLE1..3
        const n = op - 0x84;
        const items: PickleValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(new PickleTuple(items));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT (protocol 0: decimal key)
        memo.set(Number(line("PUT")), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68:
      case 0x6a:
      case 0x67: { // BINGET, LONG_BINGET, GET
        const k = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line("GET"));
        if (!memo.has(k)) fail(`memo key ${k} not defined`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x55: // SHORT_BINSTRING (Python 2 str): bytes, as Python 3 reads it with encoding='bytes'
      case 0x43: // SHORT_BINBYTES
        stack.push(blob(u8()));
        break;
      case 0x54: // BINSTRING
      case 0x42: // BINBYTES
        stack.push(blob(u32()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(blob(u64()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(dec.decode(blob(u8())));
        break;
      case 0x58: // BINUNICODE
        stack.push(dec.decode(blob(u32())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(dec.decode(blob(u64())));
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4e:
        stack.push(null);
        break;
      case 0x4a:
        stack.push(i32());
        break;
      case 0x4b:
        stack.push(u8());
        break;
      case 0x4d:
        need(2), pos += 2, stack.push(view.getUint16(pos - 2, true));
        break;
      case 0x8a: // LONG1
        stack.push(longFrom(blob(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(longFrom(blob(u32())));
        break;
      case 0x49: { // INT (protocol 0; "00"/"01" are False/True)
        const s = line("INT");
        stack.push(s === "00" ? false : s === "01" ? true : Number(s));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8), pos += 8, stack.push(view.getFloat64(pos - 8, false));
        break;
      case 0x63: { // GLOBAL module\nname\n
        const module = line(opName(op));
        const name = line(opName(op));
        stack.push(resolve(module, name, op));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail(`${opName(op)}: module and name must be str`);
        stack.push(resolve(module as string, name as string, op));
        break;
      }
      case 0x69: { // INST module\nname\n: instantiates a class by name; refused, naming it
        const module = line(opName(op));
        const name = line(opName(op));
        throw new UnsafePickleError(file, `${module}.${name}`, opStart, opName(op));
      }
      case 0x52: { // REDUCE: only allow-listed globals are callable
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PickleGlobal)) return fail(`${opName(op)}: the callable is not an allow-listed global`);
        if (!(args instanceof PickleTuple)) return fail(`${opName(op)}: arguments of ${fn.name} are not a tuple`);
        try {
          stack.push(fn.call(args.items));
        } catch (err) {
          if (err instanceof DataError) throw err;
          fail(`${fn.name}: ${(err as Error).message}`, opStart);
        }
        break;
      }
      case 0x62: { // BUILD: state dicts set attributes (OrderedDict._metadata); nothing else is accepted
        const state = pop();
        const obj = top();
        if (obj instanceof PickleDict && state instanceof PickleDict) {
          for (const [k, v] of state.map) obj.attrs.set(String(k), v);
        } else if (state !== null) {
          fail(`${opName(op)}: only a dict's attributes can be set`);
        }
        break;
      }
      case 0x51: // BINPERSID
      case 0x50: { // PERSID
        const pid = op === 0x51 ? pop() : line("PERSID");
        if (!options.persistentLoad) fail(`${opName(op)}: persistent ids are not expected in this file`);
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default:
        pos--;
        fail(`${opName(op)} is outside the supported subset`);
    }
  }
}

/** The content of an insightface validation pack: image i of pair k is `images[2k + i]`. */
export interface InsightfaceBin {
  images: Uint8Array[];
  issame: boolean[];
}

/** Reads an insightface `.bin` (checks the `(list of 2n blobs, list of n bools)` shape). */
export function readInsightfaceBin(bytes: Uint8Array, file: string): InsightfaceBin {
  const v = unpickle(bytes, file);
  if (!(v instanceof PickleTuple) || v.items.length !== 2) {
    throw new DataError(file, "expected a pickled 2-tuple (images, issame_list)");
  }
  const [images, issame] = v.items;
  if (!Array.isArray(images) || !images.every((x) => x instanceof Uint8Array)) {
    throw new DataError(file, "first element must be a list of encoded images (bytes / Python 2 str)");
  }
  if (!Array.isArray(issame) || !issame.every((x) => typeof x === "boolean")) {
    throw new DataError(file, "second element must be a list of bools");
  }
  if (images.length !== 2 * issame.length) {
    throw new DataError(file, `${images.length} images for ${issame.length} pairs (expected ${2 * issame.length})`);
  }
  return { images: images as Uint8Array[], issame: issame as boolean[] };
}

/** Reads an insightface `.bin` file from disk. */
export async function readInsightfaceBinFile(path: string): Promise<InsightfaceBin> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(path, ".bin file not found");
    throw err;
  }
  return readInsightfaceBin(bytes, path);
}

/**
 * Pickles `(images, issame)` exactly as Python 2's `pickle.dump(..., protocol=2)` does for a tuple of a list of
 * `str` and a list of bools (the distributed files' form): memo entries for the two lists and the tuple, appends
 * in batches of 1000.
 */
export function writeInsightfaceBin(data: InsightfaceBin): Uint8Array {
  if (data.images.length !== 2 * data.issame.length) {
    throw new Error(`writeInsightfaceBin: ${data.images.length} images for ${data.issame.length} pairs`);
  }
  const parts: Uint8Array[] = [Uint8Array.of(0x80, 2)];
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  };
  const list = (memoKey: number, items: Uint8Array[][]) => {
    parts.push(Uint8Array.of(0x5d, 0x71, memoKey));
    for (let i = 0; i < items.length; i += 1000) {
      const chunk = items.slice(i, i + 1000);
      // Python's pickler writes a lone item with APPEND, more with MARK … APPENDS.
      if (chunk.length > 1) parts.push(Uint8Array.of(0x28));
      for (const item of chunk) parts.push(...item);
      parts.push(Uint8Array.of(chunk.length > 1 ? 0x65 : 0x61));
    }
  };
  list(
    0,
    data.images.map((
      b,
    ) => (b.length < 256 ? [Uint8Array.of(0x55, b.length), b] : [Uint8Array.of(0x54), u32(b.length), b])),
  );
  list(1, data.issame.map((s) => [Uint8Array.of(s ? 0x88 : 0x89)]));
  parts.push(Uint8Array.of(0x86, 0x71, 2, 0x2e));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}
