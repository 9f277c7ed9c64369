import assert from "node:assert/strict";
import { compactTables } from "../../lib/notebook/experiments.ts";

Deno.test("compactTables: one table per pair set, titled; Δ and seeds with the first set; no config hash", () => {
  const blocks = compactTables({
    kind: "table",
    headers: ["setting", "View 1: 10-fold", "View 1: best", "View 2: 10-fold", "Δ 10-fold vs ref.", "seeds", "config"],
    rows: [["λ 0.7", "80.0", "81.0", "90.0", "ref.", "3", "abc123"], [
      "λ 0.9",
      "85.0",
      "86.0",
      "92.0",
      "+5.0 *",
      "3",
      "def",
    ]],
    align: ["left", "right", "right", "right", "right", "right", "right"],
  });
  assert.deepEqual(blocks.map((b) => b.kind), ["paragraph", "table", "paragraph", "table"]);
  const [t1, t2] = [blocks[1], blocks[3]] as Extract<(typeof blocks)[number], { kind: "table" }>[];
  assert.deepEqual(blocks[0], { kind: "paragraph", text: "**View 1**" });
  assert.deepEqual(t1.headers, ["setting", "10-fold", "best", "Δ 10-fold vs ref.", "seeds"]);
  assert.deepEqual(t1.rows[1], ["λ 0.9", "85.0", "86.0", "+5.0 *", "3"]);
  assert.deepEqual(t2.headers, ["setting", "10-fold"]);
  assert.deepEqual(t2.rows[0], ["λ 0.7", "90.0"]);
  assert.ok(!JSON.stringify(blocks).includes("abc123"), "config hashes left out");
});
