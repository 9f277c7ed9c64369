import assert from "node:assert/strict";
import { type Block, blocksHtml, inlineHtml, markdownToHtml, toHtml, toMarkdown } from "../../lib/report/document.ts";
import type { Figure } from "../../lib/report/loss_figures.ts";

const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>';
const FIGURE: Figure = { file: "g.svg", title: "g(z) for t = 1…5", caption: "Look at **t = 3** & `g`.", svg: SVG };

const BLOCKS: Block[] = [
  { kind: "heading", level: 2, text: "Results for `cpu` <profile>" },
  { kind: "paragraph", text: "**Done** & dusted: a < b." },
  { kind: "list", items: ["one `x`", 'two "quoted"'] },
  {
    kind: "table",
    headers: ["setting", "ACC | %"],
    rows: [["λ = 0.7", 84.5], ["**best**", null]],
    align: ["left", "right"],
  },
  { kind: "figure", figure: FIGURE },
  { kind: "markdown", markdown: "### Sub\n\nText *it*.\n\n\n" },
];

Deno.test("document: toMarkdown renders each block kind, separated by blank lines", () => {
  assert.equal(
    toMarkdown(BLOCKS),
    [
      "## Results for `cpu` <profile>",
      "**Done** & dusted: a < b.",
      '- one `x`\n- two "quoted"',
      "| setting | ACC \\| % |\n| :-- | --: |\n| λ = 0.7 | 84.5 |\n| **best** | – |",
      "![g(z) for t = 1…5](figures/g.svg)\n\n*Look at **t = 3** & `g`.*",
      "### Sub\n\nText *it*.",
    ].join("\n\n") + "\n",
  );
  assert.match(
    toMarkdown([{ kind: "figure", figure: FIGURE }], "out/figs"),
    /^!\[g\(z\) for t = 1…5\]\(out\/figs\/g\.svg\)/,
  );
  assert.equal(toMarkdown([]), "\n");
  assert.equal(toMarkdown([{ kind: "heading", level: 4, text: "h" }]), "#### h\n");
});

Deno.test("document: inlineHtml escapes HTML and turns `code` and **bold** into tags", () => {
  assert.equal(inlineHtml(`a < b & "c" > d`), "a &lt; b &amp; &quot;c&quot; &gt; d");
  assert.equal(inlineHtml("**x** and `y<z>`"), "<strong>x</strong> and <code>y&lt;z&gt;</code>");
  // Markup in the text cannot open a tag.
  assert.equal(inlineHtml("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
});

Deno.test("document: blocksHtml renders each block kind, escaped; figures inline their SVG", () => {
  const html = blocksHtml(BLOCKS);
  const parts = html.split("\n");
  assert.equal(parts[0], "<h2>Results for <code>cpu</code> &lt;profile&gt;</h2>");
  assert.equal(parts[1], "<p><strong>Done</strong> &amp; dusted: a &lt; b.</p>");
  assert.equal(parts[2], "<ul><li>one <code>x</code></li><li>two &quot;quoted&quot;</li></ul>");
  assert.equal(
    parts[3],
    '<table><thead><tr><th>setting</th><th>ACC | %</th></tr></thead><tbody><tr><td>λ = 0.7</td><td class="right">84.5</td></tr>' +
      '<tr><td><strong>best</strong></td><td class="right">–</td></tr></tbody></table>',
  );
  assert.equal(
    parts[4],
    `<figure>${SVG}<figcaption>Look at <strong>t = 3</strong> &amp; <code>g</code>.</figcaption></figure>`,
  );
  assert.equal(parts.slice(5).join("\n"), "<h3>Sub</h3>\n<p>Text <em>it</em>.</p>");
  assert.equal(parts.length, 7);
  // A markdown block's own HTML wins over the conversion.
  assert.equal(blocksHtml([{ kind: "markdown", markdown: "# x", html: "<div>mine</div>" }]), "<div>mine</div>");
  assert.equal(blocksHtml([]), "");
});

Deno.test("document: toHtml is one standalone page with the escaped title and the blocks' HTML", () => {
  const page = toHtml(BLOCKS, "SphereFace2 <kit> & co");
  assert.ok(page.startsWith('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'));
  assert.match(page, /<title>SphereFace2 &lt;kit&gt; &amp; co<\/title>/);
  assert.match(page, /<style>[^<]*td\.right\{text-align:right\}[^<]*<\/style>/);
  assert.ok(page.includes(`<body>\n${blocksHtml(BLOCKS)}\n</body></html>\n`));
  assert.ok(page.endsWith("</body></html>\n"));
  // No external resources.
  assert.doesNotMatch(page, /<(link|script|img)\b/);
});

Deno.test("document: markdownToHtml converts headings, pipe tables with \\|, lists, images and inline markup", () => {
  const markdown = [
    "# Title with `code`",
    "Some **bold** and *italic* text\nover two lines, 2 * 3 = 6.",
    "| name | value |\n| :-- | --: |\n| x \\| y | 1.5 |\n| <tag> | **2** |",
    "- one\n- two `c`\n  continued\n- *three*",
    "![Known figure](figures/known.svg)",
    "![Unknown <x>](figures/unknown.png)",
    "#### Level *four*",
  ].join("\n\n");
  const asked: string[] = [];
  const svgFor = (src: string) => {
    asked.push(src);
    return src === "figures/known.svg" ? SVG : undefined;
  };
  const html = markdownToHtml(markdown, svgFor).split("\n");
  assert.deepEqual(html, [
    "<h1>Title with <code>code</code></h1>",
    "<p>Some <strong>bold</strong> and <em>italic</em> text over two lines, 2 * 3 = 6.</p>",
    '<table><thead><tr><th>name</th><th class="right">value</th></tr></thead><tbody>' +
    '<tr><td>x | y</td><td class="right">1.5</td></tr>' +
    '<tr><td>&lt;tag&gt;</td><td class="right"><strong>2</strong></td></tr></tbody></table>',
    "<ul><li>one</li><li>two <code>c</code> continued</li><li><em>three</em></li></ul>",
    `<figure>${SVG}</figure>`,
    '<img src="figures/unknown.png" alt="Unknown &lt;x&gt;">',
    "<h4>Level <em>four</em></h4>",
  ]);
  assert.deepEqual(asked, ["figures/known.svg", "figures/unknown.png"]);
  // Without svgFor every image is an img tag; blank chunks are skipped.
  assert.equal(markdownToHtml("\n\n![a](b.svg)\n\n   \n\n"), '<img src="b.svg" alt="a">');
});

Deno.test("document: a markdown table written by markdownTable reads back cell for cell", () => {
  const blocks: Block[] = [{
    kind: "table",
    headers: ["a|b", "n"],
    rows: [["x | y", 1], ["<z>", 2.5]],
    align: ["left", "right"],
  }];
  // The table as Markdown, converted, equals the table block rendered directly.
  assert.equal(
    markdownToHtml(toMarkdown(blocks)),
    blocksHtml(blocks).replace("<th>n</th>", '<th class="right">n</th>'),
  );
});
