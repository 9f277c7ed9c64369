/**
 * A trained model back from a run folder (`run.json` + `checkpoint.sf2`, as `trainRun` writes them, or as
 * `deno task import` writes them for a PyTorch checkpoint: then `run.json` has `imported`, the model config and the
 * preprocessing its source trained with), and an image embedder over it for evaluation: 5-point alignment to the
 * model's input size, the run's preprocessing, flip fusion, L2 normalisation.
 *
 * @example
 * ```ts
 * import { loadTrainedModel } from "./restore.ts";
 * const { model, config, step } = await loadTrainedModel("results/train/toy-sfnet4-sphereface2");
 * model.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { z } from "zod";
import { alignFace } from "../data/alignment.ts";
import { readImage } from "../data/image.ts";
import { KIT_PREPROCESS, type Preprocess, PreprocessSchema } from "../data/preprocess.ts";
import { embedCrop } from "../eval/embed.ts";
import type { ImageEmbedder } from "../eval/run.ts";
import { formatZodError } from "../losses/config.ts";
import { ModelConfigSchema } from "../models/config.ts";
import { createModel, type Model } from "../models/registry.ts";
import { readCheckpoint } from "./checkpoint.ts";
import { parseTrainConfig, type TrainConfig } from "./config.ts";
import { RUN_FILES } from "./loop.ts";

export interface TrainedModel {
  model: Model;
  /** The training config; null for a model imported from another framework (`run.json` has `imported`). */
  config: TrainConfig | null;
  /** The run's name (`config.name`, or the imported run's `name`). */
  name: string;
  /** Input pixels as the model was trained on them (kit runs: {@link KIT_PREPROCESS}). */
  preprocess: Preprocess;
  /** Training steps done when the checkpoint was written (0 for an imported model). */
  step: number;
  runDir: string;
}

/** `run.json` of an imported model (`deno task import`): where it came from and how to feed it. */
const ImportedRunSchema = z.object({
  name: z.string().min(1),
  imported: z.record(z.string(), z.unknown()),
  config: z.object({ model: ModelConfigSchema }),
  preprocess: PreprocessSchema,
});

/**
 * Rebuilds the model of a run folder and loads its checkpointed weights (BN statistics included). A training run
 * folder (`deno task train`) or an imported one (`deno task import`, recognised by `imported` in run.json).
 */
export async function loadTrainedModel(runDir: string): Promise<TrainedModel> {
  const runFile = join(runDir, RUN_FILES.run);
  let record: { config?: unknown; imported?: unknown };
  try {
    record = JSON.parse(await Deno.readTextFile(runFile));
  } catch (err) {
    throw new Error(
      `${runFile}: cannot read the run record (${(err as Error).message}); is ${runDir} a training run folder?`,
    );
  }
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    throw new Error(`${runFile}: the run record must be a JSON object, got ${JSON.stringify(record).slice(0, 40)}`);
  }
  let config: TrainConfig | null = null;
  let modelConfig: unknown;
  let name: string;
  let preprocess = KIT_PREPROCESS;
  if (record.imported !== undefined) {
    const parsed = ImportedRunSchema.safeParse(record);
    if (!parsed.success) throw new Error(formatZodError(parsed.error, runFile));
    modelConfig = parsed.data.config.model;
    name = parsed.data.name;
    preprocess = parsed.data.preprocess;
  } else {
    config = parseTrainConfig(record.config, `${runFile}: config`);
    modelConfig = config.model;
    name = config.name;
  }
  const checkpointFile = join(runDir, RUN_FILES.checkpoint);
  const ck = await readCheckpoint(checkpointFile);
  const model = createModel(modelConfig, { seed: 0 }, "model");
  try {
    for (const [name, variable] of model.variables) {
      const t = ck.tensors.get(`model/${name}`);
      if (!t) throw new Error(`${checkpointFile}: missing tensor model/${name}`);
      if (t.shape.join() !== variable.shape.join()) {
        throw new Error(
          `${checkpointFile}: model/${name} has shape [${t.shape}], the model expects [${variable.shape}]`,
        );
      }
      const value = tf.tensor(t.data, t.shape, "float32");
      variable.assign(value);
      value.dispose();
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  const step = Number((ck.header.state as { step?: number }).step ?? 0);
  return { model, config, name, preprocess, step, runDir };
}

/**
 * Embeds image files with a trained model: each image is aligned from its landmarks (given in the image's own
 * pixels) to the model's input size, embedded with its mirror image (sum of the two, eval-mode BN), L2-normalised.
 */
export function modelEmbedder(
  trained: TrainedModel,
  landmarksOf: (path: string, width: number) => readonly number[],
): ImageEmbedder {
  const size = trained.model.config.inputSize;
  return {
    name: `${trained.name}@${trained.step}`,
    async embed(path: string): Promise<Float32Array> {
      const img = await readImage(path);
      const { crop } = alignFace(img, landmarksOf(path, img.width), size);
      return embedCrop((x) => trained.model.forward(x, false), crop, { preprocess: trained.preprocess });
    },
  };
}
