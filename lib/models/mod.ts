/**
 * Backbones: SFNet-4/10/20/36/64 (with or without BN) and IResNet-18/34/50/100, as plain functions over explicit
 * variables, NHWC.
 *
 * @example
 * ```ts
 * import { countModelParams } from "./mod.ts";
 * countModelParams({ type: "sfnet", depth: 64 }).trainable; // 50020864
 * ```
 * @module
 */
export * from "./config.ts";
export * from "./spec.ts";
export * from "./init.ts";
export * from "./layers.ts";
export * from "./sfnet.ts";
export * from "./iresnet.ts";
export * from "./registry.ts";
