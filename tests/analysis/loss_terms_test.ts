import assert from "node:assert/strict";
import {
  cosGrid,
  decisionCos,
  gCurves,
  gradFormSettings,
  initialBiasTable,
  lossAnalyses,
  PAPER_SETTINGS,
  sphereface2Params,
  stationarity,
  termCurves,
  thresholdTable,
  VGGFACE2_CLASSES,
} from "../../lib/analysis/loss_terms.ts";
import { g, gPrime, initialBias, termValues } from "../../lib/losses/sphereface2.ts";

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);

Deno.test("initialBiasTable: b₀ matches OpenSphere's values (shared/notes/opensphere.md) to 1e-5", () => {
  const rows = initialBiasTable();
  assert.deepEqual(rows.map((r) => r.setting), ["VGGFace2 C", "VGGFace2 A", "VGGFace2 M", "MS1MV2 C"]);
  const expected = [5.78457, 21.78457, 21.78457, 6.02725];
  rows.forEach((r, i) => close(r.b0, expected[i], 1e-5, r.setting));
  assert.deepEqual(rows.map((r) => [r.numClasses, r.lambda, r.r, r.m, r.t]), [
    [8631, 0.7, 40, 0.4, 3],
    [8631, 0.7, 40, 0.5, 3],
    [8631, 0.7, 40, 1.7, 3],
    [85742, 0.8, 64, 0.5, 3],
  ]);
});

Deno.test("initialBiasTable: λ(1 − σ(a_y + b₀)) = (1 − λ)(K − 1)σ(a_i + b₀) to 1e-9", () => {
  for (const r of initialBiasTable()) {
    close(r.stationarity.lhs, r.stationarity.rhs, 1e-9, r.setting);
    assert.ok(r.stationarity.residual <= 1e-9);
    // A slightly shifted bias breaks the balance, so the check is not vacuous.
    const p = sphereface2Params({ variant: r.variant, lambda: r.lambda, r: r.r, m: r.m, t: r.t });
    assert.ok(stationarity(p, r.numClasses, r.b0 + 0.01).residual > 1e-3, r.setting);
  }
});

Deno.test("g: endpoints and derivative", () => {
  for (const t of PAPER_SETTINGS.ts) {
    close(g(-1, t), -1, 0, `g(-1), t=${t}`);
    close(g(1, t), 1, 0, `g(1), t=${t}`);
    close(gPrime(1, t), t, 1e-12, `g'(1), t=${t}`);
  }
  const rows = gCurves(21);
  assert.equal(rows.length, 2 * 5 * 21);
  const t3 = rows.filter((r) => r.fn === "g" && r.t === 3);
  assert.equal(t3[0].cos, -1);
  assert.equal(t3[0].value, -1);
  assert.equal(t3[20].cos, 1);
  assert.equal(t3[20].value, 1);
  close(t3[10].value, 2 ** -2 - 1, 1e-15, "g(0), t=3");
});

Deno.test("cosGrid: evenly spaced, exact ends, rejects too few points", () => {
  const grid = cosGrid(5);
  assert.deepEqual(grid, [-1, -0.5, 0, 0.5, 1]);
  assert.equal(cosGrid(201).at(-1), 1);
  assert.throws(() => cosGrid(1), /points/);
});

Deno.test("decisionCos: r·s + b₀ ≈ 0 at the bisected cosine", () => {
  for (const row of thresholdTable()) {
    const p = sphereface2Params({ variant: row.variant, lambda: row.lambda, m: row.m, t: row.t });
    const b0 = initialBias(p, VGGFACE2_CLASSES);
    close(b0, row.b0, 0, `${row.group} ${row.series} b₀`);
    for (const term of ["target", "nonTarget"] as const) {
      const c = term === "target" ? row.targetCos : row.nonTargetCos;
      if (c === null) continue;
      const z = termValues(c, p, b0, term).logit;
      close(z, 0, 1e-9, `${row.group} ${row.series} ${term} logit at ${c}`);
    }
  }
});

Deno.test("decisionCos: the paper's C setting, in closed form", () => {
  // C: r(g(c) ∓ m) + b₀ = 0  ⇒  c = 2((1 + (±m − b₀/r))/2)^(1/t) − 1.
  const p = sphereface2Params({ variant: "C" });
  const b0 = initialBias(p, VGGFACE2_CLASSES);
  const solve = (gValue: number) => 2 * ((gValue + 1) / 2) ** (1 / p.t) - 1;
  close(decisionCos(p, b0, "target")!, solve(p.m - b0 / p.r), 1e-12, "target");
  close(decisionCos(p, b0, "nonTarget")!, solve(-p.m - b0 / p.r), 1e-12, "non-target");
});

Deno.test("decisionCos: null when the logit keeps its sign (t = 1, m 0.4: target logit < 0 at cos 1)", () => {
  const p = sphereface2Params({ t: 1 });
  const b0 = initialBias(p, VGGFACE2_CLASSES);
  assert.ok(termValues(1, p, b0, "target").logit < 0);
  assert.equal(decisionCos(p, b0, "target"), null);
  assert.equal(thresholdTable().find((r) => r.group === "t" && r.t === 1)!.targetCos, null);
});

Deno.test("thresholds: the non-target boundary is shared by C, A and M", () => {
  const variants = thresholdTable().filter((r) => r.group === "variant");
  assert.deepEqual(variants.map((r) => r.series), ["C", "A", "M"]);
  for (const r of variants) close(r.nonTargetCos!, variants[0].nonTargetCos!, 1e-6, r.series);
  for (const r of variants) assert.ok(r.targetCos! > r.nonTargetCos! + 0.3, `${r.series} target above non-target`);
});

Deno.test("lossAnalyses: expected series and lengths", () => {
  const points = 21;
  const a = lossAnalyses({ points });
  const count = (rows: { series: string; term: string }[]) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(`${r.series}|${r.term}`, (m.get(`${r.series}|${r.term}`) ?? 0) + 1);
    return m;
  };
  const expectSeries = (rows: { series: string; term: string }[], series: string[]) => {
    const m = count(rows);
    assert.deepEqual([...new Set(rows.map((r) => r.series))], series);
    for (const s of series) {
      assert.equal(m.get(`${s}|target`), points, s);
      assert.equal(m.get(`${s}|nonTarget`), points, s);
    }
    assert.equal(rows.length, series.length * 2 * points);
  };
  expectSeries(a.variants, ["C", "A", "M"]);
  expectSeries(a.lambda, ["λ = 0.3", "λ = 0.5", "λ = 0.7", "λ = 0.9"]);
  expectSeries(a.t, ["t = 1", "t = 2", "t = 3", "t = 4", "t = 5"]);
  expectSeries(a.gradForms, ["detached", "through-g"]);
  assert.equal(a.g.length, 2 * 5 * points);
  assert.equal(a.thresholds.length, 3 + 4 + 5);
  assert.equal(a.settings.points, points);
  for (const rows of [a.variants, a.lambda, a.t, a.gradForms]) {
    for (const r of rows) assert.ok(Number.isFinite(r.loss) && r.loss >= 0 && Number.isFinite(r.grad) && r.grad >= 0);
  }
  // Plain data: survives a JSON round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
});

Deno.test("termCurves: gradient forms differ exactly by g'(cos), losses are identical", () => {
  const rows = termCurves(gradFormSettings(), 11);
  const detached = rows.filter((r) => r.series === "detached");
  const through = rows.filter((r) => r.series === "through-g");
  detached.forEach((d, i) => {
    const th = through[i];
    assert.equal(th.cos, d.cos);
    assert.equal(th.loss, d.loss);
    close(th.grad, d.grad * gPrime(d.cos, 3), 1e-12 * (1 + d.grad), `grad at ${d.cos}`);
  });
});
