/**
 * Parameter specifications: every tensor a backbone owns, described by name, shape, role and initialiser before
 * anything is allocated. Parameter counts at full width (tens of millions) are therefore computed from shapes
 * alone, and the same list drives allocation ({@link ./init.ts}) and checkpoints (names are the keys).
 *
 * Layouts are tfjs's, not PyTorch's: conv filters `[kh, kw, cin, cout]` (PyTorch `[cout, cin, kh, kw]`), linear
 * weights `[in, out]` (PyTorch `[out, in]`), so the forward pass needs no transposes.
 *
 * @example
 * ```ts
 * import { countParams, type ParamSpec } from "./spec.ts";
 * const specs: ParamSpec[] = [
 *   { name: "fc.weight", shape: [8, 4], role: "param", init: { kind: "xavierNormal", fanIn: 8, fanOut: 4 } },
 *   { name: "bn.runningMean", shape: [4], role: "buffer", init: { kind: "constant", value: 0 } },
 * ];
 * countParams(specs); // { trainable: 32, frozen: 0, buffers: 4, total: 36 }
 * ```
 * @module
 */

/** How a tensor starts out (PyTorch's initialisers, with fans given explicitly). */
export type InitSpec =
  /** `nn.init.xavier_normal_`: N(0, 2/(fanIn + fanOut)). */
  | { kind: "xavierNormal"; fanIn: number; fanOut: number }
  /** `nn.init.kaiming_normal_(mode, nonlinearity="relu")`: N(0, 2/fan). */
  | { kind: "kaimingNormal"; fan: number }
  /** `nn.init.normal_(0, std)`. */
  | { kind: "normal"; std: number }
  /** PyTorch's default for conv/linear weights and biases (kaiming_uniform with a=√5): U(±1/√fanIn). */
  | { kind: "torchDefault"; fanIn: number }
  | { kind: "constant"; value: number };

/**
 * `param`: trained by SGD (and weight-decayed); `frozen`: a parameter that is not trained (v0 IResNet's final
 * BN1d weight); `buffer`: state that is not a parameter (BN running mean/var), updated in training forwards.
 */
export type ParamRole = "param" | "frozen" | "buffer";

export interface ParamSpec {
  /** Unique within a model, dotted: `stage2.block1.conv1.weight`. */
  name: string;
  shape: number[];
  role: ParamRole;
  init: InitSpec;
}

export interface ParamCount {
  trainable: number;
  frozen: number;
  buffers: number;
  total: number;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Element counts by role, from shapes only (nothing is allocated). */
export function countParams(specs: readonly ParamSpec[]): ParamCount {
  const c = { trainable: 0, frozen: 0, buffers: 0, total: 0 };
  for (const s of specs) {
    const n = sizeOf(s.shape);
    if (s.role === "param") c.trainable += n;
    else if (s.role === "frozen") c.frozen += n;
    else c.buffers += n;
    c.total += n;
  }
  return c;
}

/** Collects specs while an architecture describes itself; rejects duplicate names. */
export class SpecList {
  readonly specs: ParamSpec[] = [];
  readonly #names = new Set<string>();

  add(name: string, shape: number[], init: InitSpec, role: ParamRole = "param"): void {
    if (this.#names.has(name)) throw new Error(`duplicate parameter name ${name}`);
    if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`parameter ${name}: shape must be positive integers, got [${shape}]`);
    }
    this.#names.add(name);
    this.specs.push({ name, shape, role, init });
  }

  /**
   * A 3×3 (or k×k) conv: weight `[k, k, cin, cout]` and, when `bias`, a bias `[cout]` with PyTorch's default
   * U(±1/√fanIn) (OpenSphere keeps the default for conv biases).
   */
  conv(name: string, k: number, cin: number, cout: number, bias: boolean, init: InitSpec): void {
    this.add(`${name}.weight`, [k, k, cin, cout], init);
    if (bias) this.add(`${name}.bias`, [cout], { kind: "torchDefault", fanIn: cin * k * k });
  }

  /** A linear layer with PyTorch's default init (weight and bias U(±1/√in)); weight `[in, out]`. */
  linear(name: string, din: number, dout: number, bias = true): void {
    this.add(`${name}.weight`, [din, dout], { kind: "torchDefault", fanIn: din });
    if (bias) this.add(`${name}.bias`, [dout], { kind: "torchDefault", fanIn: din });
  }

  /** BatchNorm: weight (γ), bias (β), running mean and var (buffers). */
  batchNorm(name: string, c: number, weight = 1, weightRole: ParamRole = "param"): void {
    this.add(`${name}.weight`, [c], { kind: "constant", value: weight }, weightRole);
    this.add(`${name}.bias`, [c], { kind: "constant", value: 0 });
    this.add(`${name}.runningMean`, [c], { kind: "constant", value: 0 }, "buffer");
    this.add(`${name}.runningVar`, [c], { kind: "constant", value: 1 }, "buffer");
  }

  /** PReLU with one slope per channel, initialised to 0.25 (PyTorch's default). */
  prelu(name: string, c: number): void {
    this.add(`${name}.weight`, [c], { kind: "constant", value: 0.25 });
  }
}

/** Conv init helpers with PyTorch's fan conventions for a k×k conv. */
export const convInit = {
  xavierNormal: (k: number, cin: number, cout: number): InitSpec => ({
    kind: "xavierNormal",
    fanIn: cin * k * k,
    fanOut: cout * k * k,
  }),
  kaimingFanOut: (k: number, _cin: number, cout: number): InitSpec => ({ kind: "kaimingNormal", fan: cout * k * k }),
  normal: (std: number): InitSpec => ({ kind: "normal", std }),
};
