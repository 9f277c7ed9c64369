/**
 * The learning-rate schedule of OpenSphere: PyTorch's MultiStepLR stepped once per iteration, so the LR of
 * (0-based) iteration i is lr·γ^(number of milestones ≤ i).
 *
 * @example
 * ```ts
 * import { multiStepLr } from "./schedule.ts";
 * multiStepLr(39999, { lr: 0.1, milestones: [40000, 60000], gamma: 0.1 }); // 0.1
 * multiStepLr(40000, { lr: 0.1, milestones: [40000, 60000], gamma: 0.1 }); // 0.01 (≈, float)
 * ```
 * @module
 */

export interface MultiStep {
  lr: number;
  milestones: readonly number[];
  gamma: number;
}

/** LR of 0-based iteration `step`. Repeated multiplication, as PyTorch's chainable form computes it. */
export function multiStepLr(step: number, s: MultiStep): number {
  let lr = s.lr;
  for (const m of s.milestones) if (step >= m) lr *= s.gamma;
  return lr;
}

/** How many milestones have passed before iteration `step` (the "LR step" recorded in checkpoints). */
export function lrStepIndex(step: number, milestones: readonly number[]): number {
  return milestones.filter((m) => step >= m).length;
}
