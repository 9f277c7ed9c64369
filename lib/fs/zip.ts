/**
 * A small zip reader: the central directory (zip64 included) and the entries' bytes, stored or deflated. Enough for
 * PyTorch's checkpoint format (stored entries, 64-byte aligned) without a dependency; deflated entries are inflated
 * with the platform's `DecompressionStream("deflate-raw")`.
 *
 * @example
 * ```ts
 * import { readZip } from "./zip.ts";
 * const zip = readZip(await Deno.readFile("model.pth"), "model.pth");
 * const names = [...zip.entries.keys()];            // ["model/data.pkl", "model/data/0", …]
 * const pkl = await zip.read("model/data.pkl");      // Uint8Array
 * ```
 * @module
 */

/** One entry of the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  headerOffset: number;
}

export interface ZipArchive {
  entries: Map<string, ZipEntry>;
  /** The entry's content (a view into the file when stored; inflated otherwise). */
  read(name: string): Promise<Uint8Array>;
  /** The stored entry's content without copying; throws for a compressed entry. */
  readStored(name: string): Uint8Array;
}

/** Whether bytes start with a zip local-file-header signature. */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

/** Parses a zip's central directory; errors name `file` and what is wrong. */
export function readZip(bytes: Uint8Array, file: string): ZipArchive {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new Error(`${file}: not a readable zip: ${what}`);
  };
  // End of central directory: 22 bytes + a comment of up to 65535 bytes, searched from the end.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail("no end-of-central-directory record (truncated file?)");
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: the locator sits just before the EOCD and points at the zip64 EOCD record.
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== 0x07064b50) fail("zip64 locator missing");
    const z64 = Number(view.getBigUint64(loc + 8, true));
    if (z64 + 56 > bytes.length || view.getUint32(z64, true) !== 0x06064b50) fail("zip64 end record missing");
    count = Number(view.getBigUint64(z64 + 32, true));
    cdSize = Number(view.getBigUint64(z64 + 40, true));
    cdOffset = Number(view.getBigUint64(z64 + 48, true));
  }
  if (cdOffset + cdSize > bytes.length) fail("central directory beyond the end of the file (truncated?)");
  const entries = new Map<string, ZipEntry>();
  const dec = new TextDecoder();
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) fail(`bad central directory entry ${n}`);
    const method = view.getUint16(p + 10, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let headerOffset = view.getUint32(p + 42, true);
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information (id 1): the 0xFFFFFFFF fields, in order size, compressed size, offset.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        const next = () => {
          const v = Number(view.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (headerOffset === 0xffffffff) headerOffset = next();
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, headerOffset });
    p = extraEnd + commentLen;
  }
  const dataOf = (name: string): { entry: ZipEntry; raw: Uint8Array } => {
    const entry = entries.get(name);
    if (!entry) return fail(`no entry ${name}`);
    const h = entry.headerOffset;
    if (h + 30 > bytes.length || view.getUint32(h, true) !== 0x04034b50) fail(`bad local header for ${name}`);
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    if (start + entry.compressedSize > bytes.length) fail(`entry ${name} runs past the end of the file (truncated?)`);
    return { entry, raw: bytes.subarray(start, start + entry.compressedSize) };
  };
  return {
    entries,
    readStored(name) {
      const { entry, raw } = dataOf(name);
      if (entry.method !== 0) fail(`entry ${name} is compressed (method ${entry.method})`);
      return raw;
    },
    async read(name) {
      const { entry, raw } = dataOf(name);
      if (entry.method === 0) return raw;
      if (entry.method !== 8) return fail(`entry ${name}: compression method ${entry.method} is not supported`);
      const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new DecompressionStream("deflate-raw"),
      );
      const out = new Uint8Array(await new Response(stream).arrayBuffer());
      if (out.length !== entry.size) fail(`entry ${name} inflates to ${out.length} bytes, expected ${entry.size}`);
      return out;
    },
  };
}
