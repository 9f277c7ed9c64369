/**
 * Backbones by config: {@link modelSpecs} describes every tensor without allocating (parameter counts at full
 * width are free), {@link createModel} allocates them and returns a forward function over explicit variables.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createModel } from "./registry.ts";
 * const model = createModel({ type: "sfnet", depth: 4, width: 0.125, inputSize: 32, featDim: 16 }, { seed: 1 });
 * const x = tf.zeros([2, 32, 32, 3]) as tf.Tensor4D;
 * const e = model.forward(x, false);      // [2, 16]
 * console.log(model.paramCount.trainable);
 * e.dispose(); x.dispose(); model.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ModelConfig, modelName, parseModelConfig } from "./config.ts";
import { allocate } from "./init.ts";
import { iresnetForward, iresnetSpecs } from "./iresnet.ts";
import { ForwardContext } from "./layers.ts";
import { sfnetForward, sfnetSpecs } from "./sfnet.ts";
import { countParams, type ParamCount, type ParamSpec } from "./spec.ts";

/** Every tensor of the configured backbone (nothing allocated). */
export function modelSpecs(config: ModelConfig): ParamSpec[] {
  return config.type === "sfnet" ? sfnetSpecs(config) : iresnetSpecs(config);
}

/** Trainable/frozen/buffer element counts from shapes alone (accepts an unvalidated config). */
export function countModelParams(config: unknown): ParamCount {
  return countParams(modelSpecs(parseModelConfig(config)));
}

/** A backbone with its variables. */
export interface Model {
  readonly config: ModelConfig;
  /** `SFNet-20`, `IResNet-100 (w0.25, 56px)`, … */
  readonly name: string;
  readonly specs: readonly ParamSpec[];
  /** Every tensor by spec name: parameters, frozen parameters and BN buffers. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly paramCount: ParamCount;
  /** The SGD-trained variables (role `param`), in spec order. */
  trainables(): tf.Variable[];
  /**
   * Embeddings [B, featDim] of NHWC images in [−1, 1]. With `training`, BN uses batch statistics and queues its
   * running-stat updates; call {@link commitBatchStats} after the step (they are not applied inside the
   * forward, which usually runs under a gradient tape).
   */
  forward(images: tf.Tensor4D, training: boolean): tf.Tensor2D;
  /** Applies (and frees) the running-stat updates queued by training forwards; no-op for BN-free nets. */
  commitBatchStats(): void;
  /** Drops queued updates without applying them (e.g. after a failed step). */
  discardBatchStats(): void;
  dispose(): void;
}

/** Builds a backbone from a (possibly partial) config; the seed fixes every initial value. */
export function createModel(config: unknown, options: { seed: number }, source = "model config"): Model {
  const cfg = parseModelConfig(config, source);
  const specs = modelSpecs(cfg);
  const variables = allocate(specs, options.seed);
  const trainable = specs.filter((s) => s.role === "param").map((s) => variables.get(s.name)!);
  let pending: ForwardContext["bnUpdates"] = [];
  const param = (name: string) => {
    const v = variables.get(name);
    if (!v) throw new Error(`${modelName(cfg)}: no parameter ${name}`);
    return v;
  };
  const discard = () => {
    for (const u of pending) tf.dispose([u.mean, u.variance]);
    pending = [];
  };
  return {
    config: cfg,
    name: modelName(cfg),
    specs,
    variables,
    paramCount: countParams(specs),
    trainables: () => [...trainable],
    forward(images, training) {
      const [, h, w, ch] = images.shape;
      if (h !== cfg.inputSize || w !== cfg.inputSize || ch !== 3) {
        throw new Error(
          `${modelName(cfg)}: expected images [B, ${cfg.inputSize}, ${cfg.inputSize}, 3], got [${images.shape}]`,
        );
      }
      if (training && pending.length) {
        throw new Error(`${modelName(cfg)}: commitBatchStats() was not called after the previous training forward`);
      }
      const ctx = new ForwardContext(param, training);
      const out = tf.tidy(() =>
        cfg.type === "sfnet" ? sfnetForward(cfg, ctx, images) : iresnetForward(cfg, ctx, images)
      );
      pending = ctx.bnUpdates;
      return out;
    },
    commitBatchStats() {
      for (const u of pending) {
        variables.get(`${u.name}.runningMean`)!.assign(u.mean);
        variables.get(`${u.name}.runningVar`)!.assign(u.variance);
      }
      discard();
    },
    discardBatchStats: discard,
    dispose() {
      discard();
      for (const v of variables.values()) v.dispose();
    },
  };
}
