import { expect } from "expect";
import { loadMetricGoldens, verifyMetricFile } from "../../lib/eval/golden.ts";
import { foldBounds, nearestFprTable } from "../../lib/eval/insightface_metrics.ts";
import {
  areaUnderRoc,
  bestThresholdAccuracy,
  combinedMetrics,
  openSphereMetrics,
  rocCurve,
} from "../../lib/eval/opensphere_metrics.ts";
import { compareRate, parseDecimal, rocVertices } from "../../lib/eval/roc.ts";
import { goldenPath, lastLine, runDeno } from "../shared.ts";

Deno.test("every metric golden case (tests/golden/metrics.json) matches to 1e-9", async (t) => {
  const file = await loadMetricGoldens(goldenPath("metrics.json"));
  expect(file.cases.length).toBe(12);
  const { results } = verifyMetricFile(file);
  for (const r of results) {
    await t.step(r.id, () => {
      if (!r.pass) throw new Error(r.line);
      expect(r.checks.length).toBeGreaterThan(0);
    });
  }
});

Deno.test("tiny_hand by hand (PROVENANCE-metrics.md §8)", () => {
  const scores = [0.95, 0.95, 0.85, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4];
  const labels = [1, 0, 1, 0, 1, 1, 0, 0, 0];
  const m = openSphereMetrics(scores, labels);
  expect(m.ACC).toBeCloseTo((7 / 9) * 100, 12);
  expect(m.AUC).toBeCloseTo(75, 12);
  expect(m.EER).toBeCloseTo(100 / 3, 12);
  expect(m["TPR@FPR=1e-1"]).toBeCloseTo(12.5, 12);
  expect(nearestFprTable(scores, labels)["TPR@FPR=1e-1"]).toBe(50);
  const roc = rocVertices(scores, labels);
  expect(Array.from(roc.fp)).toEqual([0, 1, 1, 2, 2, 3, 4, 5]);
  expect(Array.from(roc.tp)).toEqual([0, 1, 2, 3, 4, 4, 4, 4]);
  expect(rocCurve(scores, labels).tpr.at(-1)).toBe(1);
});

Deno.test("ACC and AUC equal brute force on random lists with ties", () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + Math.floor(rand() * 60);
    const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i : rand() < 0.5 ? 1 : 0));
    const scores = labels.map((y) => Math.round((rand() + 0.3 * y) * 8) / 8); // coarse: many ties
    const roc = rocVertices(scores, labels);
    let best = 0;
    for (const c of [...new Set(scores), Infinity]) {
      let correct = 0;
      scores.forEach((s, i) => (correct += (s >= c) === (labels[i] === 1) ? 1 : 0));
      best = Math.max(best, correct);
    }
    expect(bestThresholdAccuracy(roc).acc).toBeCloseTo((100 * best) / n, 10);
    let wins = 0;
    const pos = scores.filter((_, i) => labels[i] === 1);
    const neg = scores.filter((_, i) => labels[i] === 0);
    for (const p of pos) for (const q of neg) wins += p > q ? 1 : p === q ? 0.5 : 0;
    expect(areaUnderRoc(roc)).toBeCloseTo((100 * wins) / (pos.length * neg.length), 10);
  }
});

Deno.test("FPR targets are decided in exact rationals", () => {
  const t = parseDecimal("1e-3");
  expect(compareRate(3, 3000, t)).toBe(0);
  expect(compareRate(2, 3000, t)).toBe(-1);
  expect(parseDecimal(0.0005).label).toBe("5e-4");
  expect(parseDecimal("0.001")).toMatchObject({ mantissa: 1n, scale: 1000n });
  expect(() => parseDecimal("-1e-3")).toThrow(/not a positive decimal/);
});

Deno.test("Combined pools the lists (one ROC), which is not the mean of the lists", () => {
  const a = { name: "a", scores: [0.9, 0.8, 0.3, 0.2], labels: [1, 1, 0, 0] };
  const b = { name: "b", scores: [0.15, 0.14, 0.11, 0.1], labels: [1, 1, 0, 0] };
  expect(combinedMetrics([a, b]).ACC).toBe(75); // perfect per list, but one threshold cannot serve both
  expect(openSphereMetrics(a.scores, a.labels).ACC).toBe(100);
  expect(openSphereMetrics(b.scores, b.labels).ACC).toBe(100);
});

Deno.test("metric inputs without both classes, or mismatched lengths, are errors", () => {
  expect(() => openSphereMetrics([0.1, 0.2], [1, 1])).toThrow(/both positive and negative pairs \(P = 2, N = 0\)/);
  expect(() => openSphereMetrics([0.1, 0.2], [1])).toThrow(/2 scores but 1 labels/);
  expect(() => foldBounds(7)).toThrow(/at least 10 pairs/);
  expect(foldBounds(47).map(([s, e]) => e - s)).toEqual([5, 5, 5, 5, 5, 5, 5, 4, 4, 4]);
});

Deno.test("verify-metrics: all golden cases pass; a wrong value fails its case and exits 1", async () => {
  const ok = await runDeno(["tasks/verify_metrics.ts"]);
  expect(lastLine(ok.stdout)).toBe("metrics: 12 passed, 0 failed");
  expect(ok.code).toBe(0);
  const golden = JSON.parse(await Deno.readTextFile(goldenPath("metrics.json")));
  golden.cases = golden.cases.slice(0, 2);
  golden.cases[1].expected.opensphere.EER += 1e-6;
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify(golden));
    const bad = await runDeno(["tasks/verify_metrics.ts", path]);
    expect(lastLine(bad.stdout)).toBe("metrics: 1 passed, 1 failed");
    expect(bad.stdout).toMatch(/^FAIL ties_small .*opensphere\.EER/m);
    expect(bad.code).toBe(1);
  } finally {
    await Deno.remove(path);
  }
});
