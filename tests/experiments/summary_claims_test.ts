import assert from "node:assert/strict";
import { checkClaims, type ClaimCheck, gradientFormFindings } from "../../lib/experiments/claims.ts";
import type { GridResults } from "../../lib/experiments/grid.ts";
import { CONTROL_CELL, METRIC_KEYS } from "../../lib/experiments/jobs.ts";
import { type Experiment, FAMILIES, type Family, loadExperiments } from "../../lib/experiments/spec.ts";
import {
  cellStat,
  controlRow,
  datasetSets,
  difference,
  experimentsIn,
  experimentTable,
  formatStat,
  PRIMARY_METRIC,
  stat,
  TABLE_METRICS,
} from "../../lib/experiments/summary.ts";
import { CELLS, type FabricateOptions, fabricateResults, FIXTURE_SET } from "./fixtures.ts";

const EXPERIMENTS = await loadExperiments();
const family = (f: Family) => EXPERIMENTS.find((e) => e.family === f)!;

/** Values around a mean with sample std 0.5 over three seeds. */
const around = (mean: number) => [mean, mean + 0.5, mean - 0.5];

function claim(options: FabricateOptions, f: Family, experiments: readonly Experiment[] = EXPERIMENTS): ClaimCheck {
  const checks = checkClaims(fabricateResults(experiments, options), experiments);
  const c = checks.find((x) => x.family === f);
  assert.ok(c, `no verdict for ${f}`);
  return c;
}

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

Deno.test("summary: stat gives the mean and the sample std (n − 1), 0 for one value, NaN mean for none", () => {
  const s = stat([1, 2, 3, 4]);
  assert.equal(s.mean, 2.5);
  close(s.std, Math.sqrt(5 / 3));
  assert.equal(s.n, 4);
  assert.deepEqual(s.values, [1, 2, 3, 4]);
  const input = [84.4, 85.1, 83.9];
  const t = stat(input);
  input[0] = 0;
  assert.deepEqual(t.values, [84.4, 85.1, 83.9], "values are copied");
  close(t.std, 0.602771, 1e-6);
  assert.deepEqual(stat([5]), { mean: 5, std: 0, n: 1, values: [5] });
  const none = stat([]);
  assert.ok(Number.isNaN(none.mean));
  assert.equal(none.std, 0);
  assert.equal(none.n, 0);
});

Deno.test("summary: difference is beyond the spread when |Δ| > 2·SE, never with one seed", () => {
  const a = stat([84.4, 85.1, 83.9]), b = stat([80.2, 81.0, 79.5]);
  const d = difference(a, b);
  close(d.delta, 85.1 / 3 + 84.4 / 3 + 83.9 / 3 - (80.2 + 81.0 + 79.5) / 3, 1e-9);
  close(d.se, Math.sqrt(a.std ** 2 / 3 + b.std ** 2 / 3));
  assert.equal(d.beyond, true);
  assert.equal(difference(b, a).beyond, true);
  assert.ok(difference(b, a).delta < 0);
  // Δ = 0.5 against SE = √(1/3 + 1/3) ≈ 0.82: within.
  const w = difference(stat([80, 81, 79]), stat([80.5, 81.5, 79.5]));
  close(w.delta, -0.5);
  assert.equal(w.beyond, false);
  // Just above and just below 2·SE (SE = 0.5·√(2/3) ≈ 0.408 for two cells of std 0.5 over three seeds).
  const se = Math.sqrt(2 * 0.25 / 3);
  assert.equal(difference(stat(around(80 + 2 * se + 0.01)), stat(around(80))).beyond, true);
  assert.equal(difference(stat(around(80 + 2 * se - 0.01)), stat(around(80))).beyond, false);
  // One seed on either side: no spread to compare with, never beyond.
  assert.equal(difference(stat([95]), stat([50])).beyond, false);
  assert.equal(difference(stat([95]), stat(around(50))).beyond, false);
  assert.equal(difference(stat(around(95)), stat([50])).beyond, false);
  // No spread at all (identical seeds): any nonzero Δ is beyond, Δ = 0 is not.
  assert.equal(difference(stat([80, 80]), stat([79, 79])).beyond, true);
  assert.equal(difference(stat([80, 80]), stat([80, 80])).beyond, false);
});

Deno.test("summary: formatStat, cellStat and datasetSets read the fabricated records", () => {
  assert.equal(formatStat(stat([84.44, 85.1, 83.9])), "84.5 ± 0.6");
  assert.equal(formatStat(stat([84.44])), "84.4");
  assert.equal(formatStat(stat([84.44, 85.1]), 2), "84.77 ± 0.47");
  assert.equal(formatStat(null), "—");
  assert.equal(formatStat(undefined), "—");
  const results = fabricateResults(EXPERIMENTS, { cells: { [CELLS.arcface]: [70, 71] }, datasets: ["a", "b"] });
  assert.deepEqual(datasetSets(results, "a"), [FIXTURE_SET]);
  assert.deepEqual(datasetSets(results, "zzz"), []);
  assert.deepEqual(cellStat(results, "b", CELLS.arcface, FIXTURE_SET)!.values, [70, 71]);
  assert.equal(cellStat(results, "a", CELLS.arcface, FIXTURE_SET, METRIC_KEYS.bestAcc)!.mean, 71);
  assert.equal(cellStat(results, "a", CONTROL_CELL, FIXTURE_SET)!.mean, 50);
  assert.equal(cellStat(results, "a", CELLS.arcface, "view2"), null);
  assert.equal(cellStat(results, "a", "no-such-cell", FIXTURE_SET), null);
  assert.equal(cellStat(results, "a", CELLS.arcface, FIXTURE_SET, "no metric"), null);
  assert.equal(PRIMARY_METRIC, METRIC_KEYS.tenFoldAcc);
});

Deno.test("summary: experimentTable has one row per experiment row, in order, with its cell's stats", () => {
  const results = fabricateResults(EXPERIMENTS, {
    cells: { [CELLS.noisy(CELLS.cosface, 0.4)]: [61, 62, 63] },
    omit: [CELLS.noisy(CELLS.arcface, 0.6)],
    diverged: [CELLS.noisy(CELLS.cosface, 0.6)],
  });
  for (const e of EXPERIMENTS) {
    const rows = experimentTable(results, e, "synthetic");
    assert.deepEqual(rows.map((r) => r.label), e.rows.map((r) => r.label), e.family);
    assert.deepEqual(rows.map((r) => r.x), e.rows.map((r) => r.x));
    assert.deepEqual(rows.map((r) => r.series), e.rows.map((r) => r.series));
  }
  const noise = experimentTable(results, family("noise"), "synthetic");
  const cos04 = noise.find((r) => r.label === "CosFace, noise 0.4")!;
  assert.equal(cos04.cell, "cosface-s30-m0.35-noise0.4");
  assert.equal(cos04.seeds, 3);
  assert.equal(cos04.diverged, 0);
  assert.equal(cos04.configHash, results.cells[cos04.cell].configHash.synthetic);
  assert.deepEqual(Object.keys(cos04.stats), [FIXTURE_SET]);
  assert.deepEqual(Object.keys(cos04.stats[FIXTURE_SET]), [...TABLE_METRICS]);
  assert.equal(cos04.stats[FIXTURE_SET][METRIC_KEYS.tenFoldAcc].mean, 62);
  assert.equal(cos04.stats[FIXTURE_SET]["TPR@FPR=1e-2"].mean, 32);
  assert.equal(noise.find((r) => r.label === "CosFace, noise 0.6")!.diverged, 1);
  const missing = noise.find((r) => r.label === "ArcFace, noise 0.6")!;
  assert.equal(missing.seeds, 0);
  assert.deepEqual(missing.stats[FIXTURE_SET], {});
  const control = controlRow(results, "synthetic");
  assert.equal(control.label, "random init (control)");
  assert.equal(control.cell, CONTROL_CELL);
  assert.equal(control.configHash, "—");
  assert.equal(control.stats[FIXTURE_SET][PRIMARY_METRIC].mean, 50);
  // A cell the results do not know has "?" as its hash.
  const other = { ...results, cells: {} } as GridResults;
  assert.equal(experimentTable(other, family("lambda"), "synthetic")[0].configHash, "?");
});

Deno.test("summary: experimentsIn keeps the families whose every row was trained", () => {
  const lambdaOnly = fabricateResults([family("lambda"), family("comparison")]);
  assert.deepEqual(experimentsIn(lambdaOnly, EXPERIMENTS).map((e) => e.family), ["lambda", "comparison"]);
  assert.deepEqual(experimentsIn(fabricateResults(EXPERIMENTS), EXPERIMENTS).map((e) => e.family), [...FAMILIES]);
});

Deno.test("claims: one verdict per family and dataset, in order, on the first pair set", () => {
  const checks = checkClaims(fabricateResults(EXPERIMENTS, { datasets: ["a", "b"] }), EXPERIMENTS);
  assert.deepEqual(checks.map((c) => `${c.dataset}/${c.family}`), [
    ...FAMILIES.map((f) => `a/${f}`),
    ...FAMILIES.map((f) => `b/${f}`),
  ]);
  for (const c of checks) {
    assert.equal(c.set, FIXTURE_SET);
    assert.equal(c.claim, family(c.family).claim);
  }
});

Deno.test("claims: λ — reproduced when no λ beats 0.7 and 0.3 hurts; not reproduced otherwise", () => {
  const ok = claim({ cells: { [CELLS.lambda(0.3)]: around(75), [CELLS.lambda(0.5)]: around(79.5) } }, "lambda");
  assert.equal(ok.verdict, "reproduced", ok.evidence);
  assert.match(
    ok.evidence,
    /No λ beats 0\.7 beyond the seed spread\. λ = 0\.7 vs 0\.3: \+5\.0 pp \(beyond the spread\)\./,
  );
  assert.match(ok.evidence, /^ranking: λ = 0\.7 80\.0 > λ = 0\.9 80\.0 > λ = 0\.5 79\.5 > λ = 0\.3 75\.0\./);

  const better = claim({ cells: { [CELLS.lambda(0.3)]: around(75), [CELLS.lambda(0.9)]: around(83) } }, "lambda");
  assert.equal(better.verdict, "not reproduced");
  assert.match(better.evidence, /Beyond the seed spread, λ = 0\.9 \(\+3\.0 pp\) beat\(s\) λ = 0\.7\./);

  const flat = claim({ cells: { [CELLS.lambda(0.3)]: around(79.8) } }, "lambda");
  assert.equal(flat.verdict, "not reproduced");
  assert.match(flat.evidence, /λ = 0\.7 vs 0\.3: \+0\.2 pp \(within the spread\)/);
});

Deno.test("claims: t — reproduced when some t > 1 beats t = 1 beyond the spread", () => {
  const ok = claim({ cells: { [CELLS.t(1)]: around(75), [CELLS.t(4)]: around(82) } }, "t");
  assert.equal(ok.verdict, "reproduced", ok.evidence);
  assert.match(ok.evidence, /Best t > 1 vs t = 1: t = 4 \+7\.0 pp \(beyond the spread\)/);
  assert.match(ok.evidence, /t = 2: \+5\.0 pp\*, t = 3: \+5\.0 pp\*, t = 4: \+7\.0 pp\*, t = 5: \+5\.0 pp\*/);

  const flat = claim({}, "t");
  assert.equal(flat.verdict, "not reproduced");
  assert.match(flat.evidence, /\+0\.0 pp \(within the spread\)/);
  const worse = claim({ cells: { [CELLS.t(1)]: around(85) } }, "t");
  assert.equal(worse.verdict, "not reproduced");
  assert.match(worse.evidence, /^ranking: t = 1 85\.0 > /);
});

Deno.test("claims: margins — reproduced when C, A and M all train and none differ by > 2 pp beyond the spread", () => {
  // The gradient-form row is not one of the margin forms: its value does not matter.
  const ok = claim({
    cells: { [CELLS.marginA]: around(80.2), [CELLS.marginM]: around(79.8), [CELLS.throughG]: around(60) },
  }, "margins");
  assert.equal(ok.verdict, "reproduced", ok.evidence);
  assert.match(ok.evidence, /3\/3 margin forms beat the random-init control beyond the spread; largest difference/);
  assert.match(ok.evidence, /none is both beyond the spread and more than 2 pp/);

  // Tight seeds: 1 pp is beyond the spread, but within the 2 pp equivalence margin of "the same range".
  const close = claim({ cells: { [CELLS.marginM]: around(81) } }, "margins");
  assert.equal(close.verdict, "reproduced", close.evidence);
  assert.match(close.evidence, /beyond the spread but within 2 pp: .*M, m 1\.7/);

  const differ = claim({ cells: { [CELLS.marginM]: around(70) } }, "margins");
  assert.equal(differ.verdict, "not reproduced");
  assert.match(
    differ.evidence,
    /beyond the spread and more than 2 pp apart: C, m 0\.4 \(detached: v0\/main\) vs M, m 1\.7: \+10\.0 pp; A, m 0\.5 vs M, m 1\.7: \+10\.0 pp\./,
  );

  // M does not train (at the control), the others do.
  const untrained = claim({ cells: { [CELLS.marginM]: around(50) } }, "margins");
  assert.equal(untrained.verdict, "not reproduced");
  assert.match(untrained.evidence, /2\/3 margin forms beat the random-init control/);
});

Deno.test("claims: comparison — reproduced when SphereFace2 is ahead of all five beyond the spread", () => {
  const ok = claim({ cells: { [CELLS.paper]: around(85) } }, "comparison");
  assert.equal(ok.verdict, "reproduced", ok.evidence);
  assert.match(
    ok.evidence,
    /Each loss minus SphereFace2: Softmax -5\.0 pp\*, NormFace -5\.0 pp\*, SphereFace -5\.0 pp\*, CosFace -5\.0 pp\*, ArcFace -5\.0 pp\* \(\* beyond the spread\): ahead of 5\/5 beyond the spread\.$/,
  );

  const behind = claim({ cells: { [CELLS.paper]: around(85), [CELLS.arcface]: around(90) } }, "comparison");
  assert.equal(behind.verdict, "not reproduced");
  assert.match(behind.evidence, /ArcFace \+5\.0 pp\*.*ahead of 4\/5 beyond the spread, behind ArcFace\.$/);

  const tie = claim({ cells: { [CELLS.paper]: around(85), [CELLS.cosface]: around(84.8) } }, "comparison");
  assert.equal(tie.verdict, "not reproduced");
  assert.match(tie.evidence, /CosFace -0\.2 pp,.*ahead of 4\/5/);
});

Deno.test("claims: noise — reproduced when SphereFace2 leads ArcFace and CosFace at the top noise beyond the spread", () => {
  const cells = {
    [CELLS.noisy(CELLS.paper, 0.6)]: around(75),
    [CELLS.noisy(CELLS.arcface, 0.6)]: around(60),
    [CELLS.noisy(CELLS.cosface, 0.6)]: around(62),
  };
  const ok = claim({ cells }, "noise");
  assert.equal(ok.verdict, "reproduced", ok.evidence);
  assert.equal(
    ok.evidence,
    "At noise 0.6: SphereFace2 minus ArcFace +15.0 pp*, CosFace +13.0 pp* (* beyond the spread). " +
      "Drop from noise 0 to 0.6: SphereFace2 5.0 pp, ArcFace 20.0 pp, CosFace 18.0 pp.",
  );
  const robust = claim({ cells: { ...cells, [CELLS.noisy(CELLS.arcface, 0.6)]: around(80) } }, "noise");
  assert.equal(robust.verdict, "not reproduced");
  assert.match(robust.evidence, /ArcFace -5\.0 pp\*, CosFace \+13\.0 pp\*/);

  // Every loss back at the control at the top ratio: nothing left to rank, whatever the order.
  const erased = claim({
    cells: {
      [CELLS.noisy(CELLS.paper, 0.6)]: around(49),
      [CELLS.noisy(CELLS.arcface, 0.6)]: around(50.5),
      [CELLS.noisy(CELLS.cosface, 0.6)]: around(50),
    },
  }, "noise");
  assert.equal(erased.verdict, "not testable", erased.evidence);
  assert.equal(
    erased.evidence,
    "At noise 0.6 no loss beats the random-init control beyond the spread (SphereFace2 49.0 ± 0.5, ArcFace 50.5 ± " +
      "0.5, CosFace 50.0 ± 0.5 vs random init 50.0 ± 0.5): the noise erased what training learned, so the losses " +
      "cannot be ranked there. Drop from noise 0 to 0.6: SphereFace2 31.0 pp, ArcFace 29.5 pp, CosFace 30.0 pp.",
  );
});

Deno.test("claims: not testable when no row beats the control beyond the spread, or rows or control are missing", () => {
  const flat = checkClaims(fabricateResults(EXPERIMENTS, { base: around(50) }), EXPERIMENTS);
  assert.deepEqual(flat.map((c) => c.verdict), Array(5).fill("not testable"));
  for (const c of flat) {
    assert.match(
      c.evidence,
      /^no row beats the random-init control beyond the seed spread \(best: .* 50\.0 ± 0\.5 vs random init 50\.0 ± 0\.5, \+0\.0 pp\): the models did not learn/,
    );
  }
  // Rows above the control, but within the spread of the (noisy) control.
  const noisy = claim({ base: around(51), control: [45, 50, 55] }, "comparison");
  assert.equal(noisy.verdict, "not testable");
  // All below the control beyond the spread: not learned either.
  assert.equal(claim({ base: around(40) }, "lambda").verdict, "not testable");
  // A single learned row is enough to test the family (here: only λ = 0.3 learned, so λ's claim fails).
  assert.equal(
    claim({ base: around(50), cells: { [CELLS.lambda(0.3)]: around(70) } }, "lambda").verdict,
    "not reproduced",
  );

  const noControl = claim({ control: [] }, "t");
  assert.equal(noControl.verdict, "not testable");
  assert.equal(noControl.evidence, "no random-initialisation control to compare with");
  const missing = claim({ omit: [CELLS.t(5), CELLS.t(2)] }, "t");
  assert.equal(missing.verdict, "not testable");
  assert.equal(missing.evidence, "rows without results: t = 2, t = 5");
  // One seed: nothing is beyond the spread, so nothing is testable.
  const oneSeed = checkClaims(fabricateResults(EXPERIMENTS, { base: [90], control: [50] }), EXPERIMENTS);
  assert.deepEqual(oneSeed.map((c) => c.verdict), Array(5).fill("not testable"));
});

Deno.test("claims: gradientFormFindings compares through g with detached per dataset", () => {
  const margins = family("margins");
  const beyond = gradientFormFindings(
    fabricateResults(EXPERIMENTS, { cells: { [CELLS.throughG]: around(82) }, datasets: ["a", "b"] }),
    margins,
  );
  assert.deepEqual(
    beyond,
    ["a", "b"].map((dataset) => ({
      dataset,
      set: FIXTURE_SET,
      text: "through g 82.0 ± 0.5 vs detached 80.0 ± 0.5: +2.0 pp, beyond the seed-to-seed spread",
    })),
  );
  const within = gradientFormFindings(
    fabricateResults(EXPERIMENTS, { cells: { [CELLS.throughG]: around(79.8) } }),
    margins,
  );
  assert.equal(within[0].text, "through g 79.8 ± 0.5 vs detached 80.0 ± 0.5: -0.2 pp, within the seed-to-seed spread");
  // Without the through-g cell's records, or without such a row: no finding.
  assert.deepEqual(gradientFormFindings(fabricateResults(EXPERIMENTS, { omit: [CELLS.throughG] }), margins), []);
  const noRow = { ...margins, rows: margins.rows.filter((r) => !/through g/.test(r.label)) };
  assert.deepEqual(gradientFormFindings(fabricateResults(EXPERIMENTS), noRow), []);
});

Deno.test("claims: rows are found by role, not by label; a row's role missing is an error naming the family and role", () => {
  const results = fabricateResults(EXPERIMENTS, {
    cells: { [CELLS.lambda(0.3)]: around(70), [CELLS.t(1)]: around(70), [CELLS.softmax]: around(60) },
  });
  const relabelled = EXPERIMENTS.map((e) => ({ ...e, rows: e.rows.map((r, i) => ({ ...r, label: `row ${i}` })) }));
  const verdicts = (c: ClaimCheck[]) => c.map((x) => `${x.family}: ${x.verdict}`);
  assert.deepEqual(verdicts(checkClaims(results, relabelled)), verdicts(checkClaims(results, EXPERIMENTS)));
  for (const [family, role] of [["lambda", "weak"], ["t", "baseline"], ["comparison", "paper"], ["noise", "paper"]]) {
    const stripped = EXPERIMENTS.map((e) =>
      e.family !== family
        ? e
        : { ...e, rows: e.rows.map((r) => ({ ...r, role: r.role === role ? undefined : r.role })) }
    );
    assert.throws(
      () => checkClaims(results, stripped),
      new RegExp(
        `experiment ${family}: the claim needs a row with role "${role}" \\(configs/experiments/${family}\\.json\\)`,
      ),
    );
  }
});
