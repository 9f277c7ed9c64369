/**
 * The head benchmark: one forward + backward pass of a loss head (W re-normalisation included, as in every
 * training step) on a random batch, B×d embeddings and K classes.
 *
 * @example
 * ```ts
 * import { benchHead } from "./head.ts";
 * const r = await benchHead({ loss: "sphereface2", batch: 8, dim: 16, classes: 100, warmup: 1, steps: 2 });
 * console.log(r.imagesPerSecond);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type HeadType, parseHeadConfig } from "../losses/config.ts";
import { headGradients } from "../losses/head.ts";
import { createHead } from "../losses/registry.ts";
import { timeSteps } from "./timing.ts";

export interface HeadBenchOptions {
  loss: HeadType;
  batch: number;
  dim: number;
  classes: number;
  warmup: number;
  steps: number;
  seed?: number;
}

export interface HeadBenchResult {
  bench: "head";
  loss: HeadType;
  batch: number;
  dim: number;
  classes: number;
  backend: string;
  steps: number;
  stepSeconds: number;
  imagesPerSecond: number;
  peakRssMB: number;
  /** Tensors alive after the run minus before: must be 0. */
  leakedTensors: number;
}

/** Times forward + backward of the head (SphereFace2 at the paper's sec31 settings unless `loss` says otherwise). */
export async function benchHead(o: HeadBenchOptions): Promise<HeadBenchResult> {
  const before = tf.memory().numTensors;
  const head = createHead(parseHeadConfig({ type: o.loss }), {
    featDim: o.dim,
    numClasses: o.classes,
    seed: o.seed ?? 0,
  });
  const x = tf.randomNormal([o.batch, o.dim], 0, 1, "float32", 1) as tf.Tensor2D;
  const labels = tf.randomUniform([o.batch], 0, o.classes, "int32", 2) as tf.Tensor1D;
  let times;
  try {
    times = await timeSteps(async () => {
      const g = headGradients(head, x, labels);
      // Reading one value back forces asynchronous backends (webgpu) to finish the step.
      const probe = g.gradW.slice([0, 0], [1, 1]);
      await probe.data();
      tf.dispose([probe, g.loss, g.gradX, g.gradW, g.gradBias ?? []]);
    }, { warmup: o.warmup, steps: o.steps });
  } finally {
    head.dispose();
    tf.dispose([x, labels]);
  }
  return {
    bench: "head",
    loss: o.loss,
    batch: o.batch,
    dim: o.dim,
    classes: o.classes,
    backend: tf.getBackend(),
    steps: o.steps,
    stepSeconds: times.medianSeconds,
    imagesPerSecond: o.batch / times.medianSeconds,
    peakRssMB: times.peakRssMB,
    leakedTensors: tf.memory().numTensors - before,
  };
}
