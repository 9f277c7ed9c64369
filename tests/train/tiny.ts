/**
 * A tiny training config for tests: SFNet-4 at width 1/16 on 16×16 toy images (a step takes milliseconds).
 * @module
 */
import { parseTrainConfig, type TrainConfig } from "../../lib/train/config.ts";

export function tinyRaw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "tiny",
    seed: 5,
    model: { type: "sfnet", depth: 4, width: 0.0625, inputSize: 16, featDim: 8 },
    head: { type: "sphereface2" },
    data: { kind: "toy", classes: 6, perClass: 8, size: 16, valClasses: 3, valPerClass: 3 },
    train: { steps: 12, batchSize: 8, lr: 0.05, milestones: [8] },
    checkpoint: { every: 4 },
    validation: { every: 6, batchSize: 16 },
    ...overrides,
  };
}

export function tinyConfig(overrides: Record<string, unknown> = {}): TrainConfig {
  return parseTrainConfig(tinyRaw(overrides), "tiny");
}
