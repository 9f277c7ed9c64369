/**
 * The committed notebooks' text: formatted as `deno fmt` leaves it, and maths that `deno fmt`'s Markdown wrapper cannot
 * break. (`deno fmt --check` itself reports every .ipynb as unformatted in Deno 2.9, even one `deno fmt` just wrote,
 * with an empty diff; so the check here formats each notebook through stdin and compares the bytes.)
 */
import assert from "node:assert/strict";
import { listNotebooks, REPO_ROOT as REPO } from "../../lib/notebook/runner.ts";

type Cell = { cell_type: string; source: string[] | string };
const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);

Deno.test("notebooks: each is byte for byte what `deno fmt` makes of it", async () => {
  for (const nb of await listNotebooks()) {
    const original = await Deno.readTextFile(nb.path);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--ext=ipynb", "-"],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(original));
    await writer.close();
    const out = await child.output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout), original, `${nb.name}: run \`npx deno fmt notebooks/*.ipynb\``);
  }
});

/** Lines of display maths that Markdown would read as a list item, a quote or a heading. */
const BLOCK_START = /^\s*([-+*>#]\s|\d+[.)]\s)/;

Deno.test("notebooks: display maths is one block deno fmt cannot turn into a list (no blank line, no +/− at a line start)", async () => {
  for (const nb of await listNotebooks()) {
    const json = JSON.parse(await Deno.readTextFile(nb.path)) as { cells: Cell[] };
    json.cells.forEach((cell, i) => {
      if (cell.cell_type !== "markdown") return;
      const md = text(cell);
      assert.equal((md.match(/\$\$/g) ?? []).length % 2, 0, `${nb.name} cell ${i}: unbalanced $$`);
      for (const m of md.matchAll(/\$\$([\s\S]*?)\$\$/g)) {
        const where = `${nb.name} cell ${i}: ${m[1].slice(0, 60)}`;
        assert.ok(!/\n\s*\n/.test(m[1]), `${where}: blank line inside $$ … $$`);
        for (const line of m[1].split("\n").slice(1)) assert.ok(!BLOCK_START.test(line), `${where}: line "${line}"`);
        // A space before a binary operator is where the wrapper may break the line: write `a+b`, not `a + b`.
        assert.ok(!/ [-+=] /.test(m[1]), `${where}: spaces around an operator (write them without spaces)`);
      }
    });
  }
});

Deno.test("notebooks: each ends with exercises that have hints, and none points a student at ../shared", async () => {
  for (const nb of await listNotebooks()) {
    const json = JSON.parse(await Deno.readTextFile(nb.path)) as { cells: Cell[] };
    const markdown = json.cells.filter((c) => c.cell_type === "markdown").map(text);
    const exercises = markdown.find((md) => /^## Exercises\b/m.test(md));
    assert.ok(exercises, `${nb.name}: no "## Exercises" section`);
    const items = exercises.slice(exercises.search(/^## Exercises\b/m)).split(/\n(?=\d+\. )/).slice(1);
    assert.ok(items.length >= 2, `${nb.name}: ${items.length} exercises`);
    for (const item of items) assert.match(item, /_Hint/, `${nb.name}: exercise without a hint: ${item.slice(0, 60)}`);
    for (const cell of json.cells) assert.ok(!text(cell).includes("../shared"), `${nb.name}: refers to ../shared`);
  }
});
