/**
 * Heads by name, built from a config (OpenSphere builds its heads from config files the same way).
 *
 * @example
 * ```ts
 * import { parseHeadConfig } from "./config.ts";
 * import { createHead } from "./registry.ts";
 * const head = createHead(parseHeadConfig({ type: "arcface", m: 0.5 }), { featDim: 512, numClasses: 1000, seed: 0 });
 * head.dispose();
 * ```
 * @module
 */
import type { HeadConfig, HeadType } from "./config.ts";
import type { Head } from "./head.ts";
import { SphereFace2Head } from "./sphereface2.ts";
import { MarginSoftmaxHead, SoftmaxHead } from "./softmax_family.ts";

export interface HeadShape {
  featDim: number;
  numClasses: number;
  /** Seeds the xavier-normal initialisation of W. */
  seed?: number;
}

type Builder = (config: HeadConfig, shape: HeadShape) => Head;

const REGISTRY: Record<HeadType, Builder> = {
  sphereface2: (c, s) =>
    new SphereFace2Head(c as Extract<HeadConfig, { type: "sphereface2" }>, s.featDim, s.numClasses, s.seed),
  softmax: (c, s) => new SoftmaxHead(c as Extract<HeadConfig, { type: "softmax" }>, s.featDim, s.numClasses, s.seed),
  normface: (c, s) =>
    new MarginSoftmaxHead(c as Extract<HeadConfig, { type: "normface" }>, s.featDim, s.numClasses, s.seed),
  sphereface: (c, s) =>
    new MarginSoftmaxHead(c as Extract<HeadConfig, { type: "sphereface" }>, s.featDim, s.numClasses, s.seed),
  cosface: (c, s) =>
    new MarginSoftmaxHead(c as Extract<HeadConfig, { type: "cosface" }>, s.featDim, s.numClasses, s.seed),
  arcface: (c, s) =>
    new MarginSoftmaxHead(c as Extract<HeadConfig, { type: "arcface" }>, s.featDim, s.numClasses, s.seed),
};

/** The registered head names. */
export function headTypes(): HeadType[] {
  return Object.keys(REGISTRY) as HeadType[];
}

/**
 * Builds a head from a validated config ({@link parseHeadConfig}, {@link resolveHead}, or a validated train config's
 * `head`): the config is validated once, where it is read. Shape errors name the offending value.
 */
export function createHead(parsed: HeadConfig, shape: HeadShape, source = "head config"): Head {
  if (!Number.isInteger(shape.featDim) || shape.featDim < 1) {
    throw new Error(`${source}: featDim must be a positive integer, got ${shape.featDim}`);
  }
  if (!Number.isInteger(shape.numClasses) || shape.numClasses < 2) {
    throw new Error(`${source}: numClasses must be an integer ≥ 2, got ${shape.numClasses}`);
  }
  return REGISTRY[parsed.type](parsed, shape);
}
