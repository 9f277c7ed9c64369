import assert from "node:assert/strict";
import { fixed, markdownTable, sci } from "../../lib/render/markdown.ts";

Deno.test("markdownTable: header, alignment rule, escaped cells", () => {
  const md = markdownTable(["a", "b|c", "n"], [["x", "y|z", 1.5], [null, "two\nlines", undefined]], [
    "left",
    "center",
    "right",
  ]);
  assert.equal(
    md,
    "| a | b\\|c | n |\n| :-- | :-: | --: |\n| x | y\\|z | 1.5 |\n| – | two lines | – |\n",
  );
});

Deno.test("markdownTable: rows must match the header", () => {
  assert.throws(() => markdownTable(["a", "b"], [["only one"]]), /row 0 has 1 cells, expected 2/);
});

Deno.test("fixed and sci: numbers, and a dash for missing values", () => {
  assert.equal(fixed(5.784568, 5), "5.78457");
  assert.equal(fixed(null, 3), "–");
  assert.equal(fixed(NaN, 3), "–");
  assert.equal(sci(2.220446049250313e-16), "2.2e-16");
  assert.equal(sci(undefined), "–");
});
