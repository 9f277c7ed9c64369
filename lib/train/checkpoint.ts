/**
 * Checkpoints: one compact binary file, `SF2CKPT2` + uint32 header length (little-endian) + a JSON header + zero
 * padding to 4 bytes + the raw little-endian float32 data of every tensor, back to back + the SHA-256 of all the
 * bytes before it. The header lists each tensor (name, shape, offset) and the training state (step, LR step, RNG
 * state, data cursor, …); the checksum covers both, so any flipped byte is an error naming the file. Format-1
 * files (`SF2CKPT1`, checksum over the data only) still read. Nothing time-dependent goes into the file, so two runs that reach the same state write
 * byte-identical checkpoints.
 *
 * Writes are atomic: a temporary sibling is written, fsync'ed and renamed over the target, so a kill at any
 * moment leaves either the previous checkpoint or the new one, never a torn file.
 *
 * @example
 * ```ts
 * import { readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
 * await writeCheckpoint("/tmp/demo.sf2", { step: 3 }, [{ name: "w", shape: [2], data: Float32Array.from([1, 2]) }]);
 * const ck = await readCheckpoint("/tmp/demo.sf2");
 * ck.header.state; // { step: 3 }
 * ck.tensors.get("w")!.data; // Float32Array [1, 2]
 * ```
 * @module
 */
import { dirname } from "node:path";
import { sha256Hex } from "../fs/sha256.ts";

const MAGIC = "SF2CKPT2";
/** Format 1 (magic SF2CKPT1): the checksum covered the data section only; still read. */
const MAGIC_V1 = "SF2CKPT1";
export const CHECKPOINT_FORMAT = "sf2-checkpoint/2";
const CHECKPOINT_FORMAT_V1 = "sf2-checkpoint/1";
const DIGEST_BYTES = 32;

/** A named float32 tensor. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface CheckpointHeader {
  format: typeof CHECKPOINT_FORMAT | typeof CHECKPOINT_FORMAT_V1;
  /** Training state (JSON-safe), opaque to this module. */
  state: Record<string, unknown>;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  /** Hex SHA-256 of the whole file before the digest (format 2), of the data section only (format 1). */
  sha256: string;
}

export interface Checkpoint {
  header: CheckpointHeader;
  tensors: Map<string, NamedArray>;
}

/** Serialises a checkpoint to bytes (format 2: the trailing SHA-256 covers magic, header, padding and data). */
export async function encodeCheckpoint(
  state: Record<string, unknown>,
  tensors: readonly NamedArray[],
): Promise<Uint8Array> {
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new Error("checkpoints assume a little-endian host");
  let offset = 0;
  const entries = tensors.map((t) => {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new Error(`checkpoint tensor ${t.name}: shape [${t.shape}] but ${t.data.length} values`);
    }
    const e = { name: t.name, shape: t.shape, offset, length: t.data.length };
    offset += t.data.length * 4;
    return e;
  });
  const json = new TextEncoder().encode(JSON.stringify({ format: CHECKPOINT_FORMAT, state, tensors: entries }));
  const headStart = MAGIC.length + 4;
  const dataStart = Math.ceil((headStart + json.length) / 4) * 4;
  const body = dataStart + offset;
  const out = new Uint8Array(body + DIGEST_BYTES);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, headStart);
  tensors.forEach((t, i) =>
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), dataStart + entries[i].offset)
  );
  out.set(new Uint8Array(await crypto.subtle.digest("SHA-256", out.subarray(0, body))), body);
  return out;
}

/**
 * Parses checkpoint bytes; any damage is an error naming `source` and what is wrong (magic, truncation,
 * checksum). In format 2 the checksum is verified before the header is even parsed, so a flipped step, RNG
 * state or learning rate is caught like a flipped weight.
 */
export async function decodeCheckpoint(bytes: Uint8Array, source = "checkpoint"): Promise<Checkpoint> {
  const magic = bytes.length >= 12 ? new TextDecoder().decode(bytes.subarray(0, 8)) : "";
  if (magic !== MAGIC && magic !== MAGIC_V1) throw new Error(`${source}: not a kit checkpoint (no ${MAGIC} magic)`);
  const v2 = magic === MAGIC;
  let end = bytes.length;
  let digest = "";
  if (v2) {
    if (bytes.length < 12 + DIGEST_BYTES) throw new Error(`${source}: truncated file (${bytes.length} bytes)`);
    end = bytes.length - DIGEST_BYTES;
    digest = hex(bytes.subarray(end));
    if ((await sha256Hex(bytes.subarray(0, end))) !== digest) {
      throw new Error(`${source}: checksum mismatch (corrupted or truncated file)`);
    }
  }
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + len > end) throw new Error(`${source}: truncated header`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as CheckpointHeader;
  } catch (err) {
    throw new Error(`${source}: unreadable header (${(err as Error).message})`);
  }
  const format = v2 ? CHECKPOINT_FORMAT : CHECKPOINT_FORMAT_V1;
  if (header?.format !== format) throw new Error(`${source}: unknown format ${header?.format}`);
  const dataStart = Math.ceil((12 + len) / 4) * 4;
  const data = bytes.slice(dataStart, end); // a copy: aligned for Float32Array views
  const expected = header.tensors.reduce((n, t) => n + t.length * 4, 0);
  if (data.length !== expected) {
    throw new Error(`${source}: data section is ${data.length} bytes, expected ${expected}`);
  }
  if (v2) header.sha256 = digest;
  else if ((await sha256Hex(data)) !== header.sha256) {
    throw new Error(`${source}: checksum mismatch (corrupted file)`);
  }
  const tensors = new Map<string, NamedArray>();
  for (const t of header.tensors) {
    tensors.set(t.name, { name: t.name, shape: t.shape, data: new Float32Array(data.buffer, t.offset, t.length) });
  }
  return { header, tensors };
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Writes `bytes` to `path` atomically: temp sibling `<path>.tmp-<pid>`, fsync, rename. On any failure (a full
 * disk, a file-size limit) the temp file is removed and the error names `path`; a temp file left by a killed
 * writer is removed on the next run (`removeStaleTemps`, lib/fs/lock.ts).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Encodes and writes a checkpoint atomically. */
export async function writeCheckpoint(
  path: string,
  state: Record<string, unknown>,
  tensors: readonly NamedArray[],
): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(state, tensors));
}

/** Reads and verifies a checkpoint file. */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`${path}: no checkpoint there`);
    throw err;
  }
  return decodeCheckpoint(bytes, path);
}
