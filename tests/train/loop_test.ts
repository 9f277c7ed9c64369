import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { readCheckpoint } from "../../lib/train/checkpoint.ts";
import { toyData, type TrainingData } from "../../lib/train/data.ts";
import { type StepRecord, TrainingDivergedError, trainRun } from "../../lib/train/loop.ts";
import { useBackend } from "../shared.ts";
import { tinyConfig } from "./tiny.ts";

async function losses(logPath: string): Promise<number[]> {
  return (await Deno.readTextFile(logPath)).trim().split("\n").map((l) => JSON.parse(l))
    .filter((r) => r.type === "step").map((r) => r.loss);
}

Deno.test("same config + seed + backend: identical loss curve and byte-identical checkpoint; another seed differs (wasm)", async () => {
  await useBackend("wasm");
  const config = tinyConfig();
  const a = await trainRun(config, { outDir: await Deno.makeTempDir(), quiet: true });
  const b = await trainRun(config, { outDir: await Deno.makeTempDir(), quiet: true });
  const c = await trainRun(tinyConfig({ seed: 6 }), { outDir: await Deno.makeTempDir(), quiet: true });
  expect(await losses(b.logPath)).toEqual(await losses(a.logPath));
  expect(await losses(c.logPath)).not.toEqual(await losses(a.logPath));
  expect(await Deno.readFile(b.checkpointPath)).toEqual(await Deno.readFile(a.checkpointPath));
  const ck = await readCheckpoint(a.checkpointPath);
  expect(ck.header.state).toMatchObject({ step: 12, lrStep: 1, cursor: { epoch: 2, batch: 0 }, backend: "wasm" });
  // Model, head (W, b) and one momentum buffer per trainable.
  const names = [...ck.tensors.keys()];
  expect(names.filter((n) => n.startsWith("momentum/")).length).toBe(
    names.filter((n) => !n.startsWith("momentum/")).length,
  );
  expect(names).toContain("head/bias");
  const log = (await Deno.readTextFile(a.logPath)).trim().split("\n").map((l) => JSON.parse(l));
  expect(log.filter((r) => r.type === "val").map((r) => r.step)).toEqual([6, 12]);
  const step = log.find((r) => r.type === "step") as StepRecord;
  expect(Object.keys(step).sort()).toEqual([
    "epoch",
    "featNorm",
    "gradNorm",
    "imgPerSec",
    "loss",
    "lr",
    "seconds",
    "step",
    "type",
  ]);
  expect(log.filter((r) => r.type === "step").map((r) => r.lr).slice(7, 9)).toEqual([0.05, 0.05 * 0.1]);
  const run = JSON.parse(await Deno.readTextFile(`${a.runDir}/run.json`));
  expect(run).toMatchObject({ seed: 5, backend: "wasm", model: { name: "SFNet-4 (w0.0625, 16px)" } });
  expect(typeof run.kitCommit).toBe("string");
  expect(a.metrics!["toy-val"].ACC).toBeGreaterThan(0);
});

Deno.test("stop + resume in process equals an uninterrupted run, BN running stats included (wasm, IResNet)", async () => {
  await useBackend("wasm");
  const config = tinyConfig({ model: { type: "iresnet", depth: 18, width: 0.0625, inputSize: 16, featDim: 8 } });
  const full = await trainRun(config, { outDir: await Deno.makeTempDir(), quiet: true });
  const dir = await Deno.makeTempDir();
  const part = await trainRun(config, { outDir: dir, quiet: true, stopAfter: 5 });
  expect(part.steps).toBe(5);
  expect((await readCheckpoint(part.checkpointPath)).header.state.step).toBe(5);
  await expect(trainRun(config, { outDir: dir, quiet: true })).rejects.toThrow(/already holds a run/);
  await expect(trainRun(tinyConfig({ seed: 9 }), { outDir: dir, quiet: true, resume: true })).rejects.toThrow(
    /different config/,
  );
  const resumed = await trainRun(config, { outDir: dir, quiet: true, resume: true });
  expect(resumed.steps).toBe(12);
  expect(await Deno.readFile(resumed.checkpointPath)).toEqual(await Deno.readFile(full.checkpointPath));
  expect(await losses(resumed.logPath)).toEqual(await losses(full.logPath));
  const ck = await readCheckpoint(full.checkpointPath);
  expect(Array.from(ck.tensors.get("model/features.runningVar")!.data).some((v) => v !== 1)).toBe(true);
});

Deno.test("NaN guard: stops with a clear message before updating, keeps the last good checkpoint (cpu)", async () => {
  await useBackend("cpu");
  const config = tinyConfig();
  if (config.data.kind !== "toy") throw new Error("tiny config uses toy data");
  const toy = toyData(config.data, config.seed);
  let calls = 0;
  const poisoned: TrainingData = {
    ...toy,
    batch: async (indices, flips) => {
      const x = await toy.batch(indices, flips);
      if (++calls < 7) return x;
      const nan = tf.mul(x, NaN) as tf.Tensor4D;
      x.dispose();
      return nan;
    },
  };
  const dir = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const err = await trainRun(config, { outDir: dir, quiet: true, data: poisoned }).catch((e) => e);
  expect(err).toBeInstanceOf(TrainingDivergedError);
  expect(err.message).toMatch(
    /training diverged at step 7: loss NaN.*last good checkpoint is .*checkpoint.sf2 \(step 4\)/,
  );
  expect((await readCheckpoint(`${dir}/checkpoint.sf2`)).header.state.step).toBe(4);
  const log = (await Deno.readTextFile(`${dir}/log.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
  expect(log.at(-1)).toMatchObject({ type: "diverged", step: 7 });
  expect(tf.memory().numTensors).toBe(before);
});

Deno.test("no tensor leaks over many steps, and the loss goes down (wasm)", async () => {
  await useBackend("wasm");
  const config = tinyConfig({
    train: { steps: 80, batchSize: 8, lr: 0.1 },
    checkpoint: { every: 40 },
    validation: { every: 40, batchSize: 16 },
  });
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  const r = await trainRun(config, {
    outDir: await Deno.makeTempDir(),
    quiet: true,
    onProgress: (rec) => rec.type === "step" && counts.push(tf.memory().numTensors),
  });
  expect(new Set(counts.slice(1)).size).toBe(1);
  expect(tf.memory().numTensors).toBe(before);
  const l = await losses(r.logPath);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(l.slice(-12))).toBeLessThan(0.8 * mean(l.slice(0, 12)));
});
