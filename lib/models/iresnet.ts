/**
 * IResNet-18/34/50/100 (insightface's "improved ResNet", as OpenSphere ships it; shared/notes/opensphere.md §3):
 *
 * - stem: 3×3 conv (3 → 64, stride 1, no bias), BN, PReLU;
 * - four stages of 64/128/256/512 channels (× `width`) with {@link IRESNET_BLOCKS} blocks; every stage starts with
 *   stride 2 and a shortcut of 1×1 stride-2 conv + BN;
 * - block: BN → conv3×3 → BN → PReLU → conv3×3(stride) → BN, plus the shortcut, nothing after the add;
 * - BN2d(512) → flatten (H, W, C order) → Linear(512·7·7 → 512) → BN1d(512).
 * - init: convs N(0, 0.1), BN 1/0, PReLU 0.25, FC PyTorch default; the final BN1d weight is 0.1 and trained
 *   (`main`) or 1 and frozen (`v0`).
 *
 * IResNet-100 at width 1 on 112×112 has 65,156,160 parameters (main), 69,632 BN buffer values.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * import { iresnetSpecs } from "./iresnet.ts";
 * import { countParams } from "./spec.ts";
 * countParams(iresnetSpecs(parseModelConfig({ type: "iresnet", depth: 100 }) as never)).trainable; // 65156160
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { finalMapSize, IRESNET_BLOCKS, type IResNetConfig, stageChannels } from "./config.ts";
import { batchNorm, conv, flatten, type ForwardContext, linear, prelu } from "./layers.ts";
import { convInit, type ParamSpec, SpecList } from "./spec.ts";

const blocksOf = (c: IResNetConfig) => IRESNET_BLOCKS[c.depth as keyof typeof IRESNET_BLOCKS];
const CONV_INIT = convInit.normal(0.1);

/** Every tensor of an IResNet, in forward order. */
export function iresnetSpecs(c: IResNetConfig): ParamSpec[] {
  const list = new SpecList();
  const channels = stageChannels(c.width);
  let cin = channels[0];
  list.conv("stem.conv", 3, 3, cin, false, CONV_INIT);
  list.batchNorm("stem.bn", cin);
  list.prelu("stem.prelu", cin);
  blocksOf(c).forEach((n, s) => {
    const co = channels[s];
    for (let b = 1; b <= n; b++) {
      const p = `stage${s + 1}.block${b}`;
      list.batchNorm(`${p}.bn1`, cin);
      list.conv(`${p}.conv1`, 3, cin, co, false, CONV_INIT);
      list.batchNorm(`${p}.bn2`, co);
      list.prelu(`${p}.prelu`, co);
      list.conv(`${p}.conv2`, 3, co, co, false, CONV_INIT);
      list.batchNorm(`${p}.bn3`, co);
      if (b === 1) {
        list.conv(`${p}.shortcut.conv`, 1, cin, co, false, CONV_INIT);
        list.batchNorm(`${p}.shortcut.bn`, co);
      }
      cin = co;
    }
  });
  list.batchNorm("bn", cin);
  const side = finalMapSize(c.inputSize);
  list.linear("fc", cin * side * side, c.featDim);
  list.batchNorm("features", c.featDim, c.variant === "main" ? 0.1 : 1, c.variant === "main" ? "param" : "frozen");
  return list.specs;
}

/** The embedding [B, featDim] of NHWC images [B, S, S, 3]. */
export function iresnetForward(c: IResNetConfig, ctx: ForwardContext, images: tf.Tensor4D): tf.Tensor2D {
  let x = prelu(ctx, "stem.prelu", batchNorm(ctx, "stem.bn", conv(ctx, "stem.conv", images, { bias: false })));
  blocksOf(c).forEach((n, s) => {
    for (let b = 1; b <= n; b++) {
      const p = `stage${s + 1}.block${b}`;
      const stride = b === 1 ? 2 : 1;
      let h = conv(ctx, `${p}.conv1`, batchNorm(ctx, `${p}.bn1`, x), { bias: false });
      h = prelu(ctx, `${p}.prelu`, batchNorm(ctx, `${p}.bn2`, h));
      h = batchNorm(ctx, `${p}.bn3`, conv(ctx, `${p}.conv2`, h, { stride, bias: false }));
      const shortcut = b === 1
        ? batchNorm(ctx, `${p}.shortcut.bn`, conv(ctx, `${p}.shortcut.conv`, x, { stride: 2, pad: 0, bias: false }))
        : x;
      x = tf.add(h, shortcut);
    }
  });
  const e = linear(ctx, "fc", flatten(batchNorm(ctx, "bn", x)));
  return batchNorm(ctx, "features", e);
}
