/**
 * A trained model back from a run folder (`run.json` + `checkpoint.sf2`, as `trainRun` writes them), and an image
 * embedder over it for evaluation: 5-point alignment to the model's input size, flip fusion, L2 normalisation.
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
import { alignFace } from "../data/alignment.ts";
import { readImage } from "../data/image.ts";
import type { ImageEmbedder } from "../eval/run.ts";
import { createModel, type Model } from "../models/registry.ts";
import { readCheckpoint } from "./checkpoint.ts";
import { parseTrainConfig, type TrainConfig } from "./config.ts";
import { RUN_FILES } from "./loop.ts";

export interface TrainedModel {
  model: Model;
  config: TrainConfig;
  /** Training steps done when the checkpoint was written. */
  step: number;
  runDir: string;
}

/** Rebuilds the model of a run folder and loads its checkpointed weights (BN statistics included). */
export async function loadTrainedModel(runDir: string): Promise<TrainedModel> {
  const runFile = join(runDir, RUN_FILES.run);
  let record: { config?: unknown };
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
  const config = parseTrainConfig(record.config, `${runFile}: config`);
  const checkpointFile = join(runDir, RUN_FILES.checkpoint);
  const ck = await readCheckpoint(checkpointFile);
  const model = createModel(config.model, { seed: 0 }, "model");
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
  return { model, config, step, runDir };
}

/**
 * Embeds image files with a trained model: each image is aligned from its landmarks (given in the image's own
 * pixels) to the model's input size, embedded with its mirror image (sum of the two, eval-mode BN), L2-normalised.
 */
export function modelEmbedder(
  trained: TrainedModel,
  landmarksOf: (path: string, width: number) => readonly number[],
): ImageEmbedder {
  const size = trained.config.model.inputSize;
  return {
    name: `${trained.config.name}@${trained.step}`,
    async embed(path: string): Promise<Float32Array> {
      const img = await readImage(path);
      const { crop } = alignFace(img, landmarksOf(path, img.width), size);
      const pixels = Float32Array.from(crop.data, (v) => (v - 127.5) / 127.5);
      const feature = tf.tidy(() => {
        const x = tf.tensor4d(pixels, [1, size, size, 3]);
        const both = trained.model.forward(tf.concat([x, tf.reverse(x, 2)]), false);
        const sum = tf.sum(both, 0);
        return tf.div(sum, tf.maximum(tf.norm(sum), 1e-12));
      });
      const values = (await feature.data()) as Float32Array;
      feature.dispose();
      return values;
    },
  };
}
