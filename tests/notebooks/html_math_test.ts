import assert from "node:assert/strict";
import { katexCss, renderMathInHtml, renderTex } from "../../lib/notebook/html_math.ts";
import { figureBundle, svgSize } from "../../lib/render/display.ts";

/** A page shaped like nbconvert's classic export: a Markdown cell, a code cell, MathJax from a CDN. */
const PAGE = `<!DOCTYPE html><html><head>
<!-- Load mathjax -->
<!-- MathJax configuration -->
<!-- keep me -->
<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe"></script>
<script>init_mathjax = function() { if (window.MathJax) { MathJax.Hub.Config({}); } }</script>
</head><body>
<div class="text_cell_render border-box-sizing rendered_html"><p>With $\\sigma'(x) &lt; 1$ and a cost of 5 $ or so,</p>
<p>$$L = \\lambda \\log\\bigl(1+e^{-(s\\cos\\theta_y - b)}\\bigr)$$</p><p>inline \\(x_i\\) too; code: <code>$x$</code></p></div>
<div class="input_area"><pre>const price = "$1" + "$2";</pre></div>
</body></html>`;

Deno.test("renderMathInHtml: typesets $, $$ and \\( \\) in rendered Markdown, not in code; MathJax removed", () => {
  const r = renderMathInHtml(PAGE);
  assert.equal(r.rendered, 3);
  assert.deepEqual(r.errors, []);
  assert.equal((r.html.match(/class="katex"/g) ?? []).length, 3);
  assert.equal((r.html.match(/class="katex-display"/g) ?? []).length, 1);
  assert.ok(!/MathJax/i.test(r.html), "no MathJax script or comment left");
  assert.ok(r.html.includes("<!-- keep me -->"), "other comments stay");
  assert.ok(r.html.includes("<code>$x$</code>") && r.html.includes('"$1" + "$2"'), "code untouched");
  assert.ok(r.html.includes("a cost of 5 $ or so"), "a lone dollar stays text");
  assert.ok(r.html.includes("&lt;"), "text around maths stays escaped");
});

Deno.test("renderMathInHtml: KaTeX's CSS is inlined with its fonts as woff2 data URIs (offline)", () => {
  const css = katexCss();
  assert.ok(css.includes(".katex"));
  assert.ok(css.includes("data:font/woff2;base64,"));
  assert.ok(!/url\((?!data:)/.test(css), "no font fetched from a path");
  assert.ok(renderMathInHtml(PAGE).html.includes("data:font/woff2;base64,"));
});

Deno.test("renderTex: a bad formula is reported, not thrown", () => {
  const bad = renderTex("\\frac{1}{", false);
  assert.ok(bad.error && /KaTeX/i.test(bad.error));
  assert.equal(renderTex("x^2", false).error, undefined);
});

Deno.test("figureBundle: PNG as image/png and as an <img> at the figure's width; svgSize reads width or viewBox", () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
  const b = figureBundle(png, 640, "a <b> title");
  assert.equal(b["image/png"], btoa("\x89PNG"));
  assert.equal(
    b["text/html"],
    `<img src="data:image/png;base64,${btoa("\x89PNG")}" width="640" alt="a &lt;b&gt; title">`,
  );
  assert.equal(b["image/svg+xml"], undefined);
  assert.deepEqual(svgSize('<svg viewBox="0 0 760 349" height="349" width="760">'), { width: 760, height: 349 });
  assert.deepEqual(svgSize('<svg viewBox="0 0 300 200">'), { width: 300, height: 200 });
  assert.throws(() => svgSize("<svg>"), /neither/);
});
