/**
 * The training-step benchmark: one full SGD step of an SFNet backbone with the SphereFace2-C head (λ .7, r 40,
 * m .4, t 3, lw 10), forward, backward, and SGD with momentum 0.9 and weight decay 5e-4 (PyTorch's rule:
 * g ← g + wd·p; buf ← 0.9·buf + g; p ← p − lr·buf) on random data generated once before timing, so data
 * loading is off the critical path. The PyTorch twin is tasks/reference/bench_train_torch.py.
 *
 * @example
 * ```ts
 * import { benchTrain } from "./train.ts";
 * const r = await benchTrain({ depth: 4, width: 0.125, size: 16, batch: 2, classes: 10, warmup: 1, steps: 1 });
 * console.log(r.imagesPerSecond);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Head } from "../losses/head.ts";
import { parseHeadConfig } from "../losses/config.ts";
import { createHead } from "../losses/registry.ts";
import { createModel, type Model } from "../models/registry.ts";
import { Sgd } from "../train/sgd.ts";
import { extractFeatures } from "../eval/verification.ts";
import { type StepTimes, timeSteps } from "./timing.ts";

export interface TrainBenchOptions {
  /** SFNet depth (4, 10, 20, 36, 64). */
  depth: number;
  width: number;
  /** Input side in pixels. */
  size: number;
  batch: number;
  classes: number;
  /** Embedding size (default 512, the paper's). */
  featDim?: number;
  warmup: number;
  steps: number;
  seed?: number;
  lr?: number;
}

export interface TrainBenchResult {
  bench: "train";
  model: string;
  width: number;
  size: number;
  batch: number;
  classes: number;
  params: number;
  backend: string;
  /** Data-parallel workers (1: one process; both cores come from the native kernels' threads). */
  workers: number;
  steps: number;
  stepSeconds: number;
  minStepSeconds: number;
  imagesPerSecond: number;
  peakRssMB: number;
  /** Tensors alive after the run minus before: must be 0. */
  leakedTensors: number;
  /** Loss after the last step (finite: the step is sane). */
  lastLoss: number;
}

/**
 * One training step exactly as the training loop takes it (lib/train): W re-normalised, forward, SphereFace2 loss,
 * backward, the kit's PyTorch-semantics SGD, BN statistics committed. Reused by tests (leak checks) and the benchmark.
 */
export class TrainStep {
  readonly vars: tf.Variable[];
  private readonly sgd: Sgd;

  constructor(readonly model: Model, readonly head: Head, readonly lr = 0.01) {
    this.vars = [...model.trainables(), ...head.trainables()];
    this.sgd = new Sgd(this.vars, { momentum: 0.9, weightDecay: 5e-4 });
  }

  /** Forward, backward, update; returns the loss value (awaited, so asynchronous backends finish the step). */
  async run(x: tf.Tensor4D, labels: tf.Tensor1D): Promise<number> {
    this.head.prepare();
    const { value, grads } = tf.variableGrads(() => this.head.loss(this.model.forward(x, true), labels), this.vars);
    const gradList = this.vars.map((v) => grads[v.name]);
    this.sgd.step(gradList, this.lr);
    this.model.commitBatchStats();
    const loss = (await value.data())[0];
    tf.dispose([value, ...gradList]);
    return loss;
  }

  dispose(): void {
    this.sgd.dispose();
  }
}

/** Times full training steps after warm-up. */
export async function benchTrain(o: TrainBenchOptions): Promise<TrainBenchResult> {
  const before = tf.memory().numTensors;
  const seed = o.seed ?? 0;
  const model = createModel(
    { type: "sfnet", depth: o.depth, width: o.width, inputSize: o.size, featDim: o.featDim ?? 512 },
    { seed },
    "bench model",
  );
  const head = createHead(parseHeadConfig({ type: "sphereface2" }), {
    featDim: o.featDim ?? 512,
    numClasses: o.classes,
    seed: seed + 1000,
  });
  const step = new TrainStep(model, head, o.lr ?? 0.01);
  const x = tf.randomNormal([o.batch, o.size, o.size, 3], 0, 1, "float32", seed + 1) as tf.Tensor4D;
  const labels = tf.randomUniform([o.batch], 0, o.classes, "int32", seed + 2) as tf.Tensor1D;
  const params = step.vars.reduce((n, v) => n + v.size, 0);
  let lastLoss = NaN;
  let times;
  try {
    times = await timeSteps(async () => {
      lastLoss = await step.run(x, labels);
    }, { warmup: o.warmup, steps: o.steps });
  } finally {
    step.dispose();
    model.dispose();
    head.dispose();
    tf.dispose([x, labels]);
  }
  return {
    bench: "train",
    model: `sfnet${o.depth}`,
    width: o.width,
    size: o.size,
    batch: o.batch,
    classes: o.classes,
    params,
    ...timedFields(o, times, before),
    lastLoss,
  };
}

/** The fields every bench result shares: backend, timing (median, min, images/s), peak RSS, leaked tensors. */
function timedFields(o: { batch: number; steps: number }, times: StepTimes, tensorsBefore: number) {
  return {
    backend: tf.getBackend(),
    workers: 1,
    steps: o.steps,
    stepSeconds: times.medianSeconds,
    minStepSeconds: times.minSeconds,
    imagesPerSecond: o.batch / times.medianSeconds,
    peakRssMB: times.peakRssMB,
    leakedTensors: tf.memory().numTensors - tensorsBefore,
  };
}

/** Result of {@link benchEmbed}: embedding extraction as `deno task eval` runs it (eval forward, flip-fused). */
export interface EmbedBenchResult extends Omit<TrainBenchResult, "bench" | "classes" | "lastLoss"> {
  bench: "embed";
}

/**
 * Times embedding extraction: {@link extractFeatures} (eval-mode forward of the image and its horizontal flip,
 * summed and L2-normalised, read back) on one random batch per step, after warm-up.
 */
export async function benchEmbed(o: Omit<TrainBenchOptions, "classes">): Promise<EmbedBenchResult> {
  const before = tf.memory().numTensors;
  const seed = o.seed ?? 0;
  const model = createModel(
    { type: "sfnet", depth: o.depth, width: o.width, inputSize: o.size, featDim: o.featDim ?? 512 },
    { seed },
    "bench model",
  );
  const x = tf.randomNormal([o.batch, o.size, o.size, 3], 0, 1, "float32", seed + 1) as tf.Tensor4D;
  const images = { count: o.batch, batch: () => x.clone() as tf.Tensor4D };
  const params = model.trainables().reduce((n, v) => n + v.size, 0);
  let times;
  try {
    times = await timeSteps(async () => {
      await extractFeatures((b) => model.forward(b, false), images, { batchSize: o.batch });
    }, { warmup: o.warmup, steps: o.steps });
  } finally {
    model.dispose();
    x.dispose();
  }
  return {
    bench: "embed",
    model: `sfnet${o.depth}`,
    width: o.width,
    size: o.size,
    batch: o.batch,
    params,
    ...timedFields(o, times, before),
  };
}
