/**
 * `deno task embed RUN_DIR --images LIST --out FILE.npy [--flip] [--raw] [--backend NAME]`: embeddings of aligned
 * face crops with a run folder's model (trained by `deno task train` or imported by `deno task import`), through
 * the same code path as `deno task eval` (the run's preprocessing, eval-mode BN; `--flip` sums the embeddings of
 * each crop and its mirror image as eval does). LIST has one image path per line (relative paths are relative to
 * LIST's folder; blank lines and `#` comments are skipped); every crop must already be aligned at the model's
 * input size. Writes a float32 [N, d] .npy, rows L2-normalised (`--raw`: not normalised), atomically.
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { Progress } from "../lib/cli/progress.ts";
import { readTextFile } from "../lib/data/errors.ts";
import { readImage } from "../lib/data/image.ts";
import { encodeNpy } from "../lib/data/npy.ts";
import { writeFileAtomic } from "../lib/train/checkpoint.ts";
import { embedCrop } from "../lib/eval/embed.ts";
import { loadTrainedModel } from "../lib/train/restore.ts";

const USAGE = `usage: deno task embed RUN_DIR --images LIST --out FILE.npy [--flip] [--raw] [--backend NAME]
  RUN_DIR   a run folder (deno task train or deno task import)
  --images  text file, one image path per line (relative to the file's folder); crops aligned at the model's size
  --out     the .npy to write: float32 [N, d], row i = line i
  --flip    fuse each crop with its mirror image (sum of the two embeddings), as deno task eval does
  --raw     do not L2-normalise the rows`;

const Flags = z.strictObject({
  images: z.string().min(1).optional(),
  out: z.string().min(1).optional(),
  flip: z.boolean().default(false),
  raw: z.boolean().default(false),
  backend: backendFlag,
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "embed");
  if (positionals.length !== 1) throw new UsageError(`embed: give exactly one RUN_DIR\n${USAGE}`);
  if (!flags.images || !flags.out) {
    throw new UsageError(`embed: --images LIST and --out FILE.npy are required\n${USAGE}`);
  }
  const lines = (await readTextFile(flags.images, "image list")).split("\n");
  const paths: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    paths.push(isAbsolute(line) ? line : join(dirname(flags.images), line));
  }
  if (!paths.length) throw new UsageError(`embed: ${flags.images} lists no images`);
  await startBackend(flags.backend);
  const trained = await loadTrainedModel(positionals[0]);
  try {
    const d = trained.model.config.featDim, size = trained.model.config.inputSize;
    const forward = (x: tf.Tensor4D) => trained.model.forward(x, false);
    const out = new Float32Array(paths.length * d);
    const bar = new Progress(`embed ${paths.length} images`, paths.length);
    for (const [i, path] of paths.entries()) {
      const crop = await readImage(path);
      if (crop.width !== size || crop.height !== size) {
        throw new Error(
          `${path}: crop is ${crop.width}×${crop.height}, the model takes ${size}×${size} (align it first)`,
        );
      }
      const options = { preprocess: trained.preprocess, flip: flags.flip, normalise: !flags.raw };
      out.set(await embedCrop(forward, crop, options), i * d);
      bar.tick();
    }
    bar.done();
    await writeFileAtomic(flags.out, encodeNpy(out, [paths.length, d]));
    console.log(
      JSON.stringify({ out: flags.out, images: paths.length, dim: d, flip: flags.flip, normalised: !flags.raw }),
    );
  } finally {
    trained.model.dispose();
  }
});
