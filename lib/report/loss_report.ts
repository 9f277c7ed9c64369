/**
 * `report.md` of the loss analyses: what was computed, the b₀ table with its stationarity check, the decision
 * boundaries, and every figure with a one-line caption.
 *
 * @example
 * ```ts
 * import { lossAnalyses } from "../analysis/loss_terms.ts";
 * import { lossFigures } from "./loss_figures.ts";
 * import { lossReport } from "./loss_report.ts";
 * import { runMetadata } from "../fs/metadata.ts";
 * const a = lossAnalyses();
 * const md = lossReport(a, lossFigures(a), await runMetadata({ profile: "smoke" }));
 * ```
 * @module
 */
import type { LossAnalyses } from "../analysis/loss_terms.ts";
import type { Figure } from "./loss_figures.ts";
import { fixed, markdownTable, sci } from "../render/markdown.ts";
import type { RunMetadata } from "../fs/metadata.ts";

/** The Markdown text of the report; figures are linked as `figures/<file>`. */
export function lossReport(a: LossAnalyses, figures: readonly Figure[], meta: RunMetadata): string {
  const s = a.settings;
  const out: string[] = [];
  out.push(
    "# SphereFace2 loss analyses",
    "",
    `Generated ${meta.date} by \`deno task reproduce\` (kit commit \`${meta.kitCommit}\`, Deno ${meta.deno}). ` +
      "The first part covers the paper's analyses of the loss itself, computed in float64 from the kit's scalar " +
      "SphereFace2 functions (no tensors); the training part, when the run includes it, follows at the end.",
    "",
    "## What was computed",
    "",
    "- **Initial bias b₀**, the closed form used by OpenSphere, for the paper's VGGFace2 settings and " +
      "OpenSphere main's MS1M config, with both sides of the stationarity condition it solves.",
    `- **Per-term curves** over cos θ ∈ [−1, 1] (${s.points} points): the loss of the target term ` +
      "(lw/r)·λ·softplus(−(r·s_y + b)) and of one non-target term (lw/r)·(1 − λ)·softplus(r·s_i + b), and " +
      `|dℓ/dcos θ|, at the paper's settings (K ${s.numClasses}, r ${s.r}, t ${s.t}, λ ${s.lambda}, lw ${s.lw}; ` +
      `m ${s.margins.C} / ${s.margins.A} / ${s.margins.M} for C / A / M) with b = b₀ of each setting. ` +
      `Sweeps: variant, λ ∈ {${s.lambdas.join(", ")}}, t ∈ {${s.ts.join(", ")}}, gradient form.`,
    "- **g and g'** for each t.",
    "- **Decision boundaries**: the cos θ where a term's logit r·s + b₀ crosses 0 (bisection). Because b is " +
      "shared by all K classifiers, these are the same for every class: the paper's universal threshold.",
    "",
    "All numbers are in `analyses.json`.",
    "",
    "## Initial bias b₀",
    "",
    "b₀ = log(2ζ) − a_i − log(1 − ζ + √((1 − ζ)² + 4ζ·e^(a_y − a_i))), ζ = λ/((1 − λ)(K − 1)), where a_y and " +
      "a_i are r·s at θ = π/2 for the target and a non-target class. It solves λ(1 − σ(a_y + b)) = " +
      "(1 − λ)(K − 1)σ(a_i + b), i.e. ∂L/∂b = 0 when every cosine is 0. *Reference* is the value in " +
      "shared/notes/opensphere.md (OpenSphere's formula, 5 decimals).",
    "",
  );
  out.push(markdownTable(
    [
      "setting",
      "K",
      "λ",
      "r",
      "m",
      "t",
      "a_y",
      "a_i",
      "b₀",
      "reference",
      "λ(1 − σ(a_y + b₀))",
      "(1 − λ)(K − 1)σ(a_i + b₀)",
      "|difference|",
    ],
    a.initialBias.map((r) => [
      r.setting,
      r.numClasses,
      r.lambda,
      r.r,
      r.m,
      r.t,
      fixed(r.ay, 4),
      fixed(r.ai, 4),
      fixed(r.b0, 6),
      fixed(r.reference, 5),
      fixed(r.stationarity.lhs, 12),
      fixed(r.stationarity.rhs, 12),
      sci(r.stationarity.residual),
    ]),
    ["left", ...Array<"right">(12).fill("right")],
  ));
  out.push(
    "## Decision boundaries at b₀",
    "",
    `K ${s.numClasses}; each row at its own b₀. θ in degrees; gap = target cos − non-target cos. A dash means ` +
      "the logit does not change sign on [−1, 1].",
    "",
  );
  out.push(markdownTable(
    ["sweep", "setting", "λ", "m", "t", "b₀", "target cos θ", "target θ°", "non-target cos θ", "non-target θ°", "gap"],
    a.thresholds.map((r) => [
      r.group,
      r.series,
      r.lambda,
      r.m,
      r.t,
      fixed(r.b0, 4),
      fixed(r.targetCos, 4),
      fixed(r.targetDeg, 1),
      fixed(r.nonTargetCos, 4),
      fixed(r.nonTargetDeg, 1),
      fixed(r.gap, 4),
    ]),
    ["left", "left", ...Array<"right">(9).fill("right")],
  ));
  out.push("## Figures", "");
  for (const f of figures) {
    out.push(`### ${f.title}`, "", `![${f.title}](figures/${f.file})`, "", f.caption, "");
  }
  return out.join("\n");
}
