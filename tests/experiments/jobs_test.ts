import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  canonicalJson,
  cellConfig,
  configHash,
  CONTROL_CELL,
  hashJson,
  type Job,
  METRIC_KEYS,
  planJobs,
  prepareDataset,
  readRecord,
  RESULT_FILE,
  runJob,
  shardJobs,
} from "../../lib/experiments/jobs.ts";
import {
  distinctCells,
  type Experiment,
  loadExperiments,
  loadProfile,
  type Profile,
  REPRODUCE_DEFAULTS,
} from "../../lib/experiments/spec.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { DatasetSchema } from "../../lib/experiments/spec.ts";
import { parseHeadConfig } from "../../lib/losses/config.ts";
import { parseTrainConfig } from "../../lib/train/config.ts";
import { RUN_FILES, trainRun } from "../../lib/train/loop.ts";
import { useBackend } from "../shared.ts";
import { CELLS, toyConfigRaw, toyDataset, twoRowExperiment, withTempDir } from "./fixtures.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** Two rows: the paper's SphereFace2 and a cheap softmax. */
const TWO_ROWS: Experiment[] = twoRowExperiment({ label: "Softmax", head: { type: "softmax" } });

const toyProfile = (datasets: Profile["datasets"], seeds = [0]): Profile => ({
  description: "toy",
  seeds,
  datasets,
  families: ["comparison"],
  reproduce: REPRODUCE_DEFAULTS,
});

Deno.test("jobs: canonicalJson is independent of key order, keeps array order, drops undefined", () => {
  const a = { b: 1, a: { d: [1, { y: 2, x: "s" }], c: null }, u: undefined };
  const b = { a: { c: null, d: [1, { x: "s", y: 2 }] }, b: 1 };
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(canonicalJson(a), '{"a":{"c":null,"d":[1,{"x":"s","y":2}]},"b":1}');
  assert.notEqual(canonicalJson({ d: [1, 2] }), canonicalJson({ d: [2, 1] }));
  assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: "1" }));
  assert.equal(canonicalJson("x"), '"x"');
  assert.equal(canonicalJson([]), "[]");
});

Deno.test("jobs: configHash ignores name and _comment but changes with any other field", async () => {
  const base = parseTrainConfig(toyConfigRaw(), "toy");
  const h = await configHash(base);
  assert.match(h, /^[0-9a-f]{12}$/);
  assert.equal(h, await hashJson({ ...base, name: undefined, _comment: undefined }));
  assert.equal(await configHash({ ...base, name: "other", _comment: "another comment" }), h);
  assert.equal(await configHash(parseTrainConfig(toyConfigRaw({ _comment: undefined }), "toy")), h);
  // Key order does not matter.
  const reordered = Object.fromEntries(Object.entries(structuredClone(base)).reverse()) as typeof base;
  assert.equal(await configHash(reordered), h);
  const changed = [
    { seed: 1 },
    { head: { type: "sphereface2", lambda: 0.5 } },
    { head: { type: "sphereface2", gradForm: "through-g" } },
    { head: { type: "arcface" } },
    { data: { kind: "toy", classes: 10, perClass: 4, size: 16, valClasses: 6, valPerClass: 4, noiseRatio: 0.2 } },
    { train: { steps: 11, batchSize: 8, lr: 0.1 } },
    { train: { steps: 10, batchSize: 8, lr: 0.2 } },
    { checkpoint: { every: 2 } },
    { validation: { every: 0, batchSize: 64, flip: false } },
    { model: { type: "sfnet", depth: 4, width: 0.25, inputSize: 16, featDim: 32 } },
  ];
  const hashes = new Set([h]);
  for (const o of changed) {
    const other = await configHash(parseTrainConfig(toyConfigRaw(o), "toy"));
    assert.ok(!hashes.has(other), `changing ${JSON.stringify(o)} keeps the hash`);
    hashes.add(other);
  }
  // The input is not modified (name is only left out of the hash).
  assert.equal(base.name, "toy-grid");
  assert.equal(base._comment, "test fixture");
});

Deno.test("jobs: cellConfig replaces the head, the noise ratio, the seed and the name of the base config", async () => {
  await withTempDir(async (dir) => {
    const dataset = await toyDataset(dir);
    const head = parseHeadConfig({ type: "arcface", m: 0.3 });
    const c = await cellConfig(dataset, "arcface-x", head, 0.4, 7);
    assert.deepEqual(c.head, head);
    assert.equal(c.data.noiseRatio, 0.4);
    assert.equal(c.seed, 7);
    assert.equal(c.name, "toy-arcface-x-seed7");
    assert.equal(c.train.steps, 10);
    const over = await cellConfig({ ...dataset, overrides: ["--train.steps=3"] }, "x", head, 0, 0);
    assert.equal(over.train.steps, 3);
    await assert.rejects(
      cellConfig({ ...dataset, overrides: ["--train.steps=0"] }, "x", head, 0, 0),
      /toy\.json.*train\.steps/,
    );
  });
});

Deno.test("jobs: planJobs of the committed smoke and paper profiles: control + 25 cells per dataset and seed", async () => {
  const experiments = await loadExperiments();
  const cells = distinctCells(experiments).map((c) => c.id);
  const smoke = await planJobs(await loadProfile("smoke"), experiments, "/w");
  assert.equal(smoke.length, 26);
  assert.deepEqual(smoke.map((j) => j.cell), [CONTROL_CELL, ...cells]);
  assert.ok(smoke.every((j) => j.seed === 0 && j.dataset.name === "synthetic"));
  assert.equal(smoke[0].runDir, "/w/runs/synthetic/random-init/seed0");
  assert.equal(smoke[3].runDir, `/w/runs/synthetic/${CELLS.paper}/seed0`);
  assert.equal(new Set(smoke.map((j) => j.runDir)).size, 26);
  assert.equal(new Set(smoke.map((j) => j.configHash)).size, 26);
  for (const j of smoke.slice(1)) assert.equal(j.configHash, await configHash(j.config));
  const noisy = smoke.find((j) => j.cell === "arcface-s30-m0.5-noise0.4")!;
  assert.equal(noisy.config.data.noiseRatio, 0.4);
  assert.equal(noisy.config.head.type, "arcface");

  const paper = await planJobs(await loadProfile("paper"), experiments, "/w");
  assert.equal(paper.length, 3 * 26);
  assert.deepEqual(paper.map((j) => j.seed), [...Array(26).fill(0), ...Array(26).fill(1), ...Array(26).fill(2)]);
  assert.equal(paper.filter((j) => j.cell === CONTROL_CELL).length, 3);
});

Deno.test("jobs: planJobs orders dataset → seed → (control, cells) and honours the profile's families", async () => {
  await withTempDir(async (dir) => {
    const a = await toyDataset(dir, {}, "a", "a.json");
    const b = await toyDataset(dir, { data: { kind: "toy", classes: 5, perClass: 4, size: 16 } }, "b", "b.json");
    const experiments = await loadExperiments();
    const profile: Profile = {
      description: "d",
      seeds: [3, 1],
      datasets: [a, b],
      families: ["lambda", "t"],
      reproduce: REPRODUCE_DEFAULTS,
    };
    const jobs = await planJobs(profile, experiments, dir);
    // λ: 4 cells; t: 4 more (t = 3 is λ = 0.7). (1 control + 8 cells) × 2 seeds × 2 datasets.
    assert.equal(jobs.length, 2 * 2 * 9);
    const key = (j: Job) => `${j.dataset.name}/${j.seed}/${j.cell}`;
    const lambdaT = distinctCells(experiments.filter((e) => e.family === "lambda" || e.family === "t"));
    const expected = ["a", "b"].flatMap((d) =>
      [3, 1].flatMap((s) => [CONTROL_CELL, ...lambdaT.map((c) => c.id)].map((c) => `${d}/${s}/${c}`))
    );
    assert.deepEqual(jobs.map(key), expected);
    for (const j of jobs) assert.equal(j.config.seed, j.seed);
    // Controls: one hash per seed and dataset (weights and pairs differ), independent of the cells.
    const controls = jobs.filter((j) => j.cell === CONTROL_CELL);
    assert.equal(new Set(controls.map((j) => j.configHash)).size, 4);
    // Cells differ across seeds only by the seed.
    const [s3, s1] = jobs.filter((j) => j.dataset.name === "a" && j.cell === CELLS.paper);
    assert.notEqual(s3.configHash, s1.configHash);
    assert.deepEqual({ ...s3.config, seed: 0, name: "" }, { ...s1.config, seed: 0, name: "" });
  });
});

Deno.test("jobs: shardJobs partitions exactly (union = all, disjoint, order kept); bad shard specs throw", () => {
  const jobs = Array.from({ length: 26 }, (_, i) => i);
  for (let count = 1; count <= 7; count++) {
    const shards = Array.from({ length: count }, (_, i) => shardJobs(jobs, i + 1, count));
    const all = shards.flat();
    assert.equal(all.length, jobs.length, `count ${count}`);
    assert.deepEqual([...all].sort((a, b) => a - b), jobs);
    for (const s of shards) assert.deepEqual(s, [...s].sort((a, b) => a - b));
    const sizes = shards.map((s) => s.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`);
  }
  assert.deepEqual(shardJobs(jobs, 2, 3), [1, 4, 7, 10, 13, 16, 19, 22, 25]);
  for (const [i, n] of [[3, 2], [0, 2], [1, 0], [-1, 2], [1.5, 2], [1, 2.5], [NaN, 2]]) {
    assert.throws(() => shardJobs(jobs, i, n), /expected 1 ≤ index ≤ count/, `${i}/${n}`);
  }
});

Deno.test("jobs: runJob trains, writes result.json, drops the checkpoint, reads it back, retrains when stale (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    const dataset = await toyDataset(dir);
    const [control, job] = await planJobs(
      toyProfile([dataset]),
      [{ ...TWO_ROWS[0], rows: [TWO_ROWS[0].rows[0]] }],
      dir,
    );
    assert.equal(control.cell, CONTROL_CELL);
    assert.equal(job.cell, CELLS.paper);
    assert.equal(await readRecord(job), null);

    const before = tf.memory().numTensors;
    const r = await runJob(job, { quiet: true, kitCommit: "abc", backend: "wasm" });
    assert.equal(tf.memory().numTensors, before, "tensors leaked by runJob");
    assert.equal(r.dataset, "toy");
    assert.equal(r.cell, CELLS.paper);
    assert.equal(r.seed, 0);
    assert.equal(r.configHash, job.configHash);
    assert.equal(r.kitCommit, "abc");
    assert.equal(r.backend, "wasm");
    assert.equal(r.steps, 10);
    assert.ok(Number.isFinite(r.finalLoss) && r.finalLoss! > 0, `finalLoss ${r.finalLoss}`);
    assert.ok(r.imagesPerSecond! > 0);
    assert.equal(r.diverged, null);
    assert.ok(r.seconds > 0);
    assert.equal(r.evaluations.length, 1);
    const e = r.evaluations[0];
    assert.equal(e.set, "toy-val");
    assert.equal(e.pairs, 72); // 6 identities × C(4, 2) matched pairs, as many mismatched.
    for (const k of Object.values(METRIC_KEYS)) assert.ok(Number.isFinite(e.metrics[k]), k);
    assert.ok(e.metrics[METRIC_KEYS.tenFoldAcc] >= 0 && e.metrics[METRIC_KEYS.tenFoldAcc] <= 100);
    assert.ok(Number.isFinite(e.metrics["TPR@FPR=1e-1"]));

    const files = await names(job.runDir);
    assert.ok(files.includes(RESULT_FILE));
    assert.ok(!files.includes(RUN_FILES.checkpoint), "checkpoint removed");
    assert.ok(!files.some((f) => f.includes(".tmp")), `no temporaries: ${files}`);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${job.runDir}/${RESULT_FILE}`)), r);
    assert.deepEqual(await readRecord(job), r);

    // Read back: no training (the log is untouched), seconds 0, the rest identical.
    const log = await Deno.readTextFile(`${job.runDir}/${RUN_FILES.log}`);
    const again = await runJob(job, { quiet: true, kitCommit: "other" });
    assert.deepEqual(again, { ...r, seconds: 0 });
    assert.equal(await Deno.readTextFile(`${job.runDir}/${RUN_FILES.log}`), log);

    // The base config changed (12 steps): same run folder, another hash, so the record is stale and retrained.
    const changed = await toyDataset(dir, { train: { steps: 12, batchSize: 8, lr: 0.1 } });
    const [, job2] = await planJobs(toyProfile([changed]), [{ ...TWO_ROWS[0], rows: [TWO_ROWS[0].rows[0]] }], dir);
    assert.equal(job2.runDir, job.runDir);
    assert.notEqual(job2.configHash, job.configHash);
    assert.equal(await readRecord(job2), null);
    const r2 = await runJob(job2, { quiet: true });
    assert.equal(r2.steps, 12);
    assert.equal(r2.configHash, job2.configHash);
    assert.ok(r2.seconds > 0);
    assert.equal(await readRecord(job), null, "the old job's record is now stale");
    assert.equal(tf.memory().numTensors, before);
  });
});

Deno.test("jobs: a checkpoint kept from another config is discarded, not resumed; a matching one is resumed (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    const rows = [{ ...TWO_ROWS[0], rows: [TWO_ROWS[0].rows[0]] }];
    const [, job] = await planJobs(toyProfile([await toyDataset(dir)]), rows, dir);
    const r = await runJob(job, { quiet: true, keepCheckpoint: true });
    assert.equal(r.steps, 10);
    assert.ok((await names(job.runDir)).includes(RUN_FILES.checkpoint));
    // Another learning rate: the kept checkpoint cannot be resumed; the job starts over.
    const other = await toyDataset(dir, { train: { steps: 10, batchSize: 8, lr: 0.05 } });
    const [, job2] = await planJobs(toyProfile([other]), rows, dir);
    const r2 = await runJob(job2, { quiet: true });
    assert.equal(r2.steps, 10);
    assert.equal(r2.diverged, null);
    assert.notEqual(r2.finalLoss, r.finalLoss);
    assert.ok(!(await names(job.runDir)).includes(RUN_FILES.checkpoint));

    // An interrupted job of the current config (checkpoint at step 5, no record) resumes to the same end.
    await Deno.remove(`${job2.runDir}/${RESULT_FILE}`);
    await trainRun(job2.config, { outDir: job2.runDir, quiet: true, stopAfter: 5 });
    const r3 = await runJob(job2, { quiet: true });
    assert.equal(r3.steps, 10);
    assert.equal(r3.finalLoss, r2.finalLoss, "resumed run ends where the uninterrupted one did");
    assert.deepEqual(r3.evaluations, r2.evaluations);
    const run = JSON.parse(await Deno.readTextFile(`${job2.runDir}/${RUN_FILES.run}`));
    assert.deepEqual(run.resumes.map((x: { fromStep: number }) => x.fromStep), [5]);
  });
});

Deno.test("jobs: the control job evaluates the initial weights without training (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    const [control] = await planJobs(toyProfile([await toyDataset(dir)]), TWO_ROWS, dir);
    const before = tf.memory().numTensors;
    const r = await runJob(control, { quiet: true });
    assert.equal(tf.memory().numTensors, before, "tensors leaked by the control");
    assert.equal(r.cell, CONTROL_CELL);
    assert.equal(r.steps, 0);
    assert.equal(r.finalLoss, null);
    assert.equal(r.imagesPerSecond, null);
    assert.equal(r.diverged, null);
    assert.equal(r.evaluations.length, 1);
    assert.ok(Number.isFinite(r.evaluations[0].metrics[METRIC_KEYS.tenFoldAcc]));
    // Nothing but the record: no run.json, log or checkpoint.
    assert.deepEqual(await names(control.runDir), [RESULT_FILE]);
    // Deterministic: the same initial weights give the same metrics.
    await Deno.remove(`${control.runDir}/${RESULT_FILE}`);
    const again = await runJob(control, { quiet: true });
    assert.deepEqual(again.evaluations, r.evaluations);
  });
});

Deno.test("jobs: a diverging run is recorded with `diverged`, with the last good checkpoint's metrics (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    // Softmax at lr 100 overflows within a few steps; a checkpoint every step keeps the last good weights.
    const rows = [{ ...TWO_ROWS[0], rows: [TWO_ROWS[0].rows[1]] }];
    const dataset = await toyDataset(dir, { train: { steps: 10, batchSize: 8, lr: 100 }, checkpoint: { every: 1 } });
    const [, job] = await planJobs(toyProfile([dataset]), rows, dir);
    assert.equal(job.cell, CELLS.softmax);
    const before = tf.memory().numTensors;
    const r = await runJob(job, { quiet: true });
    assert.equal(tf.memory().numTensors, before);
    assert.match(r.diverged ?? "", /^training diverged at step \d+/);
    const at = Number(/step (\d+)/.exec(r.diverged!)![1]);
    assert.ok(at > 1 && at <= 10, `diverged at ${at}`);
    assert.equal(r.steps, at - 1, "steps: those of the last good checkpoint");
    assert.equal(r.finalLoss, null);
    assert.equal(r.evaluations.length, 1);
    assert.ok(!(await names(job.runDir)).includes(RUN_FILES.checkpoint));
    // The record stands: a rerun reads it back instead of diverging again.
    assert.deepEqual(await runJob(job, { quiet: true }), { ...r, seconds: 0 });

    // Without any checkpoint before the divergence: recorded with no evaluations.
    const none = await toyDataset(dir, { train: { steps: 10, batchSize: 8, lr: 100 }, checkpoint: { every: 0 } });
    const [, job2] = await planJobs(toyProfile([none]), rows, `${dir}/w2`);
    const r2 = await runJob(job2, { quiet: true });
    assert.match(r2.diverged ?? "", /no checkpoint was written yet/);
    assert.equal(r2.steps, 0);
    assert.deepEqual(r2.evaluations, []);
    assert.equal(tf.memory().numTensors, before);
  });
});

Deno.test("prepareDataset: an existing synthetic folder must hold the identities × images a dataset states", async () => {
  await withTempDir(async (dir) => {
    const syn = `${dir}/syn`;
    await writeSyntheticDataset(syn, {
      identities: 12,
      imagesPerIdentity: 3,
      size: 32,
      folds: 2,
      pairsPerFold: 4,
      quiet: true,
    });
    const config = parseTrainConfig(toyConfigRaw({ data: { kind: "lfw-view1", dir: syn, size: 16 } }), "t");
    const dataset = (synthetic: unknown) => DatasetSchema.parse({ name: "syn", config: "unused.json", synthetic });
    await prepareDataset(dataset({ identities: 12, imagesPerIdentity: 3 }), config, true);
    await assert.rejects(
      prepareDataset(dataset({}), config, true),
      new RegExp(
        `${syn}/lfw-names\\.txt: dataset syn wants 200 synthetic identities × 6 images, the folder holds 12 ` +
          `identities × 3: generate it with deno task data synthetic --identities 200 --images-per-identity 6`,
      ),
    );
    await assert.rejects(
      prepareDataset(dataset({ imagesPerIdentity: 30 }), config, true),
      /200 synthetic identities × 30/,
    );
    // A stated test-pair count must be the folder's (pairsDevTest.txt's header): 3 test identities × 3 images
    // make at most 6 matched pairs, which the folder has (the default 500, capped).
    await prepareDataset(dataset({ identities: 12, imagesPerIdentity: 3, testPairs: 500 }), config, true);
    await assert.rejects(
      prepareDataset(dataset({ identities: 12, imagesPerIdentity: 3, testPairs: 2 }), config, true),
      new RegExp(
        `${syn}/pairsDevTest\\.txt: dataset syn wants 2 matched test pairs, the folder has 6: generate it with ` +
          `deno task data synthetic --identities 12 --images-per-identity 3 --test-pairs 2`,
      ),
    );
    // `true` takes the folder as it is (a task's --data may point it at a small set).
    await prepareDataset(dataset(true), config, true);
    // Not synthetic: never checked.
    await prepareDataset(dataset(false), config, true);
  });
  assert.throws(() => DatasetSchema.parse({ name: "s", config: "c", synthetic: { images: 3 } }), /images/);
});
