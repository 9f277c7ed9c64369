/**
 * Opens the dataset a training config names: `toy` (in memory), `lfw-view1` (LFW or the synthetic set, through
 * the crop cache) or `list` (OpenSphere's training list of pre-aligned images).
 *
 * @example
 * ```ts
 * import { openTrainingData } from "./datasets.ts";
 * const data = await openTrainingData({ kind: "toy", classes: 4, perClass: 4, size: 8, valClasses: 2, valPerClass: 2,
 *   spread: 0.5, noiseRatio: 0, noiseSeed: 1 }, 0);
 * ```
 * @module
 */
import type { DataConfig } from "./config.ts";
import { toyData, type TrainingData } from "./data.ts";
import { lfwView1Data } from "./lfw_data.ts";
import { listData } from "./list_data.ts";

/** The dataset of `config`; `seed` only matters for `toy` data. */
export function openTrainingData(
  config: DataConfig,
  seed: number,
  options: { quiet?: boolean } = {},
): Promise<TrainingData> {
  switch (config.kind) {
    case "toy":
      return Promise.resolve(toyData(config, seed));
    case "lfw-view1":
      return lfwView1Data({ ...config, quiet: options.quiet });
    case "list":
      return listData(config);
  }
}
