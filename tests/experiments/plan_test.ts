import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  classCount,
  dataNeeds,
  DIRECT_BATCH,
  estimateStep,
  planDuration,
  planProfile,
  VGGFACE2_CLASSES,
} from "../../lib/experiments/plan.ts";
import { loadExperiments, loadProfile, type Profile, REPRODUCE_DEFAULTS } from "../../lib/experiments/spec.ts";
import { parseTrainConfig } from "../../lib/train/config.ts";
import { lfwPath, lfwTest, useBackend } from "../shared.ts";
import { toyConfigRaw, toyDataset, withTempDir } from "./fixtures.ts";

const config = (overrides: Record<string, unknown> = {}) => parseTrainConfig(toyConfigRaw(overrides), "toy");

Deno.test("plan: dataNeeds lists the paths of each data kind", () => {
  assert.deepEqual(dataNeeds(config()), []);
  const lfw = dataNeeds(config({ data: { kind: "lfw-view1", dir: "/d/lfw", size: 16 } }));
  assert.deepEqual(lfw.map((n) => n.path), ["/d/lfw/peopleDevTrain.txt", "/d/lfw/pairsDevTest.txt"]);
  assert.ok(lfw.every((n) => n.what.length > 0));
  const list = dataNeeds(config({
    data: {
      kind: "list",
      root: "/r",
      list: "/r/list.txt",
      size: 16,
      valRoot: "/v",
      valPairs: ["/v/a.txt", "/v/b.txt"],
    },
  }));
  assert.deepEqual(list.map((n) => n.path), ["/r", "/r/list.txt", "/v", "/v/a.txt", "/v/b.txt"]);
  assert.match(list[1].what, /training list/);
  assert.match(list[3].what, /validation pair list/);
  // No validation root, no pairs: only the training data.
  const bare = dataNeeds(config({ data: { kind: "list", root: "/r", list: "/r/list.txt", size: 16 } }));
  assert.deepEqual(bare.map((n) => n.path), ["/r", "/r/list.txt"]);
});

Deno.test("plan: planProfile of the committed paper profile (no measurement): 78 jobs, 7 missing data paths", async () => {
  const plan = await planProfile("paper", await loadProfile("paper"), await loadExperiments(), { measure: false });
  assert.equal(plan.jobs, 78);
  assert.equal(plan.trainingJobs, 75);
  assert.equal(plan.estimate, null);
  assert.equal(plan.totalSeconds, null);
  assert.deepEqual(plan.data.map((d) => d.path), [
    "data/train/vggface2_112x112",
    "data/train/vggface2_train_ann.txt",
    "data/val",
    "data/val/lfw_ann.txt",
    "data/val/agedb_30_ann.txt",
    "data/val/calfw_ann.txt",
    "data/val/cplfw_ann.txt",
  ]);
  assert.ok(plan.data.every((d) => d.dataset === "vggface2" && !d.present));
  assert.equal(plan.lines[0], `profile paper: ${(await loadProfile("paper")).description}`);
  assert.ok(plan.lines.includes(
    "jobs: 78 (75 training runs: 25 settings × 3 seeds × 1 dataset(s), plus 3 random-init controls)",
  ));
  assert.ok(plan.lines.includes(
    "dataset vggface2: sfnet-20 width 1, 112×112, batch 512, 80000 steps (lr 0.1, milestones 40000/60000/80000)",
  ));
  assert.equal(plan.lines.filter((l) => l.startsWith("  MISSING data/")).length, 7);
  assert.equal(plan.lines.at(-1), "7 data path(s) missing: the grid cannot run until they exist.");
});

Deno.test("plan: planProfile finds present data and counts a smaller profile", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/peopleDevTrain.txt`, "");
    const dataset = await toyDataset(dir, { data: { kind: "lfw-view1", dir, size: 16 } });
    const profile: Profile = {
      description: "d",
      seeds: [0, 1],
      datasets: [dataset],
      families: ["lambda"],
      reproduce: REPRODUCE_DEFAULTS,
    };
    const plan = await planProfile("mine", profile, await loadExperiments(), { measure: false, workDir: dir });
    assert.equal(plan.jobs, 2 * 5);
    assert.equal(plan.trainingJobs, 8);
    assert.deepEqual(plan.data.map((d) => d.present), [true, false]);
    assert.ok(plan.lines.includes(`  found   ${dir}/peopleDevTrain.txt: LFW-layout people list (training identities)`));
    assert.equal(plan.lines.at(-1), "1 data path(s) missing: the grid cannot run until they exist.");
  });
});

lfwTest("plan: classCount counts LFW View 1's training identities (minImages)", async () => {
  const lfw = (minImages: number) => config({ data: { kind: "lfw-view1", dir: lfwPath(), size: 16, minImages } });
  // View 1's peopleDevTrain: 4,038 identities, 1,184 of them with at least two images.
  assert.equal(await classCount(lfw(1)), 4038);
  assert.equal(await classCount(lfw(2)), 1184);
});

Deno.test("plan: classCount counts the training identities in the data files (null when absent)", async () => {
  assert.equal(await classCount(config()), 10); // the toy fixture's classes
  await withTempDir(async (dir) => {
    const list = config({ data: { kind: "list", root: dir, list: `${dir}/train.txt`, size: 16 } });
    assert.equal(await classCount(list), null);
    await Deno.writeTextFile(`${dir}/train.txt`, "a/1.jpg 0\na/2.jpg 0\nb/1.jpg 7\nc/1.jpg 3\n");
    assert.equal(await classCount(list), 3);
    await Deno.writeTextFile(`${dir}/train.txt`, "a/1.jpg 0 extra\n");
    await assert.rejects(classCount(list), /train\.txt:1: expected "relative\/path identity", got 3 field\(s\)/);
  });
});

Deno.test("plan: the estimate measures the config's classifier: counted classes and featDim, else VGGFace2's (wasm)", async () => {
  await useBackend("wasm");
  await withTempDir(async (dir) => {
    const dataset = await toyDataset(dir, { data: { kind: "list", root: dir, list: `${dir}/train.txt`, size: 16 } });
    const profile: Profile = {
      description: "d",
      seeds: [0],
      datasets: [dataset],
      families: ["lambda"],
      reproduce: REPRODUCE_DEFAULTS,
    };
    const experiments = await loadExperiments();
    const plan = () =>
      planProfile("mine", profile, experiments, { workDir: dir, measureBatch: 1, measureSteps: 1 }).then((p) => ({
        ...p.estimate!,
        line: p.lines.find((l) => l.startsWith("classes: ")),
      }));
    const assumed = await plan();
    assert.equal(
      assumed.line,
      `classes: ${VGGFACE2_CLASSES} assumed (VGGFace2's; the training identities are not there to count)`,
    );
    assert.deepEqual([assumed.classes, assumed.featDim], [VGGFACE2_CLASSES, 32]);
    await Deno.writeTextFile(`${dir}/train.txt`, "a/1.jpg 0\nb/1.jpg 1\n");
    const counted = await plan();
    assert.equal(counted.line, "classes: 2 (counted in toy's data)");
    assert.equal(counted.classes, 2);
  });
});

Deno.test("plan: estimateStep measures batches b and 2b and extrapolates to the config's batch (wasm)", async () => {
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  const c = config({ train: { steps: 10, batchSize: 16, lr: 0.1 } });
  const e = await estimateStep(c, 10, { measureBatch: 2, measureSteps: 1 });
  assert.equal(tf.memory().numTensors, before, "tensors leaked by the measurement");
  assert.equal(e.backend, "wasm");
  assert.equal(e.batch, 16);
  assert.deepEqual(e.measured.map((m) => m.batch), [2, 4]);
  for (const m of e.measured) assert.ok(m.stepSeconds > 0 && m.peakRssMB > 0 && Number.isFinite(m.stepSeconds));
  for (const v of [e.stepSeconds, e.peakRssMB, e.imagesPerSecond]) assert.ok(Number.isFinite(v) && v > 0, `${v}`);
  const [a, b] = e.measured;
  const line = (k: "stepSeconds" | "peakRssMB") => a[k] + Math.max(0, (b[k] - a[k]) / 2) * (16 - 2);
  assert.ok(Math.abs(e.stepSeconds - line("stepSeconds")) < 1e-12);
  assert.ok(Math.abs(e.peakRssMB - line("peakRssMB")) < 1e-9);
  assert.ok(e.stepSeconds >= a.stepSeconds, "never extrapolates below the smallest batch");
  assert.ok(Math.abs(e.imagesPerSecond - 16 / e.stepSeconds) < 1e-9);

  // A batch below 2b: one measurement, scaled in proportion.
  const small = await estimateStep(config({ train: { steps: 10, batchSize: 3, lr: 0.1 } }), 10, {
    measureBatch: 2,
    measureSteps: 1,
  });
  assert.deepEqual(small.measured.map((m) => m.batch), [2]);
  assert.ok(Math.abs(small.stepSeconds - small.measured[0].stepSeconds * 1.5) < 1e-12);
  assert.equal(tf.memory().numTensors, before);

  // Defaults: a batch up to DIRECT_BATCH is measured itself (B/2 and B); a larger one from 4 and 8.
  const direct = await estimateStep(config({ train: { steps: 10, batchSize: 16, lr: 0.1 } }), 10, { measureSteps: 1 });
  assert.deepEqual(direct.measured.map((m) => m.batch), [8, 16]);
  assert.equal(direct.stepSeconds, Math.max(...direct.measured.map((m) => m.stepSeconds)));
  const large = await estimateStep(config({ train: { steps: 10, batchSize: DIRECT_BATCH + 1, lr: 0.1 } }), 10, {
    measureSteps: 1,
  });
  assert.deepEqual(large.measured.map((m) => m.batch), [4, 8]);
  assert.equal(tf.memory().numTensors, before);

  // Only SFNet backbones are measured.
  const iresnet = config({ model: { type: "iresnet", depth: 18, inputSize: 16, featDim: 32 } });
  await assert.rejects(estimateStep(iresnet, 10), /only SFNet backbones are measured, got iresnet/);
});

Deno.test("plan: planDuration picks a unit a reader can take in", () => {
  assert.equal(planDuration(90), "1.5 min");
  assert.equal(planDuration(5 * 3600), "5.0 h");
  assert.equal(planDuration(72 * 3600), "3.0 days");
  assert.equal(planDuration(144_245 * 3600), "16.5 years");
});
