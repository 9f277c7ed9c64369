import { expect } from "expect";
import { decisionCos, sphereface2Params } from "../../lib/analysis/loss_terms.ts";
import { g, initialBias, termValues, verificationThreshold } from "../../lib/losses/sphereface2.ts";
import { explore, PAPER_CONTROLS, paperControls, parseControls } from "../../lib/web/explorer.ts";

Deno.test("explorer: the paper setting gives the kit's b₀ (5.78457 for C on VGGFace2) and its boundaries", () => {
  const view = explore(PAPER_CONTROLS, 51);
  expect(view.b0).toBeCloseTo(5.78457, 5);
  expect(view.paperB0).toBe(view.b0);
  const p = sphereface2Params({ variant: "C" });
  expect(view.boundaries.target).toBe(decisionCos(p, view.b0, "target"));
  expect(view.boundaries.nonTarget).toBe(decisionCos(p, view.b0, "nonTarget"));
  // 51 points × 2 terms × (current + paper)
  expect(view.rows.length).toBe(51 * 2 * 2);
});

Deno.test("explorer: any controls → b₀ = initialBias and rows = termValues at b₀ (variant A, through-g ignored)", () => {
  const c = parseControls({
    variant: "a",
    gradForm: "through-g",
    lambda: "0.5",
    r: 30,
    m: 0.6,
    t: 2,
    numClasses: 1000,
  });
  expect(c).toEqual({ variant: "A", gradForm: "detached", lambda: 0.5, r: 30, m: 0.6, t: 2, numClasses: 1000 });
  const view = explore(c, 11);
  const p = sphereface2Params({ variant: "A", lambda: 0.5, r: 30, m: 0.6, t: 2 });
  expect(view.b0).toBe(initialBias(p, 1000));
  const row = view.rows.filter((r) => r.setting === "current" && r.term === "nonTarget")[6];
  expect(row.cos).toBeCloseTo(0.2, 12);
  const v = termValues(row.cos, p, view.b0, "nonTarget");
  expect(row.loss).toBe(v.loss);
  expect(row.grad).toBe(Math.abs(v.dLossDcos));
  expect(view.paperB0).toBe(initialBias(sphereface2Params({ variant: "A" }), 8631));
});

Deno.test("explorer: out-of-range controls are refused with the field and its range", () => {
  expect(() => parseControls({ variant: "M", m: 0.4 })).toThrow(/m must be in \[1, 4\], got 0.4/);
  expect(() => parseControls({ lambda: 1.2 })).toThrow(/lambda must be in/);
  expect(() => parseControls({ variant: "X" })).toThrow(/variant must be one of C, A, M/);
  expect(parseControls({})).toEqual(paperControls("C"));
});

Deno.test("verificationThreshold: r·g(cos*) + b = 0 (the margin-free logit crosses zero), clamped to [−1, 1]", () => {
  for (const [r, t, b] of [[40, 3, 5.78], [64, 1, -10], [30, 2, 0]]) {
    const c = verificationThreshold({ r, t }, b);
    expect(Math.abs(r * g(c, t) + b)).toBeLessThan(1e-9);
  }
  expect(verificationThreshold({ r: 40, t: 3 }, 100)).toBe(-1);
  expect(verificationThreshold({ r: 40, t: 3 }, -100)).toBe(1);
});
