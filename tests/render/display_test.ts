import assert from "node:assert/strict";
import {
  displayable,
  extractKeyNumbers,
  isDisplayable,
  JUPYTER_DISPLAY,
  KEY_NUMBERS_MIME,
  keyNumbers,
  markdown,
  table,
} from "../../lib/render/display.ts";

Deno.test("display: the Jupyter protocol symbol is the registered one and bundles are returned", () => {
  assert.equal(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
  const d = displayable({ "text/plain": "x" });
  assert.ok(isDisplayable(d));
  assert.ok(!isDisplayable({}));
  assert.deepEqual(d[JUPYTER_DISPLAY](), { "text/plain": "x" });
  assert.equal(markdown("**b**")[JUPYTER_DISPLAY]()["text/markdown"], "**b**");
});

Deno.test("table: HTML escaped, numbers right-aligned with fixed digits, missing as –", () => {
  const t = table([{ name: "<a>", v: 1.23456, n: null }, { name: "b|c", v: 2, n: 3 }], { digits: 2, caption: "C" });
  const bundle = t[JUPYTER_DISPLAY]();
  const html = bundle["text/html"] as string;
  assert.match(html, /<td style="text-align:left">&lt;a&gt;<\/td>/);
  assert.match(html, /<td style="text-align:right">1\.23<\/td>/);
  assert.match(html, /<caption>C<\/caption>/);
  assert.match(t.markdown, /\| b\\\|c \| 2 \| 3 \|/);
  assert.match(t.markdown, /\| <a> \| 1\.23 \| – \|/);
  assert.match(t.markdown, /\| :-- \| --: \| --: \|/);
});

Deno.test("keyNumbers: a dedicated MIME type, non-finite values rejected", () => {
  const bundle = keyNumbers({ a: 1, nested: { b: [0.5, "x"] } })[JUPYTER_DISPLAY]();
  assert.deepEqual(bundle[KEY_NUMBERS_MIME], { a: 1, nested: { b: [0.5, "x"] } });
  assert.throws(() => keyNumbers({ a: NaN }), /non-finite values at a/);
  assert.throws(() => keyNumbers({ n: { list: [1, Infinity] } }), /n\.list\[1\]/);
});

Deno.test("extractKeyNumbers: the last key-numbers output of an executed notebook, object or string form", () => {
  const nb = {
    cells: [
      { cell_type: "markdown" },
      { cell_type: "code", outputs: [{ output_type: "execute_result", data: { [KEY_NUMBERS_MIME]: { a: 1 } } }] },
      { cell_type: "code", outputs: [{ output_type: "stream" }] },
      { cell_type: "code", outputs: [{ output_type: "display_data", data: { [KEY_NUMBERS_MIME]: '{"a": 2}' } }] },
    ],
  };
  assert.deepEqual(extractKeyNumbers(nb), { a: 2 });
  assert.equal(extractKeyNumbers({ cells: [{ cell_type: "code", outputs: [] }] }), null);
});
