import { expect } from "expect";
import { loadGoldenFile, verifyFile } from "../../lib/losses/golden.ts";
import { goldenPath, useBackend } from "../shared.ts";

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`heads match OpenSphere's golden vectors (tests/golden/heads.json) on ${backend}`, async (t) => {
    const file = await loadGoldenFile(goldenPath("heads.json"));
    expect(file.cases.length).toBe(19);
    await useBackend(backend);
    const { results } = await verifyFile(file);
    for (const r of results) {
      await t.step(r.name, () => {
        if (!r.pass) throw new Error(r.line);
        // Every field the case carries was compared.
        expect(r.fields.map((f) => f.field)).toEqual(expect.arrayContaining(["loss", "gradX", "gradW"]));
      });
    }
  });
}

Deno.test("a golden file with a wrong value fails that case and names it", async () => {
  const file = await loadGoldenFile(goldenPath("heads.json"));
  await useBackend("cpu");
  const broken = structuredClone(file);
  broken.cases = broken.cases.slice(0, 2);
  broken.cases[1].gradW[0][0] += 1e-3;
  const { results, passed, failed, summary } = await verifyFile(broken);
  expect([passed, failed]).toEqual([1, 1]);
  expect(summary).toBe("heads: 1 passed, 1 failed");
  expect(results[1].line).toMatch(/^FAIL sf2c_iclr_paper .*gradW/);
  expect(results[1].fields.find((f) => f.field === "gradW")!.pass).toBe(false);
});

Deno.test("loadGoldenFile names the file and field of a malformed case", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify({ cases: [{ name: "x", head: "CosFace" }] }));
    await expect(loadGoldenFile(path)).rejects.toThrow(new RegExp(`${path}: cases\\.0\\.branch`));
    await Deno.writeTextFile(path, "{not json");
    await expect(loadGoldenFile(path)).rejects.toThrow(/not valid JSON/);
  } finally {
    await Deno.remove(path);
  }
});
