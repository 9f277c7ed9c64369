/**
 * Backbone configurations (zod): SFNet-4/10/20/36/64 (OpenSphere's `SFNet_deprecated`, the paper's backbone, or
 * `sfnet.py`'s block form, each with or without BN) and IResNet-18/34/50/100, plus the CPU-scale knobs `width`
 * (channel multiplier) and `inputSize`. Errors name the field and the allowed values.
 *
 * @example
 * ```ts
 * import { parseModelConfig } from "./config.ts";
 * const full = parseModelConfig({ type: "sfnet", depth: 20 });                       // the paper's SFNet-20
 * const tiny = parseModelConfig({ type: "sfnet", depth: 4, width: 0.125, inputSize: 32 });
 * ```
 * @module
 */
import { z } from "zod";
import { formatZodError } from "../losses/config.ts";

/** Residual blocks per stage (OpenSphere `sfnet_deprecated.py` / `sfnet.py`). */
export const SFNET_BLOCKS = {
  4: [0, 0, 0, 0],
  10: [0, 1, 2, 0],
  20: [1, 2, 4, 1],
  36: [2, 4, 8, 2],
  64: [3, 8, 16, 3],
} as const;

/** Blocks per stage of insightface/OpenSphere IResNets. */
export const IRESNET_BLOCKS = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 14, 3],
  100: [3, 13, 30, 3],
} as const;

/** Stage widths at width 1. */
export const STAGE_CHANNELS = [64, 128, 256, 512] as const;

const depthOf = <T extends Record<number, unknown>>(table: T, net: string) =>
  z.number().refine((d) => d in table, {
    message: `${net} depth must be one of ${Object.keys(table).join(", ")}`,
  });

const common = {
  /** Channel multiplier on 64/128/256/512 (CPU-scale work); channels are rounded, at least 1. */
  width: z.number().gt(0).max(4).default(1),
  /** Square input side; 112 in every paper config. Four stride-2 stages: 112 → 7. */
  inputSize: z.number().int().min(8).max(512).default(112),
  /** Embedding size. */
  featDim: z.number().int().min(2).max(4096).default(512),
};

export const SFNetConfigSchema = z.strictObject({
  type: z.literal("sfnet"),
  depth: depthOf(SFNET_BLOCKS, "sfnet"),
  /**
   * `deprecated` (SFNet_deprecated, every paper config): blocks x + ReLU(conv(ReLU(conv x))).
   * `sfnet` (sfnet.py): blocks ReLU(x + conv(ReLU(conv x))). Same parameters.
   */
  block: z.enum(["deprecated", "sfnet"]).default("deprecated"),
  /** BN after every conv (convs then have no bias) and BN1d after the FC (sfnet.py's `norm_layer`). */
  bn: z.boolean().default(false),
  /**
   * Conv initialisation: `iclr` (SphereFace2_ICLR21 SFNet_deprecated: xavier-normal stage convs, N(0, 0.01) block
   * convs), `v0` (xavier-normal for every conv), `kaiming` (sfnet.py: kaiming-normal, fan_out). Conv biases and
   * the FC keep PyTorch's defaults in all three. Default: `iclr` for `deprecated`, `kaiming` for `sfnet`.
   */
  init: z.enum(["iclr", "v0", "kaiming"]).optional(),
  /** BN1d weight after the FC when `bn` (v0 1, main 0.1). */
  finalBnWeight: z.number().min(0).max(10).default(1),
  ...common,
}).transform((c) => ({ ...c, init: c.init ?? (c.block === "deprecated" ? "iclr" as const : "kaiming" as const) }));
export type SFNetConfig = z.output<typeof SFNetConfigSchema>;

export const IResNetConfigSchema = z.strictObject({
  type: z.literal("iresnet"),
  depth: depthOf(IRESNET_BLOCKS, "iresnet"),
  /**
   * `main` (OpenSphere main): the final BN1d weight starts at 0.1 and is trained. `v0`: it is 1 and frozen
   * (512 fewer trainable parameters).
   */
  variant: z.enum(["main", "v0"]).default("main"),
  ...common,
});
export type IResNetConfig = z.output<typeof IResNetConfigSchema>;

export const ModelConfigSchema = z.discriminatedUnion("type", [SFNetConfigSchema, IResNetConfigSchema]);
export type ModelConfig = z.output<typeof ModelConfigSchema>;
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;

/** Validates a model config; errors are `source: field: message`, one per line. */
export function parseModelConfig(input: unknown, source = "model config"): ModelConfig {
  const result = ModelConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new Error(formatZodError(result.error, source));
}

/** Channels of the four stages at a width multiplier. */
export function stageChannels(width: number): number[] {
  return STAGE_CHANNELS.map((c) => Math.max(1, Math.round(c * width)));
}

/** Spatial side after one 3×3/stride-2/pad-1 conv (PyTorch: ⌊(n + 2 − 3)/2⌋ + 1). */
export function downsampled(n: number): number {
  return Math.floor((n - 1) / 2) + 1;
}

/** Side of the final feature map: four stride-2 stages (112 → 7). */
export function finalMapSize(inputSize: number): number {
  let n = inputSize;
  for (let i = 0; i < 4; i++) n = downsampled(n);
  return n;
}

/** A short display name: `SFNet-20`, `SFNet-20-BN`, `IResNet-100`, with width/size when not the paper's. */
export function modelName(c: ModelConfig): string {
  const base = c.type === "sfnet" ? `SFNet-${c.depth}${c.bn ? "-BN" : ""}` : `IResNet-${c.depth}`;
  const knobs = [c.width !== 1 ? `w${c.width}` : "", c.inputSize !== 112 ? `${c.inputSize}px` : ""].filter(Boolean);
  return knobs.length ? `${base} (${knobs.join(", ")})` : base;
}
