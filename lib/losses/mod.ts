/**
 * The loss library: SphereFace2 (variants C, A, M; detached and through-g gradients) and the baselines
 * Softmax, NormFace, SphereFace, CosFace and ArcFace, behind one {@link Head} interface and a registry.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createHead, headGradients, parseHeadConfig } from "./mod.ts";
 * const head = createHead(parseHeadConfig({ type: "sphereface2", variant: "C" }), { featDim: 8, numClasses: 5, seed: 1 });
 * const { loss } = headGradients(head, tf.randomNormal([4, 8]) as tf.Tensor2D, tf.tensor1d([0, 1, 2, 3], "int32"));
 * ```
 * @module
 */
export * from "./config.ts";
export * from "./head.ts";
export * from "./registry.ts";
export * from "./sphereface2.ts";
export * from "./softmax_family.ts";
