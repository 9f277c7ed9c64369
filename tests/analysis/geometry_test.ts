import assert from "node:assert/strict";
import { biasDerivativeCurve, boundaryGrid } from "../../lib/analysis/geometry.ts";
import { g } from "../../lib/losses/sphereface2.ts";

Deno.test("biasDerivativeCurve: pull and push balance exactly at b₀, the derivative increases with b", () => {
  const rows = biasDerivativeCurve({ points: 21 });
  const b0 = rows.find((r) => r.isB0)!;
  assert.ok(Math.abs(b0.b - 5.78457) < 1e-5);
  assert.ok(Math.abs(b0.derivative) < 1e-12);
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i].derivative >= rows[i - 1].derivative);
  assert.equal(rows.length, 22);
});

Deno.test("boundaryGrid: C boundaries satisfy r(g(c) ∓ m) + b₀ = 0; gap grows with m", () => {
  const rows = boundaryGrid([0, 0.2, 0.4], [3]);
  for (const r of rows) {
    assert.ok(Math.abs(40 * (g(r.targetCos!, 3) - r.m) + r.b0) < 1e-6);
    assert.ok(Math.abs(40 * (g(r.nonTargetCos!, 3) + r.m) + r.b0) < 1e-6);
  }
  assert.ok(Math.abs(rows[0].gap!) < 1e-9, "m = 0: one boundary");
  assert.ok(rows[2].gap! > rows[1].gap! && rows[1].gap! > 0);
});
