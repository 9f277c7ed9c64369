/**
 * Checkpoints: one compact binary file, `SF2CKPT1` + uint32 header length (little-endian) + a JSON header + zero
 * padding to 4 bytes + the raw little-endian float32 data of every tensor, back to back. The header lists each
 * tensor (name, shape, offset), the training state (step, LR step, RNG state, data cursor, …) and a SHA-256 of the
 * data, checked on load. Nothing time-dependent goes into the file, so two runs that reach the same state write
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

const MAGIC = "SF2CKPT1";
export const CHECKPOINT_FORMAT = "sf2-checkpoint/1";

/** A named float32 tensor. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface CheckpointHeader {
  format: typeof CHECKPOINT_FORMAT;
  /** Training state (JSON-safe), opaque to this module. */
  state: Record<string, unknown>;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  /** Hex SHA-256 of the data section. */
  sha256: string;
}

export interface Checkpoint {
  header: CheckpointHeader;
  tensors: Map<string, NamedArray>;
}

/** Serialises a checkpoint to bytes. */
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
  const data = new Uint8Array(offset);
  tensors.forEach((t, i) =>
    data.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), entries[i].offset)
  );
  const header: CheckpointHeader = {
    format: CHECKPOINT_FORMAT,
    state,
    tensors: entries,
    sha256: await sha256Hex(data),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headStart = MAGIC.length + 4;
  const dataStart = Math.ceil((headStart + json.length) / 4) * 4;
  const out = new Uint8Array(dataStart + data.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, headStart);
  out.set(data, dataStart);
  return out;
}

/** Parses checkpoint bytes; errors name `source` and what is wrong (magic, truncation, checksum). */
export async function decodeCheckpoint(bytes: Uint8Array, source = "checkpoint"): Promise<Checkpoint> {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error(`${source}: not a kit checkpoint (no ${MAGIC} magic)`);
  }
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + len > bytes.length) throw new Error(`${source}: truncated header`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as CheckpointHeader;
  if (header.format !== CHECKPOINT_FORMAT) throw new Error(`${source}: unknown format ${header.format}`);
  const dataStart = Math.ceil((12 + len) / 4) * 4;
  const data = bytes.slice(dataStart); // a copy: aligned for Float32Array views
  const expected = header.tensors.reduce((n, t) => n + t.length * 4, 0);
  if (data.length !== expected) {
    throw new Error(`${source}: data section is ${data.length} bytes, expected ${expected}`);
  }
  if ((await sha256Hex(data)) !== header.sha256) throw new Error(`${source}: checksum mismatch (corrupted file)`);
  const tensors = new Map<string, NamedArray>();
  for (const t of header.tensors) {
    tensors.set(t.name, { name: t.name, shape: t.shape, data: new Float32Array(data.buffer, t.offset, t.length) });
  }
  return { header, tensors };
}

/** Writes `bytes` to `path` atomically: temp sibling, fsync, rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
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
