import assert from "node:assert/strict";
import { loadExperiments } from "../../lib/experiments/spec.ts";
import { experimentPlot } from "../../lib/plots/experiment_plots.ts";
import { renderSvg } from "../../lib/render/svg.ts";
import { type Block, toHtml, toMarkdown } from "../../lib/report/document.ts";
import { experimentsSection, experimentTableBlock } from "../../lib/report/experiments_report.ts";
import { CELLS, fabricateResults, FIXTURE_SET } from "../experiments/fixtures.ts";

const EXPERIMENTS = await loadExperiments();
const family = (f: string) => EXPERIMENTS.find((e) => e.family === f)!;
const around = (mean: number) => [mean, mean + 0.5, mean - 0.5];

/** λ = 0.3 far below λ = 0.7, λ = 0.5 just below (within the spread); through g above; two datasets. */
const RESULTS = fabricateResults(EXPERIMENTS, {
  cells: {
    [CELLS.lambda(0.3)]: around(75),
    [CELLS.lambda(0.5)]: around(79.8),
    [CELLS.throughG]: around(82),
    [CELLS.noisy(CELLS.arcface, 0.6)]: around(60),
  },
  diverged: [CELLS.softmax],
  datasets: ["synthetic", "lfw"],
});

type Table = Extract<Block, { kind: "table" }>;
const ids = (svg: string) => [...svg.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);

function assertStandaloneSvg(svg: string, what: string): void {
  assert.ok(svg.startsWith("<svg"), `${what}: starts with <svg`);
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${what}: xmlns`);
  assert.ok(svg.trimEnd().endsWith("</svg>"), `${what}: ends with </svg>`);
  assert.doesNotMatch(svg, /<(div|figure|span|script)\b/, `${what}: no HTML inside`);
  assert.doesNotMatch(svg, /NaN|undefined/, `${what}: no NaN`);
}

Deno.test("experiments report: the section has the verdict table, per family a table, figure and verdict", () => {
  const { blocks, figures } = experimentsSection(RESULTS, EXPERIMENTS);
  assert.deepEqual(blocks[0], { kind: "heading", level: 2, text: "Trained experiments (profile `fixture`)" });
  assert.deepEqual(blocks[1], { kind: "paragraph", text: RESULTS.description });
  const about = blocks[2] as Extract<Block, { kind: "list" }>;
  assert.match(about.items[0], /^Machine: test machine, 2 cores; backend `wasm`; kit commit `ffffffffffff`;/);
  assert.match(about.items[1], /^Cost: 156 jobs, 0\.43 h/);
  assert.match(about.items[2], /^Seeds: 0, 1, 2\./);
  assert.ok(about.items.some((i) => i.startsWith("Dataset `lfw`: ")));

  const vi = blocks.findIndex((b) => b.kind === "heading" && b.text === "The paper's claims at this scale");
  assert.equal(vi, 3);
  const verdicts = blocks[vi + 1] as Table;
  assert.deepEqual(verdicts.headers, ["family", "dataset", "verdict", "evidence (10-fold ACC, %)"]);
  assert.deepEqual(
    verdicts.rows.map((r) => r.slice(0, 2)),
    ["synthetic", "lfw"].flatMap((d) => EXPERIMENTS.map((e) => [e.family, d])),
  );
  const lambda = verdicts.rows.find((r) => r[0] === "lambda")!;
  assert.equal(lambda[2], "**reproduced**");
  const noise = verdicts.rows.find((r) => r[0] === "noise")!;
  assert.equal(noise[2], "**not reproduced**");
  assert.match(String(noise[3]), /^At noise 0\.6: SphereFace2 minus ArcFace \+20\.0 pp\*/);

  // Per family: heading, question, claim; per dataset: heading, table, figure, verdict.
  for (const e of EXPERIMENTS) {
    const at = blocks.findIndex((b) => b.kind === "heading" && b.text === e.title);
    assert.ok(at > vi, e.family);
    assert.deepEqual(blocks[at + 1], { kind: "paragraph", text: `**Question.** ${e.question}` });
    assert.deepEqual(blocks[at + 2], { kind: "paragraph", text: `**The paper's claim.** ${e.claim}` });
    for (const [i, d] of ["synthetic", "lfw"].entries()) {
      const k = at + 3 + 4 * i;
      assert.deepEqual(blocks[k], { kind: "heading", level: 4, text: `${e.family} — ${d}` });
      assert.equal(blocks[k + 1].kind, "table");
      assert.equal((blocks[k + 1] as Table).rows.length, e.rows.length + 1);
      assert.equal(blocks[k + 2].kind, "figure");
      const v = blocks[k + 3] as Extract<Block, { kind: "paragraph" }>;
      assert.match(v.text, new RegExp(`^\\*\\*Verdict \\(${d}\\): (reproduced|not reproduced|not testable)\\.\\*\\* `));
    }
  }
  // The gradient-form finding after the margins family.
  const finding = blocks.find((b) =>
    b.kind === "paragraph" && b.text.startsWith("**The kit's finding: gradient forms.**")
  );
  assert.ok(finding && finding.kind === "paragraph");
  assert.match(
    finding.text,
    /synthetic: through g 82\.0 ± 0\.5 vs detached 80\.0 ± 0\.5: \+2\.0 pp, beyond.*lfw: through g/,
  );

  // One figure per family × dataset, each a standalone SVG, the figure blocks carrying them.
  assert.equal(figures.length, EXPERIMENTS.length * 2);
  assert.deepEqual(
    figures.map((f) => f.file),
    EXPERIMENTS.flatMap((e) => ["synthetic", "lfw"].map((d) => `exp_${e.family}_${d}.svg`)),
  );
  for (const f of figures) assertStandaloneSvg(f.svg, f.file);
  const figureBlocks = blocks.filter((b) => b.kind === "figure").map((b) => b.kind === "figure" && b.figure);
  assert.deepEqual(figureBlocks, figures);
});

Deno.test("experiments report: the Δ column marks differences beyond the spread with *, from the family's reference row", () => {
  const t = experimentTableBlock(RESULTS, family("lambda"), "synthetic");
  assert.deepEqual(t.headers, [
    "setting",
    "View 1 test: ACC 10-fold",
    "View 1 test: ACC best thr.",
    "View 1 test: TPR@1e-2",
    "View 1 test: TPR@1e-1",
    "Δ 10-fold vs ref.",
    "seeds",
    "config",
  ]);
  assert.deepEqual(t.align, ["left", ...Array(7).fill("right")]);
  assert.deepEqual(t.rows.map((r) => [r[0], r[1], r[5], r[6]]), [
    ["λ = 0.3", "75.0 ± 0.5", "-5.0 *", "3"],
    ["λ = 0.5", "79.8 ± 0.5", "-0.2", "3"],
    ["λ = 0.7", "80.0 ± 0.5", "ref.", "3"],
    ["λ = 0.9", "80.0 ± 0.5", "+0.0", "3"],
    ["random init (control)", "50.0 ± 0.5", "", "3"],
  ]);
  assert.equal(t.rows[0][7], RESULTS.cells[CELLS.lambda(0.3)].configHash.synthetic);
  assert.equal(t.rows[4][7], "—");

  // Noise: each row against SphereFace2 at the same noise ratio.
  const n = experimentTableBlock(RESULTS, family("noise"), "lfw");
  const delta = Object.fromEntries(n.rows.map((r) => [String(r[0]), r[5]]));
  assert.equal(delta["SphereFace2, noise 0.6"], "ref.");
  assert.equal(delta["SphereFace2, noise 0"], "ref.");
  assert.equal(delta["ArcFace, noise 0.6"], "-20.0 *");
  assert.equal(delta["CosFace, noise 0.6"], "+0.0");
  // Comparison: against SphereFace2; a diverged seed is counted.
  const c = experimentTableBlock(RESULTS, family("comparison"), "synthetic");
  assert.deepEqual(c.rows.find((r) => r[0] === "Softmax")!.slice(5, 7), ["+0.0", "3 (1 diverged)"]);
  assert.equal(c.rows.find((r) => r[0] === "SphereFace2")![5], "ref.");
  // Margins: against the first row (C, detached).
  const m = experimentTableBlock(RESULTS, family("margins"), "synthetic");
  assert.deepEqual(m.rows.map((r) => r[5]), ["ref.", "+2.0 *", "+0.0", "+0.0", ""]);
  // One seed: no spread, so no *.
  const one = fabricateResults(EXPERIMENTS, { base: [80], control: [50], cells: { [CELLS.lambda(0.3)]: [70] } });
  assert.equal(experimentTableBlock(one, family("lambda"), "synthetic").rows[0][5], "-10.0");
});

Deno.test("experiments report: figure ids are unique across figures and sections (idPrefix per section)", () => {
  const a = experimentsSection(RESULTS, EXPERIMENTS, { prefix: "smoke", title: "Smoke", level: 1 });
  const b = experimentsSection(RESULTS, EXPERIMENTS, { prefix: "cpu" });
  assert.deepEqual(a.blocks[0], { kind: "heading", level: 1, text: "Smoke" });
  assert.ok(
    a.blocks.some((x) => x.kind === "heading" && x.level === 2 && x.text === "The paper's claims at this scale"),
  );
  const files = [...a.figures, ...b.figures].map((f) => f.file);
  assert.equal(new Set(files).size, files.length);
  assert.ok(a.figures.every((f) => f.file.startsWith("smoke_")));
  const all = [...a.figures, ...b.figures].flatMap((f) => ids(f.svg));
  assert.equal(new Set(all).size, all.length, `duplicate ids: ${all}`);
  for (const f of a.figures) for (const id of ids(f.svg)) assert.ok(id.startsWith(f.file.replace(/\.svg$/, "")), id);
  // The prefix reaches the plot (renderSvg renumbers clip/pattern/marker ids with it).
  assert.equal(experimentPlot(RESULTS, family("t"), "lfw", { idPrefix: "cpu_t_lfw" }).idPrefix, "cpu_t_lfw");
  // The whole section renders to Markdown and to one HTML page with the SVGs inlined.
  const md = toMarkdown(a.blocks);
  for (const f of a.figures) assert.ok(md.includes(`](figures/${f.file})`), f.file);
  assert.match(md, /\| lambda \| synthetic \| \*\*reproduced\*\* \|/);
  const html = toHtml([...a.blocks, ...b.blocks], "report");
  assert.equal(html.match(/<svg /g)!.length, 20);
  assert.match(html, /<td>lambda<\/td><td>synthetic<\/td><td><strong>reproduced<\/strong><\/td>/);
  assert.match(html, /<td class="right">-5\.0 \*<\/td>/);
});

Deno.test("experiment plots: the three shapes show the rows, the seeds and the control", () => {
  // Axis family (λ): numeric x over the rows' values, a dashed control line and its note.
  const lambda = experimentPlot(RESULTS, family("lambda"), "synthetic");
  assert.deepEqual((lambda.x as { ticks: number[] }).ticks, [0.3, 0.5, 0.7, 0.9]);
  assert.equal(lambda.heading, `λ ablation — synthetic, ${FIXTURE_SET}`);
  const lsvg = renderSvg(lambda);
  assertStandaloneSvg(lsvg, "lambda");
  assert.match(lsvg, /stroke-dasharray="4,3"/);
  assert.match(lsvg, /dashed: random init 50\.0%/);
  assert.match(lsvg, /λ →/);
  // 4 rows × 3 seeds faint dots + 4 mean dots.
  assert.equal(lsvg.match(/<circle /g)!.length, 16);

  // Multi-series (noise): a swatch per loss.
  const nsvg = renderSvg(experimentPlot(RESULTS, family("noise"), "synthetic"));
  assertStandaloneSvg(nsvg, "noise");
  for (const s of ["SphereFace2", "ArcFace", "CosFace"]) assert.ok(nsvg.includes(`>${s}<`), s);

  // Categorical (comparison): one row per setting; a row without records is left out.
  const partial = fabricateResults(EXPERIMENTS, { omit: [CELLS.normface] });
  const comparison = experimentPlot(partial, family("comparison"), "synthetic");
  assert.deepEqual((comparison.y as { domain: string[] }).domain, [
    "Softmax",
    "SphereFace",
    "CosFace",
    "ArcFace",
    "SphereFace2",
  ]);
  const csvg = renderSvg(comparison);
  assertStandaloneSvg(csvg, "comparison");
  assert.ok(!csvg.includes(">NormFace<"));
  // No control records: no dashed line.
  const noControl = renderSvg(experimentPlot(fabricateResults(EXPERIMENTS, { control: [] }), family("t"), "synthetic"));
  assert.doesNotMatch(noControl, /stroke-dasharray|random init/);
});
