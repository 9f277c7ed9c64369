import { expect } from "expect";
import { lastLine, lfwPath, lfwTest, runDeno } from "../shared.ts";

lfwTest("eval --peer face-api on LFW View 2 (1+1 pairs per fold) writes metrics, report and ROC", async () => {
  const out = await Deno.makeTempDir();
  try {
    const dir = lfwPath();
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
  expect(noModel.stderr).toMatch(/eval: give a model: a training run folder \(RUN_DIR\) or --peer face-api/);
  const badProtocol = await runDeno(["tasks/eval.ts", "--peer", "face-api", "--protocol", "ijc"]);
  expect(badProtocol.code).toBe(2);
  expect(badProtocol.stderr).toMatch(/--protocol: Invalid option/);
  const missing = await runDeno(["tasks/eval.ts", "--peer", "face-api", "--data", "/nonexistent", "--backend", "cpu"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/\/nonexistent.*images\/ is missing/);
});

lfwTest("eval RUN_DIR: a model trained by `deno task train` is evaluated on aligned LFW crops", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const train = await runDeno([
      "tasks/train.ts",
      "configs/train/toy-sfnet4-sphereface2.json",
      "--train.steps=4",
      "--checkpoint.every=4",
      "--out",
      `${tmp}/run`,
      "--quiet",
      "--backend",
      "cpu",
    ]);
    expect(train.code).toBe(0);
    const r = await runDeno([
      "tasks/eval.ts",
      `${tmp}/run`,
      "--data",
      lfwPath(),
      "--limit",
      "1",
      "--out",
      `${tmp}/eval`,
      "--backend",
      "cpu",
    ]);
    expect(r.code).toBe(0);
    const metrics = JSON.parse(await Deno.readTextFile(`${tmp}/eval/metrics.json`));
    expect(metrics.model).toBe("toy-sfnet4-sphereface2@4");
    expect(metrics.metrics.view2.pairs).toBe(20);
    const bad = await runDeno(["tasks/eval.ts", tmp, "--backend", "cpu"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/run\.json: cannot read the run record/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
