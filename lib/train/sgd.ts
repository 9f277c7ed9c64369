/**
 * SGD with momentum and weight decay on explicit variables, with PyTorch's exact update order (torch.optim.SGD,
 * dampening 0, no Nesterov):
 *
 *   d ← g + wd·w;   v ← μ·v + d;   w ← w − lr·v
 *
 * tf.train.momentum differs (it folds the LR into the accumulator and has no weight decay), and its buffers are
 * not reachable for checkpoints; here the momentum buffers are ordinary variables a checkpoint stores and restores.
 * PyTorch starts a buffer as a copy of the first d; starting from zeros gives the same first v exactly (μ·0 + d).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Sgd } from "./sgd.ts";
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const sgd = new Sgd([w], { momentum: 0.9, weightDecay: 5e-4 });
 * const g = tf.tensor1d([0.5, -0.5]);
 * sgd.step([g], 0.1);   // w = [1 − 0.1·(0.5 + 5e-4), 2 − 0.1·(−0.5 + 1e-3)]
 * g.dispose(); sgd.dispose(); w.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { sgdStepFused } from "../backend/fused_ops.ts";

export interface SgdOptions {
  momentum: number;
  weightDecay: number;
}

/** Momentum SGD over a fixed list of variables. */
export class Sgd {
  /** One momentum buffer per variable, same order. */
  readonly buffers: tf.Variable[];

  constructor(readonly variables: readonly tf.Variable[], readonly options: SgdOptions) {
    this.buffers = variables.map((v) => {
      const zeros = tf.zerosLike(v);
      const buffer = tf.variable(zeros, false);
      zeros.dispose(); // the variable holds its own reference to the data
      return buffer;
    });
  }

  /**
   * One update with gradients in variable order. `gradScale` multiplies every gradient first (gradient
   * clipping); the gradients are not disposed.
   */
  step(grads: readonly tf.Tensor[], lr: number, gradScale = 1): void {
    if (grads.length !== this.variables.length) {
      throw new Error(`Sgd.step: ${grads.length} gradients for ${this.variables.length} variables`);
    }
    const { momentum, weightDecay } = this.options;
    tf.tidy(() => {
      this.variables.forEach((w, i) => {
        // One kernel where the backend has it (wasm + the C helper): the same float32 products and sums, one pass.
        const fused = sgdStepFused(w, grads[i], this.buffers[i], {
          lr,
          momentum,
          weightDecay: weightDecay ?? 0,
          gradScale,
        });
        if (fused) {
          this.buffers[i].assign(fused[1]);
          w.assign(fused[0]);
          return;
        }
        const g = gradScale === 1 ? grads[i] : tf.mul(grads[i], gradScale);
        const d = weightDecay ? tf.add(g, tf.mul(w, weightDecay)) : g;
        const v = tf.add(tf.mul(this.buffers[i], momentum), d);
        this.buffers[i].assign(v);
        w.assign(tf.sub(w, tf.mul(v, lr)));
      });
    });
  }

  dispose(): void {
    for (const b of this.buffers) b.dispose();
  }
}
