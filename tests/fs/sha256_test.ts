import assert from "node:assert/strict";
import { sha256Hex } from "../../lib/fs/sha256.ts";

Deno.test("sha256Hex: FIPS 180-2 test vectors, bytes and strings alike", async () => {
  assert.equal(await sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(await sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(await sha256Hex(new Uint8Array([0x61, 0x62, 0x63])), await sha256Hex("abc"));
  // UTF-8, not UTF-16: "é" is the two bytes C3 A9.
  assert.equal(await sha256Hex("é"), await sha256Hex(new Uint8Array([0xc3, 0xa9])));
});
