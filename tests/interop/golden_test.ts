/**
 * Every case of tests/golden/backbones.json through the library path the tasks use (reader → mapping → kit
 * backbone), on the cpu backend, with the case's own tolerances; and a case altered the way a typical import
 * mistake would (BGR input) must fail, so the check can fail.
 */
import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { loadBackboneGolden, verifyBackboneCase } from "../../lib/interop/golden.ts";
import { useBackend } from "../shared.ts";

const FILE = new URL("../golden/backbones.json", import.meta.url).pathname;
const golden = await loadBackboneGolden(FILE);

for (const c of golden.cases) {
  Deno.test(
    `golden backbone: ${c.name} (${c.mode}${c.bn_stats_after ? ", BN stats" : ""}${
      c.input_gradient ? ", input gradient" : ""
    })`,
    async () => {
      await useBackend("cpu");
      const before = tf.memory().numTensors;
      const r = await verifyBackboneCase(c, golden.dir);
      expect(r.error).toBeUndefined();
      expect(r.line).toMatch(/^PASS /);
      const fields = r.checks.map((k) => k.field);
      expect(fields).toEqual([
        "embedding",
        ...(c.bn_stats_after ? ["bn_stats"] : []),
        ...(c.input_gradient ? ["input_grad"] : []),
      ]);
      expect(tf.memory().numTensors).toBe(before);
    },
  );
}

Deno.test("golden backbone: BGR input, or a wrong embedding, fails the check", async () => {
  await useBackend("cpu");
  const c = golden.cases[0];
  const bgr = await verifyBackboneCase({ ...c, preprocess: { ...c.preprocess, channel_order: "BGR" } }, golden.dir);
  expect(bgr.pass).toBe(false);
  expect(bgr.line).toMatch(/^FAIL .* embedding /);
  const shifted = c.embedding.map((row, i) => row.map((v, j) => (i === 0 && j === 0 ? v + 10 * c.tolerance.abs : v)));
  expect((await verifyBackboneCase({ ...c, embedding: shifted }, golden.dir)).pass).toBe(false);
  const missing = await verifyBackboneCase({ ...c, checkpoint: "backbones/nope.pth" }, golden.dir);
  expect(missing.line).toMatch(/^FAIL .*error: .*nope\.pth: checkpoint not found/);
});
