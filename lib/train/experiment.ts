/**
 * One training experiment as the reproduction reports it: train a config, then verify the trained model and the
 * same network at its random initialisation on the dataset's pair lists, both protocols side by side. The
 * random-initialisation row is the control that makes the dataset a real task: it should sit near chance while
 * the trained model is far above.
 *
 * @example
 * ```ts
 * import { loadTrainConfig } from "./config.ts";
 * import { trainAndEvaluate } from "./experiment.ts";
 * const config = await loadTrainConfig("configs/train/toy-sfnet4-sphereface2.json", ["--train.steps=20"]);
 * const r = await trainAndEvaluate(config, { runDir: "/tmp/toy-run", quiet: true });
 * console.log(r.evaluations.map((e) => `${e.model} ${e.set}: ${e.table[0].value}`));
 * ```
 * @module
 */
import { extractFeatures, type LabelledMetric, pairCosines, verificationTable } from "../eval/verification.ts";
import { createModel, type Model } from "../models/registry.ts";
import type { TrainConfig } from "./config.ts";
import type { PairSet, TrainingData } from "./data.ts";
import { openTrainingData } from "./datasets.ts";
import { RUN_FILES, type StepRecord, type TrainResult, trainRun } from "./loop.ts";
import { loadTrainedModel } from "./restore.ts";
import { deriveSeed } from "../random/rng.ts";

export interface Evaluation {
  /** `random init` or `trained`. */
  model: string;
  set: string;
  pairs: number;
  table: LabelledMetric[];
}

export interface ExperimentResult {
  train: TrainResult;
  /** (step, loss) of every logged step. */
  curve: Array<{ step: number; loss: number }>;
  evaluations: Evaluation[];
}

/** Verifies `model` on each pair set (flip-fused features, both protocols); `label` names the model in the rows. */
export async function evaluateModel(
  model: Model,
  sets: readonly PairSet[],
  label: string,
  flip: boolean,
): Promise<Evaluation[]> {
  const out: Evaluation[] = [];
  for (const set of sets) {
    const { features, dim } = await extractFeatures((x) => model.forward(x, false), set.images, { flip });
    const cos = pairCosines(features, dim, set.pairs);
    out.push({
      model: label,
      set: set.name,
      pairs: set.pairs.length,
      table: verificationTable(cos, set.same, undefined, { balanceFolds: !set.foldOrdered }),
    });
  }
  return out;
}

/** Trains `config` into `runDir` (resuming when asked) and evaluates random-init and trained weights. */
export async function trainAndEvaluate(
  config: TrainConfig,
  options: { runDir: string; resume?: boolean; quiet?: boolean; data?: TrainingData; backendDetail?: string },
): Promise<ExperimentResult> {
  const data = options.data ?? await openTrainingData(config.data, config.seed, { quiet: options.quiet });
  const train = await trainRun(config, {
    outDir: options.runDir,
    resume: options.resume,
    quiet: options.quiet,
    data,
    backendDetail: options.backendDetail,
  });
  const curve = (await Deno.readTextFile(`${options.runDir}/${RUN_FILES.log}`)).trim().split("\n")
    .map((l) => JSON.parse(l) as StepRecord | { type: string })
    .filter((r): r is StepRecord => r.type === "step")
    .map((r) => ({ step: r.step, loss: r.loss }));
  const flip = config.validation.flip;
  // The same initial weights the run started from (trainRun seeds the model with this derived seed).
  const initial = createModel(config.model, { seed: deriveSeed(config.seed, "model") }, "model");
  const trained = await loadTrainedModel(options.runDir);
  try {
    const evaluations = [
      ...(await evaluateModel(initial, data.validation, "random init", flip)),
      ...(await evaluateModel(trained.model, data.validation, "trained", flip)),
    ];
    return { train, curve, evaluations };
  } finally {
    initial.dispose();
    trained.model.dispose();
  }
}
