/**
 * A minimal SFNet (OpenSphere's `SFNet_deprecated`, the backbone of every paper config) for the training-step
 * benchmark, so that `bench train` does not wait on the full model module: four stages of a 3×3 stride-2 conv
 * + ReLU followed by n blocks x + ReLU(conv(ReLU(conv x))), all convs 3×3 with bias and no BN, then flatten and
 * Linear(→512). Same ops as lib/models' convs (`tf.fused.conv2d` with a numeric pad of 1, which tfjs unfuses
 * under a gradient), so the timings carry over.
 *
 * @example
 * ```ts
 * import { MinimalSFNet } from "./sfnet_min.ts";
 * const net = new MinimalSFNet({ depth: 4, width: 0.25, inputSize: 32, seed: 1 });
 * const emb = net.apply(tf.zeros([2, 32, 32, 3]) as tf.Tensor4D); // [2, 512]
 * net.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** What the training benchmark needs from a backbone. */
export interface Backbone {
  /** NHWC images → B×512 embeddings (differentiable). */
  apply(x: tf.Tensor4D): tf.Tensor2D;
  /** Trained (and weight-decayed) variables. */
  trainables(): tf.Variable[];
  dispose(): void;
}

/** Blocks per stage (OpenSphere `SFNet-N`). */
export const SFNET_DEPTHS: Record<number, [number, number, number, number]> = {
  4: [0, 0, 0, 0],
  10: [0, 1, 2, 0],
  20: [1, 2, 4, 1],
  36: [2, 4, 8, 2],
  64: [3, 8, 16, 3],
};

export interface MinimalSFNetOptions {
  depth: number;
  /** Channel multiplier on 64/128/256/512. */
  width: number;
  inputSize: number;
  embeddingDim?: number;
  seed?: number;
}

interface ConvParams {
  /** [3, 3, cin, cout] */
  w: tf.Variable;
  /** [cout] */
  b: tf.Variable;
}

export class MinimalSFNet implements Backbone {
  private readonly stages: { down: ConvParams; blocks: [ConvParams, ConvParams][] }[] = [];
  private readonly fcW: tf.Variable;
  private readonly fcB: tf.Variable;

  constructor(o: MinimalSFNetOptions) {
    const blocks = SFNET_DEPTHS[o.depth];
    if (!blocks) throw new Error(`SFNet depth ${o.depth} unknown; allowed: ${Object.keys(SFNET_DEPTHS).join(", ")}`);
    let seed = o.seed ?? 0;
    // Variables outlive tf.tidy; their initial-value tensors do not (without it, one tensor per variable leaks).
    const conv = (cin: number, cout: number): ConvParams =>
      tf.tidy(() => ({
        // kaiming_normal(fan_out) as OpenSphere's SFNet.
        w: tf.variable(tf.randomNormal([3, 3, cin, cout], 0, Math.sqrt(2 / (9 * cout)), "float32", ++seed)),
        b: tf.variable(tf.zeros([cout])),
      }));
    let cin = 3;
    let side = o.inputSize;
    for (let s = 0; s < 4; s++) {
      const c = Math.max(1, Math.round([64, 128, 256, 512][s] * o.width));
      const stage = { down: conv(cin, c), blocks: [] as [ConvParams, ConvParams][] };
      for (let i = 0; i < blocks[s]; i++) stage.blocks.push([conv(c, c), conv(c, c)]);
      this.stages.push(stage);
      cin = c;
      side = Math.floor((side - 1) / 2) + 1;
    }
    const d = o.embeddingDim ?? 512;
    const fanIn = side * side * cin;
    this.fcW = tf.tidy(() =>
      tf.variable(tf.randomNormal([fanIn, d], 0, Math.sqrt(2 / (fanIn + d)), "float32", ++seed))
    );
    this.fcB = tf.tidy(() => tf.variable(tf.zeros([d])));
  }

  apply(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const conv = (t: tf.Tensor4D, p: ConvParams, stride: number) =>
        tf.fused.conv2d({ x: t, filter: p.w as tf.Tensor4D, strides: stride, pad: 1, bias: p.b, activation: "relu" });
      let h = x;
      for (const stage of this.stages) {
        h = conv(h, stage.down, 2);
        for (const [c1, c2] of stage.blocks) h = tf.add(h, conv(conv(h, c1, 1), c2, 1));
      }
      const [b, hh, ww, c] = h.shape;
      return tf.fused.matMul({ a: tf.reshape(h, [b, hh * ww * c]), b: this.fcW as tf.Tensor2D, bias: this.fcB });
    }) as tf.Tensor2D;
  }

  trainables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const s of this.stages) {
      out.push(s.down.w, s.down.b);
      for (const [c1, c2] of s.blocks) out.push(c1.w, c1.b, c2.w, c2.b);
    }
    out.push(this.fcW, this.fcB);
    return out;
  }

  dispose(): void {
    tf.dispose(this.trainables());
  }
}
