/**
 * Allocation of a model's tensors from its {@link ParamSpec}s, with PyTorch's initialisers and one seed: tensor i
 * is drawn with the tfjs seed `deriveSeed(seed, "init", name)`, so the values depend only on (seed, name, shape),
 * not on allocation order or backend (tfjs draws random values in JavaScript, then uploads them).
 *
 * @example
 * ```ts
 * import { initialValue } from "./init.ts";
 * const w = initialValue({ name: "c.weight", shape: [3, 3, 3, 8], role: "param",
 *   init: { kind: "xavierNormal", fanIn: 27, fanOut: 72 } }, 1);
 * w.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { deriveSeed } from "../random/rng.ts";
import type { ParamSpec } from "./spec.ts";

/** The initial value of one spec'd tensor (owned by the caller). */
export function initialValue(spec: ParamSpec, seed: number): tf.Tensor {
  const s = deriveSeed(seed, "init", spec.name);
  const init = spec.init;
  switch (init.kind) {
    case "xavierNormal":
      return tf.randomNormal(spec.shape, 0, Math.sqrt(2 / (init.fanIn + init.fanOut)), "float32", s);
    case "kaimingNormal":
      return tf.randomNormal(spec.shape, 0, Math.sqrt(2 / init.fan), "float32", s);
    case "normal":
      return tf.randomNormal(spec.shape, 0, init.std, "float32", s);
    case "torchDefault": {
      const bound = 1 / Math.sqrt(init.fanIn);
      return tf.randomUniform(spec.shape, -bound, bound, "float32", s);
    }
    case "constant":
      return tf.fill(spec.shape, init.value, "float32");
  }
}

let counter = 0;

/**
 * Variables for every spec, keyed by spec name (tfjs variable names get a per-process unique prefix, since tfjs
 * rejects duplicates). Trainable only for role `param`.
 */
export function allocate(specs: readonly ParamSpec[], seed: number): Map<string, tf.Variable> {
  const prefix = `model${++counter}`;
  const vars = new Map<string, tf.Variable>();
  for (const spec of specs) {
    const value = initialValue(spec, seed);
    vars.set(spec.name, tf.variable(value, spec.role === "param", `${prefix}/${spec.name}`));
    value.dispose();
  }
  return vars;
}
