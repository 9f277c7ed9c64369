import assert from "node:assert/strict";
import * as Plot from "@observablehq/plot";
import { renderSvg, type SvgPlotOptions } from "../../lib/render/svg.ts";

const rows = Array.from({ length: 21 }, (_, i) => {
  const x = -1 + i / 10;
  return [{ x, y: x * x, s: "square" }, { x, y: x ** 3, s: "cube & <more>" }];
}).flat();

const chart = (extra: Partial<SvgPlotOptions> = {}): SvgPlotOptions => ({
  x: { label: "cos θ" },
  y: { label: "value" },
  marks: [Plot.line(rows, { x: "x", y: "y", stroke: "s", clip: true })],
  ...extra,
});

/** Text content of every <text> element. */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

Deno.test("renderSvg: a standalone <svg> with xmlns and axis labels", () => {
  const svg = renderSvg(chart());
  assert.ok(svg.startsWith("<svg"), svg.slice(0, 40));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /^<svg[^>]* xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(texts(svg).some((t) => t.includes("cos θ")), "x label");
  assert.ok(texts(svg).some((t) => t.includes("value")), "y label");
  assert.ok(!/<figure|<div|<h2/.test(svg), "no HTML");
});

Deno.test("renderSvg: deterministic, clip ids renumbered per SVG", () => {
  const a = renderSvg(chart());
  const b = renderSvg(chart());
  assert.equal(a, b);
  assert.match(a, /id="plot-clip-1"/);
  assert.match(a, /clip-path="url\(#plot-clip-1\)"/);
  assert.match(renderSvg(chart({ idPrefix: "fig2" })), /id="fig2-clip-1"[\s\S]*url\(#fig2-clip-1\)/);
});

Deno.test("renderSvg: heading and swatches are drawn inside the SVG, text escaped", () => {
  const svg = renderSvg(chart({ heading: "Powers of x", swatches: "line" }));
  assert.ok(svg.startsWith("<svg"));
  const t = texts(svg);
  assert.ok(t.includes("Powers of x"));
  assert.ok(t.includes("square"));
  assert.ok(t.includes("cube &amp; &lt;more&gt;"), t.join(" | "));
  // The header pushes the plot down: the SVG is taller than Plot's default 400px.
  const height = Number(svg.match(/^<svg[^>]* height="(\d+(?:\.\d+)?)"/)![1]);
  assert.ok(height > 400, `height ${height}`);
  assert.match(svg, new RegExp(`viewBox="0 0 640 ${height}"`));
  assert.equal(svg, renderSvg(chart({ heading: "Powers of x", swatches: "line" })));
});

Deno.test("renderSvg: options that make Plot return HTML are rejected", () => {
  assert.throws(() => renderSvg({ ...chart(), title: "t" } as SvgPlotOptions), /title/);
  assert.throws(() => renderSvg(chart({ color: { legend: true } })), /swatches/);
  assert.throws(
    () => renderSvg({ swatches: true, marks: [Plot.dot(rows, { x: "x", y: "y", fill: "y" })] }),
    /ordinal color scale/,
  );
});

Deno.test("renderSvg: a string style becomes the style attribute", () => {
  assert.match(renderSvg(chart({ style: "background: white" })), /^<svg[^>]* style="background: white"/);
});
