import { expect } from "expect";
import { readInsightfaceBin, readInsightfaceBinFile, unpickle, writeInsightfaceBin } from "../../lib/data/pickle.ts";
import { alignFace } from "../../lib/data/alignment.ts";
import { decodeImage, readImage } from "../../lib/data/image.ts";
import { openLfw } from "../../lib/data/lfw.ts";
import { LFW_DIR, lfwPath, lfwTest } from "../shared.ts";

/** insightface's .bin of LFW pairs lives beside the LFW folder (`data/bin/` next to `data/lfw/`): LFW data too. */
const BIN = `${LFW_DIR}/../bin/lfw_fold1_200pairs.bin`;

lfwTest("insightface .bin: reads the Python 2 pack of LFW pairs, its crops match the kit's alignment", async () => {
  const bin = await readInsightfaceBinFile(BIN);
  expect(bin.images.length).toBe(400);
  expect(bin.issame.filter(Boolean).length).toBe(100);
  expect(bin.issame.slice(0, 4)).toEqual([true, false, true, false]);
  // Pair 0 is the first matched pair of pairs.txt (Abel_Pacheco 1 4).
  const first = await decodeImage(bin.images[0], "bin[0]");
  expect([first.width, first.height]).toEqual([112, 112]);
  const lfw = await openLfw(lfwPath());
  const ref = { name: "Abel_Pacheco", index: 1 };
  const src = await readImage(lfw.imagePath(ref));
  const mine = alignFace(src, lfw.landmarksOf(ref, src.width), 112).crop;
  let d = 0;
  for (let i = 0; i < mine.data.length; i++) d += Math.abs(mine.data[i] - first.data[i]);
  expect(d / mine.data.length).toBeLessThan(3); // JPEG q95 of the same crop
}, BIN);

lfwTest("insightface .bin: the writer reproduces the Python 2 bytes exactly", async () => {
  const bytes = await Deno.readFile(BIN);
  const bin = readInsightfaceBin(bytes, "x.bin");
  const again = writeInsightfaceBin(bin);
  expect(again.length).toBe(bytes.length);
  expect(again.findIndex((b, i) => b !== bytes[i])).toBe(-1);
}, BIN);

Deno.test("insightface .bin: small pack written by the kit round-trips (one pair, a blob under 256 bytes)", async () => {
  const tiny = Uint8Array.of(0xff, 0xd8, 1, 2, 0xff, 0xd9);
  const big = new Uint8Array(300).fill(7);
  const bytes = writeInsightfaceBin({ images: [tiny, big], issame: [false] });
  const back = readInsightfaceBin(bytes, "t.bin");
  expect(back.images).toEqual([tiny, big]);
  expect(back.issame).toEqual([false]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/t.bin`, bytes);
    expect((await readInsightfaceBinFile(`${dir}/t.bin`)).issame).toEqual([false]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pickle: Python 3 forms (protocol 4 framing, BINBYTES, MEMOIZE) are read; numpy and truncation are rejected", () => {
  // pickle.dumps(([b'ab', b'cd'], [True]), protocol=4)
  const p4 = Uint8Array.of(
    0x80,
    4,
    0x95,
    0x1c,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x5d,
    0x94,
    0x28,
    0x43,
    2,
    0x61,
    0x62,
    0x94,
    0x43,
    2,
    0x63,
    0x64,
    0x94,
    0x65,
    0x5d,
    0x94,
    0x88,
    0x61,
    0x86,
    0x94,
    0x2e,
  );
  const v = readInsightfaceBin(p4, "p4.bin");
  expect(v.images.map((b) => [...b])).toEqual([[0x61, 0x62], [0x63, 0x64]]);
  expect(v.issame).toEqual([true]);
  expect(() => unpickle(Uint8Array.of(0x80, 2, 0x63, 0x6e, 0x75), "np.bin")).toThrow(
    /np\.bin: .*byte 2: opcode 0x63 GLOBAL/,
  );
  expect(() => unpickle(Uint8Array.of(0x80, 2, 0x54, 10, 0, 0, 0, 1, 2), "cut.bin")).toThrow(/cut\.bin: .*truncated/);
  expect(() => readInsightfaceBin(Uint8Array.of(0x80, 2, 0x5d, 0x5d, 0x86, 0x2e), "e.bin")).not.toThrow();
  expect(() => readInsightfaceBin(Uint8Array.of(0x80, 2, 0x5d, 0x55, 1, 9, 0x61, 0x5d, 0x86, 0x2e), "odd.bin"))
    .toThrow(/odd\.bin: 1 images for 0 pairs/);
});
