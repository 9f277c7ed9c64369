/**
 * SFNet-4/10/20/36/64, the SphereFace papers' plain residual nets, as OpenSphere builds them
 * (`model/backbone/sfnet_deprecated.py`, `sfnet.py`; shared/notes/opensphere.md §3):
 *
 * - four stages of 64/128/256/512 channels (× `width`), each a 3×3 stride-2 conv + ReLU, then n residual blocks
 *   of two 3×3 convs (n per stage from {@link SFNET_BLOCKS});
 * - block `deprecated` (every paper config): x + ReLU(conv(ReLU(conv x))); block `sfnet`: ReLU(x + conv(ReLU(conv x)));
 * - no BN (convs with bias) unless `bn`: then BN2d after every conv (convs without bias) and BN1d after the FC;
 * - flatten (H, W, C order, see {@link flatten}) and Linear(C·7·7 → 512) with bias, nothing after it.
 *
 * At width 1 on 112×112 the trainable counts equal PyTorch's: SFNet-20 24,500,992, SFNet-64 50,020,864.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { sfnetSpecs } from "./sfnet.ts";
 * import { countParams } from "./spec.ts";
 * const cfg = parseModelConfig({ type: "sfnet", depth: 20 });
 * countParams(sfnetSpecs(cfg as never)).trainable; // 24500992
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { finalMapSize, SFNET_BLOCKS, type SFNetConfig, stageChannels } from "./config.ts";
import { batchNorm, conv, flatten, type ForwardContext, linear } from "./layers.ts";
import { convInit, type ParamSpec, SpecList } from "./spec.ts";

const blocksOf = (c: SFNetConfig) => SFNET_BLOCKS[c.depth as keyof typeof SFNET_BLOCKS];

/** Every tensor of an SFNet, in forward order. */
export function sfnetSpecs(c: SFNetConfig): ParamSpec[] {
  const list = new SpecList();
  const channels = stageChannels(c.width);
  const stageInit = c.init === "kaiming" ? convInit.kaimingFanOut : convInit.xavierNormal;
  const blockInit = (k: number, cin: number, cout: number) =>
    c.init === "iclr"
      ? convInit.normal(0.01)
      : c.init === "kaiming"
      ? convInit.kaimingFanOut(k, cin, cout)
      : convInit.xavierNormal(k, cin, cout);
  let cin = 3;
  blocksOf(c).forEach((n, s) => {
    const co = channels[s];
    const stage = `stage${s + 1}`;
    list.conv(`${stage}.conv`, 3, cin, co, !c.bn, stageInit(3, cin, co));
    if (c.bn) list.batchNorm(`${stage}.bn`, co);
    for (let b = 1; b <= n; b++) {
      for (const j of [1, 2]) {
        list.conv(`${stage}.block${b}.conv${j}`, 3, co, co, !c.bn, blockInit(3, co, co));
        if (c.bn) list.batchNorm(`${stage}.block${b}.bn${j}`, co);
      }
    }
    cin = co;
  });
  const side = finalMapSize(c.inputSize);
  list.linear("fc", cin * side * side, c.featDim);
  if (c.bn) list.batchNorm("features", c.featDim, c.finalBnWeight);
  return list.specs;
}

/** Conv (+ BN) + optional ReLU, as the config places them. */
function convUnit(
  c: SFNetConfig,
  ctx: ForwardContext,
  name: string,
  bnName: string,
  x: tf.Tensor4D,
  stride: number,
  relu: boolean,
) {
  if (!c.bn) return conv(ctx, name, x, { stride, relu });
  const y = batchNorm(ctx, bnName, conv(ctx, name, x, { stride, bias: false }));
  return relu ? tf.relu(y) : y;
}

/** The embedding [B, featDim] of NHWC images [B, S, S, 3] (S = `inputSize`). */
export function sfnetForward(c: SFNetConfig, ctx: ForwardContext, images: tf.Tensor4D): tf.Tensor2D {
  let x = images;
  blocksOf(c).forEach((n, s) => {
    const stage = `stage${s + 1}`;
    x = convUnit(c, ctx, `${stage}.conv`, `${stage}.bn`, x, 2, true);
    for (let b = 1; b <= n; b++) {
      const p = `${stage}.block${b}`;
      const h = convUnit(c, ctx, `${p}.conv1`, `${p}.bn1`, x, 1, true);
      if (c.block === "deprecated") {
        x = tf.add(x, convUnit(c, ctx, `${p}.conv2`, `${p}.bn2`, h, 1, true));
      } else {
        x = tf.relu(tf.add(x, convUnit(c, ctx, `${p}.conv2`, `${p}.bn2`, h, 1, false)));
      }
    }
  });
  const e = linear(ctx, "fc", flatten(x));
  return c.bn ? batchNorm(ctx, "features", e) : e;
}
