/**
 * Hex SHA-256, the kit's one content hash: checkpoint checksums, dataset checksums, config hashes of the
 * experiment grid, and the keys of the crop and notebook caches.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./sha256.ts";
 * await sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 * @module
 */

/** Lower-case hex SHA-256 of some bytes, or of a string's UTF-8 encoding. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
