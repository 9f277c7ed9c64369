import { expect } from "expect";
import { lastLine, runDeno, sharedPath } from "../shared.ts";

Deno.test("eval --peer face-api on LFW View 2 (1+1 pairs per fold) writes metrics, report and ROC", async () => {
  const out = await Deno.makeTempDir();
  try {
    const dir = sharedPath("data/lfw");
    const r = await runDeno([
      "tasks/eval.ts",
      "--peer",
      "face-api",
      "--data",
      dir,
      "--limit",
      "1",
      "--out",
      `${out}/run`,
      "--backend",
      "wasm",
    ]);
    expect(r.stderr).toMatch(/^backend: wasm/m);
    expect(r.code).toBe(0);
    expect(JSON.parse(lastLine(r.stdout))).toMatchObject({ model: "face-api", protocols: ["view2"] });
    const metrics = JSON.parse(await Deno.readTextFile(`${out}/run/metrics.json`));
    const table = metrics.metrics.view2.table as Array<{ metric: string; protocol: string; value: number }>;
    expect(metrics.metrics.view2.pairs).toBe(20);
    expect(table.filter((t) => t.metric === "ACC").map((t) => t.protocol)).toEqual([
      "best threshold (OpenSphere)",
      "10-fold (insightface/LFW)",
    ]);
    // A pretrained model is far above chance even on 20 pairs.
    expect(table.find((t) => t.metric === "AUC")!.value).toBeGreaterThan(80);
    const report = await Deno.readTextFile(`${out}/run/report.md`);
    expect(report).toMatch(/\| ACC \| 10-fold \(insightface\/LFW\) \|/);
    expect(await Deno.readTextFile(`${out}/run/roc.svg`)).toMatch(/^<svg/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("eval: bad inputs are one-line errors", async () => {
  const noModel = await runDeno(["tasks/eval.ts"]);
  expect(noModel.code).toBe(2);
  expect(noModel.stderr).toMatch(/eval: give a model: --peer face-api/);
  const badProtocol = await runDeno(["tasks/eval.ts", "--peer", "face-api", "--protocol", "ijc"]);
  expect(badProtocol.code).toBe(2);
  expect(badProtocol.stderr).toMatch(/--protocol: Invalid option/);
  const missing = await runDeno(["tasks/eval.ts", "--peer", "face-api", "--data", "/nonexistent", "--backend", "cpu"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/\/nonexistent.*images\/ is missing/);
});
