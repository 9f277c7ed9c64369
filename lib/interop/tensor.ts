/**
 * The one in-memory form of a PyTorch tensor that the checkpoint reader produces and the writer consumes: dtype as
 * stored in the file, shape, and contiguous row-major data. float16 and bfloat16 keep their raw 16-bit patterns
 * (`Uint16Array`), so that reading a file and writing it back gives the same bytes; `toFloat32` widens them.
 *
 * @example
 * ```ts
 * import { type StateDict, toFloat32 } from "./tensor.ts";
 * const sd: StateDict = new Map([["fc.bias", { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) }]]);
 * toFloat32(sd.get("fc.bias")!); // Float32Array [1, 2]
 * ```
 * @module
 */

/** The storage types a state dict holds (torch's names without the `torch.` prefix). */
export type TorchDType =
  | "float64"
  | "float32"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Typed array per dtype: float16/bfloat16 as raw bits, bool as 0/1 bytes. */
export type TorchData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** One tensor, contiguous row-major (strides already applied by the reader). */
export interface TorchTensor {
  dtype: TorchDType;
  shape: number[];
  data: TorchData;
}

/** A state dict, in file order (Map keeps insertion order, which torch's OrderedDict also does). */
export type StateDict = Map<string, TorchTensor>;

const TYPED: Record<TorchDType, (b: ArrayBuffer) => TorchData> = {
  float64: (b) => new Float64Array(b),
  float32: (b) => new Float32Array(b),
  float16: (b) => new Uint16Array(b),
  bfloat16: (b) => new Uint16Array(b),
  int64: (b) => new BigInt64Array(b),
  int32: (b) => new Int32Array(b),
  int16: (b) => new Int16Array(b),
  int8: (b) => new Int8Array(b),
  uint8: (b) => new Uint8Array(b),
  bool: (b) => new Uint8Array(b),
};

/** The typed array of `dtype` over `buffer` (little-endian, as torch stores it): {@link TorchData}'s one mapping. */
export function typedArrayOf(dtype: TorchDType, buffer: ArrayBuffer): TorchData {
  return TYPED[dtype](buffer);
}

/** Number of elements of a shape (1 for a 0-d tensor). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The tensor's values as float32 (float16/bfloat16 decoded; integers converted). */
export function toFloat32(t: TorchTensor): Float32Array {
  const n = t.data.length;
  const out = new Float32Array(n);
  if (t.dtype === "float16") {
    const bits = t.data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = halfToFloat(bits[i]);
  } else if (t.dtype === "bfloat16") {
    const bits = t.data as Uint16Array;
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = bits[i] << 16;
  } else if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(t.data[i]);
  } else {
    for (let i = 0; i < n; i++) out[i] = (t.data as Float32Array)[i];
  }
  return out;
}

/** IEEE 754 binary16 bits → number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
