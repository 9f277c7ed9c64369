/**
 * RGB images in memory: decoding JPEG/PNG (sharp/libvips, bit-identical to libjpeg-turbo as used by Pillow and
 * OpenCV) and PGM/PPM (in TypeScript), PNG/JPEG encoding, horizontal flips and the network's input scaling
 * `(x − 127.5) / 127.5` into NHWC float32 batches.
 *
 * @example
 * ```ts
 * import { flipHorizontal, readImage, toInputBatch } from "./image.ts";
 * const img = await readImage("face.jpg");          // { width, height, data: Uint8Array (RGB, row-major) }
 * const batch = toInputBatch([img, flipHorizontal(img)]); // tf.Tensor4D [2, h, w, 3] in [-1, 1]
 * batch.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { DataError } from "./errors.ts";

/** An 8-bit RGB image, row-major, 3 bytes per pixel (`data.length === width * height * 3`). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes JPEG, PNG (via sharp) or binary/ASCII PGM/PPM (P2, P3, P5, P6) to RGB; `path` names the file in errors. */
export async function decodeImage(bytes: Uint8Array, path: string): Promise<RgbImage> {
  if (bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] >= 0x32 && bytes[1] <= 0x36 && bytes[1] !== 0x34) {
    return decodeNetpbm(bytes, path);
  }
  if (bytes.length === 0) throw new DataError(path, "empty image file");
  try {
    // failOn "warning" (sharp's default, spelt out) turns libjpeg's "premature end of data" into an error
    // instead of a grey-filled image.
    const { data, info } = await sharp(bytes, { failOn: "warning" }).removeAlpha().toColourspace("srgb").raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    throw new DataError(
      path,
      `cannot decode image (corrupt, truncated or not JPEG/PNG/PGM/PPM): ${(err as Error).message.split("\n")[0]}`,
    );
  }
}

/** Reads and decodes an image file; a missing file is a {@link DataError} naming it. */
export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new DataError(path, "image not found");
    throw err;
  }
  return decodeImage(bytes, path);
}

/**
 * PGM (P2/P5, grey, replicated to RGB) and PPM (P3/P6). Maxval up to 65535; values are rescaled to 0–255 by
 * `round(v · 255 / maxval)` so 16-bit files keep their range.
 */
export function decodeNetpbm(bytes: Uint8Array, path: string): RgbImage {
  const kind = bytes[1] - 0x30; // 2, 3, 5 or 6
  let pos = 2;
  const token = (what: string): number => {
    // Whitespace and '#' comments may separate header fields.
    for (;;) {
      while (pos < bytes.length && isSpace(bytes[pos])) pos++;
      if (bytes[pos] !== 0x23) break;
      while (pos < bytes.length && bytes[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < bytes.length && bytes[pos] >= 0x30 && bytes[pos] <= 0x39) pos++;
    if (start === pos) throw new DataError(path, `malformed P${kind} header: expected ${what}`);
    return Number(new TextDecoder().decode(bytes.subarray(start, pos)));
  };
  const width = token("width"), height = token("height"), maxval = token("maxval");
  if (width < 1 || height < 1) throw new DataError(path, `bad P${kind} size ${width}x${height}`);
  if (maxval < 1 || maxval > 65535) throw new DataError(path, `bad P${kind} maxval ${maxval}`);
  const channels = kind === 2 || kind === 5 ? 1 : 3;
  const count = width * height * channels;
  const values = new Uint16Array(count);
  if (kind === 5 || kind === 6) {
    pos++; // exactly one whitespace byte after maxval
    const bps = maxval > 255 ? 2 : 1;
    if (bytes.length - pos < count * bps) {
      throw new DataError(path, `truncated P${kind}: ${bytes.length - pos} bytes of pixels, expected ${count * bps}`);
    }
    for (let i = 0; i < count; i++) {
      values[i] = bps === 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
    }
  } else {
    for (let i = 0; i < count; i++) {
      try {
        values[i] = token("pixel value");
      } catch {
        throw new DataError(path, `truncated P${kind}: ${i} of ${count} pixel values`);
      }
    }
  }
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(values[p * channels + (channels === 1 ? 0 : c)], maxval);
      data[p * 3 + c] = maxval === 255 ? v : Math.round((v * 255) / maxval);
    }
  }
  return { width, height, data };
}

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;

/** Binary PPM (P6) bytes of an image: the simplest lossless format, for tests and tools. */
export function encodePpm(img: RgbImage): Uint8Array {
  const header = new TextEncoder().encode(`P6\n${img.width} ${img.height}\n255\n`);
  const out = new Uint8Array(header.length + img.data.length);
  out.set(header);
  out.set(img.data, header.length);
  return out;
}

/** Lossless PNG bytes of an image. */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer(),
  );
}

/** Baseline JPEG bytes (4:2:0) at the given quality. */
export async function encodeJpeg(img: RgbImage, quality = 90): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality }).toBuffer(),
  );
}

/** The mirror image (x → width − 1 − x), as used for the flip test at evaluation. */
export function flipHorizontal(img: RgbImage): RgbImage {
  const { width, height, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3, d = row + (width - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}

/** Input scaling of OpenSphere and insightface: v ↦ (v − 127.5) / 127.5 ∈ [−1, 1] (not /128). */
export function normalisePixel(v: number): number {
  return (v - 127.5) / 127.5;
}

/**
 * Packs equally sized RGB images (or raw RGB byte arrays of `size × size × 3`) into one NHWC float32 array scaled
 * by {@link normalisePixel}; `flip[i]` mirrors image i on the way.
 */
export function toInputArray(images: readonly RgbImage[], flip?: readonly boolean[]): Float32Array {
  if (images.length === 0) return new Float32Array(0);
  const { width, height } = images[0];
  const per = width * height * 3;
  const out = new Float32Array(images.length * per);
  images.forEach((img, i) => {
    if (img.width !== width || img.height !== height) {
      throw new Error(`toInputArray: image ${i} is ${img.width}x${img.height}, expected ${width}x${height}`);
    }
    const src = flip?.[i] ? flipHorizontal(img).data : img.data;
    const base = i * per;
    for (let k = 0; k < per; k++) out[base + k] = (src[k] - 127.5) / 127.5;
  });
  return out;
}

/** {@link toInputArray} as a `[n, h, w, 3]` float32 tensor (the caller disposes it). */
export function toInputBatch(images: readonly RgbImage[], flip?: readonly boolean[]): tf.Tensor4D {
  if (images.length === 0) throw new Error("toInputBatch: no images");
  return tf.tensor4d(toInputArray(images, flip), [images.length, images[0].height, images[0].width, 3], "float32");
}
