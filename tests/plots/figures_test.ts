import assert from "node:assert/strict";
import { biasDerivativeCurve, boundaryGrid } from "../../lib/analysis/geometry.ts";
import type { HeadOutcome, SoftmaxVsBinaryResult } from "../../lib/analysis/toy_experiments.ts";
import {
  biasDerivativeFigure,
  boundaryFigure,
  cosineHistogramFigure,
  decisionRingFigure,
  histogramRows,
  linesFigure,
} from "../../lib/plots/notebook_figures.ts";
import { assertSnapshot } from "../../lib/plots/snapshot.ts";
import { PlotFigure } from "../../lib/plots/figure.ts";

const golden = (name: string) => new URL(`./goldens/${name}.svg.snap`, import.meta.url).pathname;

/** A fixed, hand-made 2-D outcome (no training), so the golden does not depend on a backend's float noise. */
function fakeComparison(): SoftmaxVsBinaryResult {
  const head = (name: string, type: string, threshold: number | null): HeadOutcome => {
    const centres = [0, 1, 2].map((k) => {
      const a = (2 * Math.PI * k) / 3;
      return { label: k, x: Math.cos(a), y: Math.sin(a), deg: (a * 180) / Math.PI };
    });
    const ring = Array.from({ length: 36 }, (_, i) => {
      const deg = i * 10;
      const cos = centres.map((c) => Math.cos(((deg - c.deg) * Math.PI) / 180));
      const best = cos.indexOf(Math.max(...cos));
      return { deg, label: threshold === null || cos[best] >= threshold ? best : -1 };
    });
    const points = centres.flatMap((c) =>
      [-8, 0, 8].map((d) => {
        const a = ((c.deg + d) * Math.PI) / 180;
        return { x: Math.cos(a), y: Math.sin(a), label: c.label };
      })
    );
    return {
      name,
      type,
      points,
      centres,
      ring,
      coverage: ring.filter((r) => r.label >= 0).length / ring.length,
      trainAccuracy: 1,
      finalLoss: 0.1,
      threshold,
      accuracyAtThreshold: threshold === null ? null : 1,
      bestThreshold: 0.5,
      bestAccuracy: 1,
      perClassThresholdSpread: 0,
    };
  };
  return {
    settings: { classes: 3, perClass: 3, steps: 1, lr: 0.1, seed: 1, heads: {}, ringPoints: 36 },
    heads: [head("softmax", "cosface", null), head("binary", "sphereface2", 0.8)],
  };
}

Deno.test("figure snapshot: decision ring (argmax vs universal threshold)", async () => {
  const fig = decisionRingFigure(fakeComparison());
  assert.match(fig.svg, /none \(rejected\)/);
  await assertSnapshot(fig.svg, golden("decision_ring"));
});

Deno.test("figure snapshot: cosine histograms with thresholds", async () => {
  const samples = [0, 1].flatMap((p) =>
    Array.from({ length: 50 }, (_, i) => [
      { panel: `p${p}`, kind: "positive" as const, cos: 0.5 + 0.009 * i - 0.1 * p },
      { panel: `p${p}`, kind: "negative" as const, cos: -0.4 + 0.012 * i },
    ]).flat()
  );
  const fig = cosineHistogramFigure(samples, [{ panel: "p0", cos: 0.45 }, { panel: "p1", cos: 0.35 }], "hist");
  await assertSnapshot(fig.svg, golden("cosine_histograms"));
});

Deno.test("histogramRows: fractions per (panel, kind) sum to 1, values at ±1 fall in the end bins", () => {
  const rows = histogramRows([
    { panel: "a", kind: "positive", cos: 1 },
    { panel: "a", kind: "positive", cos: -1 },
    { panel: "a", kind: "negative", cos: 0.01 },
  ], 4);
  const pos = rows.filter((r) => r.kind === "positive");
  assert.deepEqual(pos.map((r) => r.fraction), [0.5, 0, 0, 0.5]);
  assert.deepEqual(rows.filter((r) => r.kind === "negative").map((r) => r.fraction), [0, 0, 1, 0]);
  assert.deepEqual([pos[0].x1, pos[3].x2], [-1, 1]);
});

Deno.test("figure snapshot: ∂L/∂b parts and the decision boundaries over m", async () => {
  await assertSnapshot(biasDerivativeFigure(biasDerivativeCurve({ points: 31 })).svg, golden("bias_derivative"));
  await assertSnapshot(boundaryFigure(boundaryGrid([0, 0.2, 0.4], [1, 3])).svg, golden("boundaries"));
});

Deno.test("figure snapshot: generic lines with panels", async () => {
  const rows = [0, 0.5, 1].flatMap((x) => [
    { series: "a", x, y: x * x, panel: "left" },
    { series: "b", x, y: 1 - x, panel: "right" },
  ]);
  await assertSnapshot(linesFigure(rows, "lines", { x: "x", y: "y" }).svg, golden("lines"));
});

Deno.test("PlotFigure: displays as a 2x PNG (image/png and <img> at the SVG's width), writes .svg and .png", async () => {
  const fig = boundaryFigure(boundaryGrid([0, 0.4], [3]));
  const bundle = fig[Symbol.for("Jupyter.display") as keyof PlotFigure] as unknown as () => Record<string, string>;
  const shown = bundle.call(fig);
  assert.equal(shown["image/svg+xml"], undefined, "no bare SVG: nbconvert's HTML drops it");
  const png2 = Uint8Array.from(atob(shown["image/png"]), (c) => c.charCodeAt(0));
  assert.deepEqual(png2, fig.png({ scale: 2 }));
  const width = Number(/ width="(\d+)"/.exec(fig.svg.slice(0, fig.svg.indexOf(">")))![1]);
  assert.ok(shown["text/html"].startsWith(`<img src="data:image/png;base64,${shown["image/png"]}" width="${width}"`));
  const png = fig.png();
  assert.deepEqual([...png.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.deepEqual(fig.png(), png, "deterministic");
  assert.ok(fig.png({ scale: 2 }).length > png.length);
  // Text is drawn (a font is loaded): the same figure without its heading and legends gives a different PNG.
  const blank = new PlotFigure(fig.svg.replace(/<text[^>]*>[^<]*<\/text>/g, ""));
  assert.notDeepEqual(blank.png(), png);
  const dir = await Deno.makeTempDir();
  try {
    const paths = await fig.write(`${dir}/b`);
    assert.deepEqual(paths, [`${dir}/b.svg`, `${dir}/b.png`]);
    assert.equal(await Deno.readTextFile(`${dir}/b.svg`), fig.svg);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => new PlotFigure("<div/>"), /svg/);
});
