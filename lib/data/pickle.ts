/**
 * The subset of Python's pickle format that insightface's validation `.bin` files use (`lfw.bin`,
 * `agedb_30.bin`, …): a tuple `(list of JPEG blobs, list of bools)`. Reads protocols 2–5 with Python 2 `str`
 * blobs (`SHORT_BINSTRING`/`BINSTRING`, as the distributed files) or Python 3 `bytes`
 * (`SHORT_BINBYTES`/`BINBYTES`/`BINBYTES8`); anything else (numpy arrays, classes) is rejected by name, because
 * executing arbitrary pickle opcodes would be unsafe and is not needed. Writes the Python 2 form byte for byte.
 *
 * @example
 * ```ts
 * import { readInsightfaceBin, writeInsightfaceBin } from "./pickle.ts";
 * const bytes = writeInsightfaceBin({ images: [jpegA, jpegB], issame: [true] });
 * const { images, issame } = readInsightfaceBin(bytes, "my.bin");
 * ```
 * @module
 */
import { DataError } from "./errors.ts";

/** Values this reader can build. */
export type PickleValue = null | boolean | number | string | Uint8Array | PickleValue[] | PickleTuple;
/** A Python tuple (kept apart from lists so the `.bin` shape can be checked). */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

const OPNAMES: Record<number, string> = {
  0x63: "GLOBAL (a class or function, e.g. a numpy array)",
  0x93: "STACK_GLOBAL (a class or function, e.g. a numpy array)",
  0x52: "REDUCE",
  0x62: "BUILD",
  0x81: "NEWOBJ",
  0x7d: "EMPTY_DICT",
  0x47: "BINFLOAT",
};

/** Unpickles `bytes`; `file` names the file in errors (with the byte offset). */
export function unpickle(bytes: Uint8Array, file: string): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  const fail = (what: string): never => {
    throw new DataError(file, `not a supported pickle at byte ${pos}: ${what}`);
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
  const dec = new TextDecoder();
  for (;;) {
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
        return v;
      }
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
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
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68:
      case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
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
      default:
        pos--;
        fail(
          `opcode 0x${op.toString(16).padStart(2, "0")} ${OPNAMES[op] ?? ""} is outside the supported subset`.trimEnd(),
        );
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
