import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { type GridResults, RESULTS_SCHEMA, runGrid } from "../../lib/experiments/grid.ts";
import { CONTROL_CELL, planJobs, RESULT_FILE } from "../../lib/experiments/jobs.ts";
import {
  gridPaths,
  parseResults,
  readReference,
  referencePath,
  writeResults,
} from "../../lib/experiments/reference.ts";
import { type Experiment, loadExperiments, type Profile, REPRODUCE_DEFAULTS } from "../../lib/experiments/spec.ts";
import { useBackend } from "../shared.ts";
import { CELLS, fabricateResults, toyDataset, twoRowExperiment, withTempDir } from "./fixtures.ts";

/** A two-row experiment: the paper's SphereFace2 and CosFace. */
const EXPERIMENTS: Experiment[] = twoRowExperiment({ label: "CosFace", head: { type: "cosface" } });

/** One toy dataset, two seeds, 6 steps: 2 × (control + 2 cells) = 6 jobs. */
async function toyProfile(dir: string): Promise<Profile> {
  const dataset = await toyDataset(dir, {
    model: { type: "sfnet", depth: 4, width: 0.0625, inputSize: 16, featDim: 16 },
    train: { steps: 6, batchSize: 8, lr: 0.1 },
    checkpoint: { every: 3 },
  });
  return {
    description: "toy grid",
    seeds: [0, 1],
    datasets: [dataset],
    families: ["comparison"],
    reproduce: REPRODUCE_DEFAULTS,
  };
}

const keys = (r: GridResults) => r.records.map((x) => `${x.dataset}/${x.seed}/${x.cell}`);
const EXPECTED_KEYS = [0, 1].flatMap((s) => [CONTROL_CELL, CELLS.paper, CELLS.cosface].map((c) => `toy/${s}/${c}`));

Deno.test("grid: runGrid runs every job and returns complete results; a rerun reads them back (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    const profile = await toyProfile(dir);
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const out = await runGrid("toy", profile, EXPERIMENTS, {
      workDir: `${dir}/work`,
      backend: "wasm",
      log: (l) => lines.push(l),
    });
    assert.equal(tf.memory().numTensors, before, "tensors leaked by the grid");
    assert.equal(out.jobs, 6);
    assert.equal(out.missing, 0);
    assert.ok(out.seconds > 0);
    const r = out.results!;
    assert.ok(r, "complete results");
    assert.equal(r.schema, RESULTS_SCHEMA);
    assert.equal(r.profile, "toy");
    assert.equal(r.description, "toy grid");
    assert.equal(r.backend, "wasm");
    assert.deepEqual(r.seeds, [0, 1]);
    assert.deepEqual(r.datasets, [{
      name: "toy",
      config: profile.datasets[0].config,
      overrides: [],
      view2: false,
      note: "toy fixture",
    }]);
    assert.deepEqual(keys(r), EXPECTED_KEYS);
    assert.deepEqual(Object.keys(r.cells), [CELLS.paper, CELLS.cosface]);
    const jobs = await planJobs(profile, EXPERIMENTS, `${dir}/work`);
    assert.equal(
      r.cells[CELLS.cosface].configHash.toy,
      jobs.find((j) => j.cell === CELLS.cosface && !j.seed)!.configHash,
    );
    assert.equal(r.cells[CELLS.cosface].noise, 0);
    assert.deepEqual(r.cells[CELLS.cosface].head, EXPERIMENTS[0].rows[1].head);
    assert.equal(r.kitCommits.length, 1);
    assert.ok(r.records.every((x) => x.backend === "wasm" && x.evaluations.length === 1));
    assert.ok(r.records.filter((x) => x.cell !== CONTROL_CELL).every((x) => x.steps === 6));
    assert.equal(r.jobSeconds, Number(r.records.reduce((s, x) => s + x.seconds, 0).toFixed(1)));
    assert.ok(!Number.isNaN(Date.parse(r.date)));
    assert.match(r.machine, /cores/);
    // A status line per job after the header, with the ETA.
    assert.equal(lines.length, 7);
    assert.match(lines[0], /^grid toy: 6 jobs, 0 already done$/);
    assert.match(
      lines[6],
      /^grid toy: 6\/6 toy cosface-s30-m0\.35 seed 1: ACC \d+\.\d% in \d+ s · elapsed .* · ETA 0s$/,
    );

    // Rerun: nothing to do, the same records (read back with their original seconds).
    const lines2: string[] = [];
    const again = await runGrid("toy", profile, EXPERIMENTS, { workDir: `${dir}/work`, log: (l) => lines2.push(l) });
    assert.deepEqual(lines2, ["grid toy: 6 jobs, 6 already done"]);
    assert.deepEqual(again.results!.records, r.records);
  });
});

Deno.test("grid: shard 1/2 then 2/2: the first leaves results null with missing > 0, the second completes (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    const profile = await toyProfile(dir);
    const workDir = `${dir}/work`;
    const lines: string[] = [];
    const first = await runGrid("toy", profile, EXPERIMENTS, { workDir, shard: [1, 2], log: (l) => lines.push(l) });
    assert.equal(first.jobs, 3);
    assert.equal(first.missing, 3);
    assert.equal(first.results, null);
    assert.match(lines[0], /^grid toy: 3 jobs \(shard 1\/2 of 6\), 0 already done$/);
    // Every other job has its record.
    const jobs = await planJobs(profile, EXPERIMENTS, workDir);
    const done = await Promise.all(
      jobs.map((j) => Deno.stat(`${j.runDir}/${RESULT_FILE}`).then(() => true, () => false)),
    );
    assert.deepEqual(done, [true, false, true, false, true, false]);

    const second = await runGrid("toy", profile, EXPERIMENTS, { workDir, shard: [2, 2], quiet: true, log: () => {} });
    assert.equal(second.jobs, 3);
    assert.equal(second.missing, 0);
    assert.ok(second.results);
    assert.deepEqual(keys(second.results), EXPECTED_KEYS);
    // Shard 1/2 again: all done, complete results too.
    const third = await runGrid("toy", profile, EXPERIMENTS, { workDir, shard: [1, 2], log: () => {} });
    assert.equal(third.missing, 0);
    assert.deepEqual(third.results!.records, second.results.records);
  });
});

Deno.test("grid: recompute retrains (its shard only); a result.json.tmp-* leftover of a killed job is ignored (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    const profile = await toyProfile(dir);
    const workDir = `${dir}/work`;
    const jobs = await planJobs(profile, EXPERIMENTS, workDir);
    // A job killed while writing its record: a partial temporary sibling, no result.json.
    await Deno.mkdir(jobs[1].runDir, { recursive: true });
    await Deno.writeTextFile(`${jobs[1].runDir}/${RESULT_FILE}.tmp-99999`, '{"dataset": "toy", "cel');
    const out = await runGrid("toy", profile, EXPERIMENTS, { workDir, log: () => {} });
    assert.equal(out.missing, 0);
    assert.deepEqual(keys(out.results!), EXPECTED_KEYS);
    assert.equal(out.results!.records[1].steps, 6);

    // Mark every record, so a retrained one is told apart from one read back.
    for (const j of jobs) {
      const file = `${j.runDir}/${RESULT_FILE}`;
      await Deno.writeTextFile(
        file,
        JSON.stringify({ ...JSON.parse(await Deno.readTextFile(file)), kitCommit: "marked" }),
      );
    }
    const kept = await runGrid("toy", profile, EXPERIMENTS, { workDir, log: () => {} });
    assert.deepEqual(kept.results!.kitCommits, ["marked"]);

    const lines: string[] = [];
    const re = await runGrid("toy", profile, EXPERIMENTS, {
      workDir,
      shard: [2, 2],
      recompute: true,
      log: (l) => lines.push(l),
    });
    assert.match(lines[0], /3 jobs \(shard 2\/2 of 6\), 0 already done/);
    assert.equal(re.missing, 0);
    const marked = re.results!.records.map((r) => r.kitCommit === "marked");
    assert.deepEqual(marked, [true, false, true, false, true, false]);
    assert.equal(re.results!.kitCommits.length, 2);
    // Retrained to the same numbers (same config, seed and backend).
    const byKey = (rs: GridResults) => rs.records.map((r) => JSON.stringify(r.evaluations));
    assert.deepEqual(byKey(re.results!), byKey(out.results!));
  });
});

Deno.test("reference: writeResults / parseResults round trip, one record per line, atomic", async () => {
  await withTempDir(async (dir) => {
    const results = fabricateResults(await loadExperiments());
    const file = referencePath("fixture", `${dir}/ref/`);
    assert.equal(file, `${dir}/ref/experiments-fixture.json`);
    await writeResults(file, results);
    const text = await Deno.readTextFile(file);
    assert.deepEqual(parseResults(text, file), results);
    assert.deepEqual(JSON.parse(text), results);
    const recordLines = text.split("\n").filter((l) => l.startsWith('    {"dataset"'));
    assert.equal(recordLines.length, results.records.length);
    assert.equal(results.records.length, 26 * 3);
    recordLines.forEach((l, i) => assert.deepEqual(JSON.parse(l.replace(/,$/, "")), results.records[i]));
    assert.ok(text.endsWith("  ]\n}\n"));
    assert.deepEqual([...Deno.readDirSync(`${dir}/ref`)].map((e) => e.name), ["experiments-fixture.json"]);
    assert.deepEqual(await readReference("fixture", `${dir}/ref`), results);
    assert.equal(await readReference("absent", `${dir}/ref`), null);
    // Overwrites in place.
    await writeResults(file, { ...results, records: results.records.slice(0, 1) });
    assert.equal(parseResults(await Deno.readTextFile(file), file).records.length, 1);
  });
});

Deno.test("reference: parseResults names the source on a schema mismatch, bad JSON or missing records", async () => {
  const ok = fabricateResults(await loadExperiments());
  assert.throws(
    () => parseResults(JSON.stringify({ ...ok, schema: "sf2-experiments/0" }), "x/experiments-cpu.json"),
    { message: 'x/experiments-cpu.json: schema: expected "sf2-experiments/1", got "sf2-experiments/0"' },
  );
  assert.throws(
    () => parseResults("{}", "f.json"),
    /^Error: f\.json: schema: expected "sf2-experiments\/1", got undefined/,
  );
  assert.throws(() => parseResults("null", "f.json"), /^Error: f\.json: schema:/);
  assert.throws(() => parseResults("{ nope", "f.json"), /^Error: f\.json: not valid JSON/);
  assert.throws(
    () => parseResults(JSON.stringify({ ...ok, records: {} }), "f.json"),
    /^Error: f\.json: records: expected an array/,
  );
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/experiments-bad.json`, JSON.stringify({ ...ok, schema: "other" }));
    await assert.rejects(readReference("bad", dir), new RegExp(`${dir}/experiments-bad\\.json: schema`));
  });
});

Deno.test("gridPaths: the committed profile's folder and reference; a --data or --families variant never the reference", () => {
  assert.deepEqual(gridPaths("cpu"), { workDir: "results/experiments/cpu", results: referencePath("cpu") });
  const variant = gridPaths("cpu-long-synthetic", { data: "data/cache/synthetic-60/" });
  assert.deepEqual(variant, {
    workDir: "results/experiments/cpu-long-synthetic@synthetic-60",
    results: "results/experiments/cpu-long-synthetic@synthetic-60/results.json",
  });
  // Even the default synthetic folder, named explicitly, is a variant: the flag says "not the committed grid".
  assert.notEqual(gridPaths("cpu", { data: "data/cache/synthetic" }).results, referencePath("cpu"));
  // Some families only: the committed grid's runs (the same jobs), a subset's own results file.
  assert.deepEqual(gridPaths("cpu", { families: ["noise", "t"] }), {
    workDir: "results/experiments/cpu",
    results: "results/experiments/cpu/results-noise-t.json",
  });
  assert.equal(
    gridPaths("cpu", { data: "x/syn", families: ["noise"] }).results,
    "results/experiments/cpu@syn/results-noise.json",
  );
});
