/**
 * `deno task align IMAGE --landmarks x1,y1,...,x5,y5 [--size 112] [--out FILE.png]`: 5-point alignment of one
 * image (landmarks in the image's own pixels: left eye, right eye, nose tip, left and right mouth corner). Prints
 * `{"matrix": [[…],[…]]}` (source pixel → crop pixel) and writes the crop as PNG (default `<IMAGE>.aligned<SIZE>.png`
 * beside the image) through a temporary file, so a failure leaves nothing partial.
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, UsageError } from "../lib/cli/flags.ts";
import { alignFace } from "../lib/data/alignment.ts";
import { encodePng, readImage } from "../lib/data/image.ts";

const Flags = z.strictObject({
  landmarks: z.string({ error: "required: x1,y1,...,x5,y5 (10 numbers)" }).transform((s, ctx) => {
    const v = s.split(",").map((x) => Number(x.trim()));
    if (v.length !== 10 || !v.every(Number.isFinite)) {
      ctx.addIssue({ code: "custom", message: `expected 10 comma-separated numbers x1,y1,...,x5,y5, got ${v.length}` });
      return z.NEVER;
    }
    return v;
  }),
  size: z.coerce.number().int().min(8).max(1024).default(112),
  out: z.string().min(1).optional(),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "align");
  if (positionals.length !== 1) throw new UsageError("align: give exactly one IMAGE");
  const image = positionals[0];
  const { crop, matrix } = alignFace(await readImage(image), flags.landmarks, flags.size);
  const out = flags.out ?? `${image.replace(/\.[^./]+$/, "")}.aligned${flags.size}.png`;
  const tmp = `${out}.tmp-${Deno.pid}`;
  try {
    await Deno.writeFile(tmp, await encodePng(crop));
    await Deno.rename(tmp, out);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  console.error(`align: wrote ${out} (${flags.size}x${flags.size})`);
  console.log(JSON.stringify({ matrix, out }));
});
