import assert from "node:assert/strict";
import { CONTROL_CELL } from "../../lib/experiments/jobs.ts";
import { parseResults } from "../../lib/experiments/reference.ts";
import { distinctCells, FAMILIES, loadExperiments, loadProfile, profileNames } from "../../lib/experiments/spec.ts";
import { lastLine, runDeno } from "../shared.ts";

// The smoke profile trains on data/cache/synthetic (generated there when absent: the task has no data-dir flag).
Deno.test("experiments task: --profile smoke trains the whole grid, writes the results, and a rerun reads them back", async () => {
  const root = await Deno.makeTempDir({ prefix: "sf2-exp-task-" });
  try {
    const file = `${root}/r.json`;
    const args = ["tasks/experiments.ts", "--profile", "smoke", "--work", `${root}/work`, "--results", file];
    const r = await runDeno([...args, "--backend", "wasm", "--quiet"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^backend: wasm/m);
    const summary = JSON.parse(lastLine(r.stdout));
    assert.equal(summary.profile, "smoke");
    assert.equal(summary.jobs, 26);
    assert.equal(summary.missing, 0);
    assert.equal(summary.results, file);
    assert.ok(summary.seconds > 0);

    const results = parseResults(await Deno.readTextFile(file), file);
    // 25 distinct cells of the five families + the random-init control, one seed, one dataset.
    const cells = distinctCells(await loadExperiments()).map((c) => c.id);
    assert.equal(cells.length, 25);
    assert.equal(results.records.length, 26);
    assert.deepEqual(results.records.map((x) => x.cell), [CONTROL_CELL, ...cells]);
    assert.deepEqual(Object.keys(results.cells), cells);
    assert.equal(results.profile, "smoke");
    assert.equal(results.backend, "wasm");
    assert.deepEqual(results.seeds, [0]);
    assert.deepEqual(results.datasets.map((d) => d.name), ["synthetic"]);
    for (const x of results.records) {
      assert.equal(x.evaluations[0]?.set, "view1-test", x.cell);
      assert.ok(Number.isFinite(x.evaluations[0].metrics["ACC 10-fold"]), x.cell);
      if (x.cell !== CONTROL_CELL) assert.ok(x.steps === 40 || x.diverged, `${x.cell}: ${x.steps} steps`);
    }
    // Each run folder keeps its record only (no checkpoints).
    for await (const e of Deno.readDir(`${root}/work/runs/synthetic/${cells[0]}/seed0`)) {
      assert.ok(!e.name.endsWith(".sf2"), e.name);
    }

    // Rerun (as one shard of two): every record is read back, nothing is trained.
    const again = await runDeno([...args, "--shard", "2/2", "--backend", "wasm", "--quiet"]);
    assert.equal(again.code, 0, again.stderr);
    const s2 = JSON.parse(lastLine(again.stdout));
    assert.deepEqual({ ...s2, seconds: 0 }, { profile: "smoke", jobs: 13, missing: 0, results: file, seconds: 0 });
    assert.ok(s2.seconds < summary.seconds);
    assert.deepEqual(parseResults(await Deno.readTextFile(file), file).records, results.records);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("experiments task: a --shard outside 1..N is a usage error naming the flag", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const shard of ["3/2", "0/2", "1-2"]) {
      const r = await runDeno([
        "tasks/experiments.ts",
        "--profile",
        "smoke",
        "--shard",
        shard,
        "--work",
        `${root}/work`,
        "--results",
        `${root}/r.json`,
        "--backend",
        "cpu",
      ]);
      assert.equal(r.code, 2, `${shard}: ${r.stderr}`);
      assert.match(r.stderr, /--shard: expected I\/N/);
    }
    assert.deepEqual([...Deno.readDirSync(root)], [], "nothing written");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("experiments task: an unknown --profile exits 2 listing the allowed profiles", async () => {
  const root = await Deno.makeTempDir();
  try {
    const r = await runDeno(["tasks/experiments.ts", "--profile", "nope", "--work", `${root}/w`, "--backend", "cpu"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--profile: unknown profile "nope"; allowed: /);
    for (const name of await profileNames()) assert.ok(r.stderr.includes(name), name);
    assert.deepEqual([...Deno.readDirSync(root)], []);
    const stray = await runDeno(["tasks/experiments.ts", "extra", "--profile", "smoke", "--backend", "cpu"]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /unexpected argument extra/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("experiments task: --families trains only those families; unknown or absent families are usage errors", async () => {
  const root = await Deno.makeTempDir({ prefix: "sf2-exp-families-" });
  try {
    const base = ["tasks/experiments.ts", "--work", `${root}/work`, "--results", `${root}/r.json`, "--quiet"];
    const r = await runDeno([...base, "--profile", "smoke", "--families", "t", "--backend", "wasm"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(lastLine(r.stdout)).jobs, 5 + 1); // five t rows + the random-init control
    const results = parseResults(await Deno.readTextFile(`${root}/r.json`), "r.json");
    assert.equal(results.records.length, 6);

    const unknown = await runDeno([...base, "--profile", "smoke", "--families", "t,bogus", "--backend", "cpu"]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /--families: unknown family "bogus"; allowed: lambda, t, margins, comparison, noise/);
    // A family the profile does not train (derived, so that the check never starts a real grid).
    const lfw = await loadProfile("cpu-long-lfw");
    const other = FAMILIES.find((f) => !lfw.families.includes(f))!;
    const absent = await runDeno([...base, "--profile", "cpu-long-lfw", "--families", other, "--backend", "cpu"]);
    assert.equal(absent.code, 2, absent.stderr);
    assert.match(
      absent.stderr,
      new RegExp(`--families: ${other} not in profile cpu-long-lfw \\(${lfw.families.join(", ")}\\)`),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
