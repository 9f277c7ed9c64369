/**
 * `deno task align IMAGE --landmarks x1,y1,...,x5,y5 [--size 112] [--out FILE.png]`: 5-point alignment of one
 * image (landmarks in the image's own pixels: left eye, right eye, nose tip, left and right mouth corner). Prints
 * `{"matrix": [[…],[…]]}` (source pixel → crop pixel) and writes the crop as PNG or JPEG by the extension of
 * `--out` (default `<IMAGE>.aligned<SIZE>.png` beside the image) through a temporary file, so a failure leaves
 * nothing partial. Landmarks must be finite and within one image size of the frame. Relative paths are taken from
 * the directory the command was started in.
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, UsageError, userPath } from "../lib/cli/flags.ts";
import { alignFace } from "../lib/data/alignment.ts";
import { encodeJpeg, encodePng, readImage, type RgbImage } from "../lib/data/image.ts";

const ENCODERS: Record<string, (img: RgbImage) => Promise<Uint8Array>> = {
  png: encodePng,
  jpg: (img) => encodeJpeg(img),
  jpeg: (img) => encodeJpeg(img),
};
const extensionOf = (path: string) => /\.([^./]+)$/.exec(path)?.[1].toLowerCase() ?? "";

const Flags = z.strictObject({
  landmarks: z.string({ error: "required: x1,y1,...,x5,y5 (10 numbers)" }).transform((s, ctx) => {
    const fields = s.split(",").map((x) => x.trim());
    if (fields.length !== 10) {
      ctx.addIssue({
        code: "custom",
        message: `expected 10 comma-separated numbers x1,y1,...,x5,y5, got ${fields.length}`,
      });
      return z.NEVER;
    }
    const bad = fields.findIndex((f) => f === "" || !Number.isFinite(Number(f)));
    if (bad >= 0) {
      ctx.addIssue({
        code: "custom",
        message: `value ${bad + 1} (${JSON.stringify(fields[bad])}) is not a finite number`,
      });
      return z.NEVER;
    }
    return { values: fields.map(Number), fields };
  }),
  size: z.coerce.number().int().min(8).max(1024).default(112),
  out: z.string().min(1).optional().refine((o) => o === undefined || extensionOf(o) in ENCODERS, {
    error: (issue) => `cannot write ${JSON.stringify(issue.input)}: the extension picks the format (png, jpg, jpeg)`,
  }),
});

/** Landmarks may lie a little outside the frame (faces at the border), not beyond one image size. */
function checkRange(fields: string[], values: number[], width: number, height: number): void {
  values.forEach((v, i) => {
    const extent = i % 2 === 0 ? width : height;
    if (v < -extent || v > 2 * extent) {
      throw new UsageError(
        `align: --landmarks: value ${i + 1} (${fields[i]}) is outside the image (${width}x${height}); ` +
          `landmarks are pixel coordinates of IMAGE`,
      );
    }
  });
}

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "align", { paths: ["out"] });
  if (positionals.length !== 1) throw new UsageError("align: give exactly one IMAGE");
  const image = userPath(positionals[0]);
  const img = await readImage(image);
  checkRange(flags.landmarks.fields, flags.landmarks.values, img.width, img.height);
  const { crop, matrix } = alignFace(img, flags.landmarks.values, flags.size);
  const out = flags.out ?? `${image.replace(/\.[^./]+$/, "")}.aligned${flags.size}.png`;
  const tmp = `${out}.tmp-${Deno.pid}`;
  try {
    await Deno.writeFile(tmp, await ENCODERS[extensionOf(out)](crop));
    await Deno.rename(tmp, out);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  console.error(`align: wrote ${out} (${flags.size}x${flags.size})`);
  console.log(JSON.stringify({ matrix, out }));
});
