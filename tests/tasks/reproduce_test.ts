import { expect } from "expect";
import assert from "node:assert/strict";
import { lastLine, runDeno } from "../shared.ts";

Deno.test("reproduce: writes analyses.json, figures and report.md; last stdout line is a JSON summary", async () => {
  const root = await Deno.makeTempDir();
  try {
    const out = `${root}/reproduce`;
    const r = await runDeno([
      "tasks/reproduce.ts",
      "--out",
      out,
      "--points",
      "21",
      "--train-steps",
      "0",
      "--skip-experiments",
      "--backend",
      "cpu",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^backend: cpu/m);

    const summary = JSON.parse(lastLine(r.stdout));
    assert.equal(summary.out, out);
    assert.equal(summary.profile, "smoke");
    assert.ok(summary.figures >= 6, `figures: ${summary.figures}`);
    assert.ok(Math.abs(summary.b0["VGGFace2 C"] - 5.78457) < 1e-5);

    const analyses = JSON.parse(await Deno.readTextFile(`${out}/analyses.json`));
    assert.equal(analyses.settings.points, 21);
    assert.equal(analyses.meta.settings.profile, "smoke");
    assert.equal(analyses.meta.settings.backend, "cpu");
    assert.match(analyses.meta.kitCommit, /^([0-9a-f]{40,64}|unknown)$/);
    assert.equal(typeof analyses.meta.deno, "string");
    assert.ok(!Number.isNaN(Date.parse(analyses.meta.date)));
    assert.equal(analyses.variants.length, 3 * 2 * 21);
    assert.equal(analyses.initialBias.length, 4);

    const figures: string[] = [];
    for await (const e of Deno.readDir(`${out}/figures`)) figures.push(e.name);
    assert.equal(figures.length, summary.figures);
    for (const name of ["g.svg", "g_prime.svg", "variants.svg", "lambda.svg", "t.svg", "grad_forms.svg"]) {
      assert.ok(figures.includes(name), `figures/${name}`);
      const svg = await Deno.readTextFile(`${out}/figures/${name}`);
      assert.ok(svg.startsWith("<svg") && svg.includes('xmlns="http://www.w3.org/2000/svg"'), name);
    }

    const report = await Deno.readTextFile(`${out}/report.md`);
    for (const name of figures) assert.ok(report.includes(`](figures/${name})`), `report embeds ${name}`);
    assert.match(report, /5\.784568/);
    // Only the results folder was created beside it: no temporary siblings left.
    const siblings: string[] = [];
    for await (const e of Deno.readDir(root)) siblings.push(e.name);
    assert.deepEqual(siblings, ["reproduce"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("reproduce: an unknown --profile exits 2 naming the flag and the allowed values", async () => {
  const root = await Deno.makeTempDir();
  try {
    const r = await runDeno(["tasks/reproduce.ts", "--out", `${root}/x`, "--profile", "nope", "--backend", "cpu"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--profile/);
    assert.match(r.stderr, /smoke/);
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("reproduce: --points below 3 is a usage error", async () => {
  const r = await runDeno(["tasks/reproduce.ts", "--points", "1", "--backend", "cpu"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--points/);
});

Deno.test("reproduce: trains on a synthetic dataset and reports random-init vs trained verification", async () => {
  const root = await Deno.makeTempDir();
  try {
    const data = `${root}/synthetic`;
    const gen = await runDeno([
      "tasks/data.ts",
      "synthetic",
      "--identities",
      "30",
      "--images-per-identity",
      "4",
      "--pairs-per-fold",
      "4",
      "--dir",
      data,
    ]);
    expect(gen.code).toBe(0);
    const r = await runDeno([
      "tasks/reproduce.ts",
      "--out",
      `${root}/out`,
      "--points",
      "11",
      "--train-steps",
      "4",
      "--data",
      data,
      "--backend",
      "wasm",
    ]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(lastLine(r.stdout));
    expect(summary.training).toMatchObject({ config: "cpu-synthetic-sfnet10-sphereface2", steps: 4 });
    expect(summary.training.accBestThreshold.randomInit).toBeGreaterThan(0);
    expect(summary.training.acc10Fold.trained).toBeGreaterThan(0);
    const report = await Deno.readTextFile(`${root}/out/report.md`);
    expect(report).toMatch(/## Training on the embedded dataset/);
    expect(report).toMatch(/\| random init \|/);
    expect(report).toMatch(/10-fold \(insightface\/LFW\), folds balanced/);
    const run = JSON.parse(await Deno.readTextFile(`${root}/out/train/cpu-synthetic-sfnet10-sphereface2/run.json`));
    expect(run.config.train.steps).toBe(4);
    expect(await Deno.readTextFile(`${root}/out/figures/training_loss.svg`)).toMatch(/^<svg/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("reproduce --dry-run: the plan, the data it lacks, and a measured estimate with the classes it assumed; nothing trained", async () => {
  const root = await Deno.makeTempDir();
  try {
    // The smoke profile pointed at an empty folder: its two View 1 files are missing, so the classes are assumed.
    const r = await runDeno([
      "tasks/reproduce.ts",
      "--profile",
      "smoke",
      "--dry-run",
      "--data",
      `${root}/none`,
      "--work",
      `${root}/work`,
      "--backend",
      "wasm",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(lastLine(r.stdout));
    assert.equal(plan.dryRun, true);
    assert.equal(plan.jobs, 26);
    assert.deepEqual(plan.missingData, [`${root}/none/peopleDevTrain.txt`, `${root}/none/pairsDevTest.txt`]);
    assert.equal(plan.estimate.classes, 8631);
    assert.equal(plan.estimate.batch, 16);
    assert.deepEqual(plan.estimate.measured.map((m: { batch: number }) => m.batch), [8, 16]);
    assert.ok(plan.estimate.stepSeconds > 0 && plan.totalHours >= 0);
    assert.match(r.stdout, /classes: 8631 assumed \(VGGFace2's; the training identities are not there to count\)/);
    assert.match(r.stdout, /of training steps on one such device/);
    await assert.rejects(Deno.stat(`${root}/work`), "a dry run trains nothing");
    await assert.rejects(Deno.stat(`${root}/none`), "and generates no data");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
