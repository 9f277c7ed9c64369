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
import { createHead } from "../losses/registry.ts";
import { type Backbone, MinimalSFNet } from "./sfnet_min.ts";
import { timeSteps } from "./timing.ts";

export interface TrainBenchOptions {
  /** SFNet depth (4, 10, 20, 36, 64). */
  depth: number;
  width: number;
  /** Input side in pixels. */
  size: number;
  batch: number;
  classes: number;
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

/** SGD with momentum and coupled weight decay, exactly PyTorch's `torch.optim.SGD(momentum, weight_decay)`. */
export class MomentumSGD {
  private readonly buffers = new Map<tf.Variable, tf.Variable>();
  constructor(readonly lr: number, readonly momentum = 0.9, readonly weightDecay = 5e-4) {}

  /** Applies one update; does not dispose `grads`. */
  apply(vars: readonly tf.Variable[], grads: tf.NamedTensorMap): void {
    for (const v of vars) {
      const g = grads[v.name];
      if (!g) continue;
      let buf = this.buffers.get(v);
      tf.tidy(() => {
        const d = this.weightDecay ? tf.add(g, tf.mul(v, this.weightDecay)) : g;
        if (!buf) {
          buf = tf.variable(d, false);
          this.buffers.set(v, buf);
        } else {
          buf.assign(tf.add(tf.mul(buf, this.momentum), d));
        }
        v.assign(tf.sub(v, tf.mul(buf, this.lr)));
      });
    }
  }

  dispose(): void {
    tf.dispose([...this.buffers.values()]);
    this.buffers.clear();
  }
}

/** One training step's pieces, reusable by tests (leak checks) and the benchmark. */
export class TrainStep {
  readonly vars: tf.Variable[];
  private readonly optimizer: MomentumSGD;

  constructor(readonly backbone: Backbone, readonly head: Head, lr = 0.01) {
    this.vars = [...backbone.trainables(), ...head.trainables()];
    this.optimizer = new MomentumSGD(lr);
  }

  /** Forward, backward, update; returns the loss value (awaited, so asynchronous backends finish the step). */
  async run(x: tf.Tensor4D, labels: tf.Tensor1D): Promise<number> {
    this.head.prepare();
    const { value, grads } = tf.variableGrads(() => this.head.loss(this.backbone.apply(x), labels), this.vars);
    this.optimizer.apply(this.vars, grads);
    const loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** Times full training steps after warm-up. */
export async function benchTrain(o: TrainBenchOptions): Promise<TrainBenchResult> {
  const before = tf.memory().numTensors;
  const seed = o.seed ?? 0;
  const backbone = new MinimalSFNet({ depth: o.depth, width: o.width, inputSize: o.size, seed });
  const head = createHead({ type: "sphereface2" }, { featDim: 512, numClasses: o.classes, seed: seed + 1000 });
  const step = new TrainStep(backbone, head, o.lr ?? 0.01);
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
    backbone.dispose();
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
    backend: tf.getBackend(),
    workers: 1,
    steps: o.steps,
    stepSeconds: times.medianSeconds,
    minStepSeconds: times.minSeconds,
    imagesPerSecond: o.batch / times.medianSeconds,
    peakRssMB: times.peakRssMB,
    leakedTensors: tf.memory().numTensors - before,
    lastLoss,
  };
}
