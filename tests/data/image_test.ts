import { expect } from "expect";
import * as tf from "@tensorflow/tfjs";
import {
  decodeImage,
  encodeJpeg,
  encodePng,
  encodePpm,
  flipHorizontal,
  normalisePixel,
  readImage,
  toInputBatch,
} from "../../lib/data/image.ts";
import { goldenPath, lfwPath, lfwTest, useBackend } from "../shared.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("PGM/PPM: ASCII and binary, 8 and 16 bit, comments; grey replicated to RGB", async () => {
  const p3 = await decodeImage(enc("P3\n# comment\n2 1\n255\n255 0 0  0 0 255\n"), "a.ppm");
  expect([...p3.data]).toEqual([255, 0, 0, 0, 0, 255]);
  const p2 = await decodeImage(enc("P2 2 1 15 15 0\n"), "a.pgm");
  expect([...p2.data]).toEqual([255, 255, 255, 0, 0, 0]);
  const p5 = await decodeImage(new Uint8Array([...enc("P5\n1 1\n65535\n"), 0x80, 0x00]), "b.pgm");
  expect(p5.data[0]).toBe(Math.round(0x8000 * 255 / 65535));
  const img = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 10) };
  expect(await decodeImage(encodePpm(img), "c.ppm")).toEqual(img);
});

Deno.test("bad images: truncated or corrupt files give one error naming the file", async () => {
  await expect(decodeImage(enc("P6\n4 4\n255\n\x01\x02"), "short.ppm")).rejects.toThrow(/short\.ppm: truncated P6/);
  await expect(decodeImage(enc("P3\n2 2\n255\n1 2 3\n"), "short3.ppm")).rejects.toThrow(/short3\.ppm: truncated P3/);
  await expect(decodeImage(enc("P6\nx\n"), "bad.ppm")).rejects.toThrow(/bad\.ppm: malformed P6 header/);
  const jpg = await encodeJpeg(await readImage(goldenPath("alignment/case01_Aaron_Eckhart_0001_src150.png")), 90);
  await expect(decodeImage(jpg.subarray(0, jpg.length >> 1), "cut.jpg")).rejects.toThrow(
    /cut\.jpg: cannot decode image/,
  );
  await expect(decodeImage(enc("hello world"), "junk.jpg")).rejects.toThrow(/junk\.jpg: cannot decode/);
  await expect(decodeImage(new Uint8Array(0), "empty.png")).rejects.toThrow(/empty\.png: empty image/);
  await expect(readImage("/nonexistent/x.jpg")).rejects.toThrow(/\/nonexistent\/x\.jpg: image not found/);
});

lfwTest(
  "JPEG decoding matches libjpeg-turbo (the golden *_src150.png) bit for bit; greyscale JPEG gives RGB",
  async () => {
    const a = await readImage(lfwPath("images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"));
    const b = await readImage(goldenPath("alignment/case01_Aaron_Eckhart_0001_src150.png"));
    expect(a.width).toBe(150);
    expect(a.data).toEqual(b.data);
    // Greyscale JPEG comes back as 3 equal channels.
    const grey = await readImage(lfwPath("images/Winston_Churchill/Winston_Churchill_0001.jpg"));
    expect(grey.data.length).toBe(grey.width * grey.height * 3);
  },
);

Deno.test("PNG/JPEG encode round-trip", async () => {
  const a = await readImage(goldenPath("alignment/case01_Aaron_Eckhart_0001_src150.png"));
  expect(await decodeImage(await encodePng(a), "x.png")).toEqual(a);
  const j = await decodeImage(await encodeJpeg(a, 95), "x.jpg");
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d += Math.abs(a.data[i] - j.data[i]);
  expect(d / a.data.length).toBeLessThan(3);
});

Deno.test("flip, normalisation and NHWC batches", async () => {
  await useBackend("cpu");
  const img = { width: 2, height: 1, data: Uint8Array.of(0, 127, 255, 10, 20, 30) };
  expect([...flipHorizontal(img).data]).toEqual([10, 20, 30, 0, 127, 255]);
  expect(normalisePixel(0)).toBe(-1);
  expect(normalisePixel(255)).toBe(1);
  const before = tf.memory().numTensors;
  const t = toInputBatch([img, img], [false, true]);
  expect(t.shape).toEqual([2, 1, 2, 3]);
  const v = await t.data();
  expect(v[0]).toBe(-1);
  expect(v[6]).toBeCloseTo((10 - 127.5) / 127.5, 6);
  t.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
