/**
 * NumPy `.npy` files (format 1.0/2.0/3.0), float32 and float64 little-endian, C order: enough to exchange
 * embeddings and gradients with Python (`numpy.load` / `numpy.save`).
 *
 * @example
 * ```ts
 * import { decodeNpy, encodeNpy } from "./npy.ts";
 * const bytes = encodeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const { shape, data } = decodeNpy(bytes, "x.npy"); // [2, 2], Float32Array
 * ```
 * @module
 */
import { DataError } from "./errors.ts";

export interface NpyArray {
  shape: number[];
  data: Float32Array | Float64Array;
}

/** Parses `.npy` bytes (`<f4` or `<f8`, C order); errors name `file`. */
export function decodeNpy(bytes: Uint8Array, file: string): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new DataError(file, "not a .npy file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new DataError(file, `unreadable .npy header ${header}`);
  if (fortran === "True") throw new DataError(file, "Fortran-order arrays are not supported");
  const shape = shapeText.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const size = descr === "<f4" ? 4 : descr === "<f8" ? 8 : 0;
  if (!size) throw new DataError(file, `dtype ${descr} is not supported (expected <f4 or <f8)`);
  if (start + n * size > bytes.length) throw new DataError(file, `truncated: ${n} values of ${descr} expected`);
  const copy = bytes.slice(start, start + n * size).buffer;
  return { shape, data: size === 4 ? new Float32Array(copy) : new Float64Array(copy) };
}

/** Encodes a float32 array as `.npy` 1.0 (`<f4`, C order). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`encodeNpy: shape [${shape}] but ${data.length} values`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Total header (magic 6 + version 2 + length 2 + text + newline) padded to a multiple of 64.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\n";
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + text.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(text, 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + text.length);
  return out;
}
