/**
 * The training loop: OpenSphere's recipe on explicit variables, deterministic and resumable.
 *
 * Per step (0-based i): batch i of the epoch's permutation; a flip per image from the flip stream; the head's
 * weights re-normalised (`head.prepare()`); forward with BN batch statistics; loss; gradients of every trainable
 * variable; a NaN/Inf guard; optional global-norm clipping; SGD (momentum, weight decay on every parameter, head
 * included) at the multistep LR of step i; BN running stats committed.
 *
 * One seed drives everything (initialisation of backbone and head, shuffling, flips; label noise has its own
 * seed as in OpenSphere). Same config + seed + backend ⇒ the same loss curve and the same weights, bit for bit.
 *
 * The run folder holds `run.json` (config, seed, backend, versions, git commit, parameter counts), `log.jsonl`
 * (one record per step and per validation), `checkpoint.sf2` (model, momentum buffers, step, LR step, RNG state,
 * data cursor; rewritten atomically every `checkpoint.every` steps and at the end) and `metrics.json` at the end.
 * `resume: true` continues from `checkpoint.sf2`; the final weights equal an uninterrupted run's byte for byte.
 *
 * @example
 * ```ts
 * import { parseTrainConfig } from "./config.ts";
 * import { trainRun } from "./loop.ts";
 * const config = parseTrainConfig({ name: "tiny", model: { type: "sfnet", depth: 4, width: 0.0625, inputSize: 16, featDim: 8 },
 *   head: { type: "sphereface2" }, data: { kind: "toy", classes: 6, perClass: 8, size: 16 },
 *   train: { steps: 20, batchSize: 8 }, checkpoint: { every: 10 }, validation: { every: 10 } });
 * const result = await trainRun(config, { outDir: "/tmp/tiny-run", quiet: true });
 * console.log(result.finalLoss, result.metrics);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { openSphereMetrics } from "../eval/opensphere_metrics.ts";
import { extractFeatures, pairCosines } from "../eval/verification.ts";
import type { Head } from "../losses/head.ts";
import { createHead } from "../losses/registry.ts";
import { createModel, type Model } from "../models/registry.ts";
import { runMetadata } from "../fs/metadata.ts";
import { formatJson } from "../fs/write.ts";
import { type NamedArray, readCheckpoint, writeCheckpoint, writeFileAtomic } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { BatchOrder, type PairSet, type TrainingData } from "./data.ts";
import { openTrainingData } from "./datasets.ts";
import { noisyLabels } from "./label_noise.ts";
import { JsonlLog, truncateLogAfter } from "./log.ts";
import { checkMemory, trainingBytes } from "./memory.ts";
import { openRunDir, RUN_FILES, type RunDir } from "./run_dir.ts";
import { deriveSeed, Rng } from "../random/rng.ts";
import { lrStepIndex, multiStepLr } from "./schedule.ts";
import { Sgd } from "./sgd.ts";
import { Progress } from "../cli/progress.ts";

/** One training step as logged. `imgPerSec` and `seconds` are wall-clock (the only non-deterministic fields). */
export interface StepRecord {
  type: "step";
  /** Steps done (1-based: the record of the first step has step 1). */
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  /** Global L2 norm of the raw gradients (before weight decay and clipping). */
  gradNorm: number;
  /** L2 norms of the batch's embeddings. */
  featNorm: { mean: number; min: number; max: number };
  imgPerSec: number;
  seconds: number;
}

/** Verification metrics per pair set (percent), as logged. */
export interface ValidationRecord {
  type: "val";
  step: number;
  sets: Record<string, Record<string, number>>;
}

export interface TrainOptions {
  /** The run folder. */
  outDir: string;
  /** Continue from `outDir/checkpoint.sf2` (required when it exists; refused when it does not). */
  resume?: boolean;
  /** Use this dataset instead of opening `config.data` (tests, notebooks); label noise still applies. */
  data?: TrainingData;
  /** Called after every step and validation. */
  onProgress?: (record: StepRecord | ValidationRecord) => void;
  /** No progress bar. */
  quiet?: boolean;
  /** How the backend was chosen (the task's `backend: …` line), recorded in run.json: kernels differ between setups. */
  backendDetail?: string;
  /** Stop (without error, after checkpointing) once this many steps are done; for tests and time-boxed runs. */
  stopAfter?: number;
}

export interface TrainResult {
  runDir: string;
  logPath: string;
  checkpointPath: string;
  /** Steps done when the function returned. */
  steps: number;
  finalLoss: number;
  /** The last validation's metrics per pair set (null: no pairs). */
  metrics: Record<string, Record<string, number>> | null;
  /** Median images/s of this process's steps. */
  imagesPerSecond: number;
}

/** Training stopped on a non-finite loss or gradient; the last good checkpoint is untouched. */
export class TrainingDivergedError extends Error {
  override name = "TrainingDivergedError";
}

/** Training stopped on SIGINT/SIGTERM after writing a checkpoint; tasks exit with `exitCode` (130/143). */
export class TrainingInterruptedError extends Error {
  override name = "TrainingInterruptedError";
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export { RUN_FILES };

/** Everything that changes during training, besides the variables. */
interface LoopState {
  step: number;
  flipRng: Rng;
}

/** Named tensors of model, head and momentum buffers, in a fixed order (the checkpoint's order). */
function stateTensors(model: Model, head: Head, sgd: Sgd): { name: string; variable: tf.Variable }[] {
  const out: { name: string; variable: tf.Variable }[] = [];
  for (const [name, v] of model.variables) out.push({ name: `model/${name}`, variable: v });
  out.push({ name: "head/weight", variable: head.weight });
  if (head.bias) out.push({ name: "head/bias", variable: head.bias });
  const trainNames = trainableNames(model, head);
  sgd.buffers.forEach((b, i) => out.push({ name: `momentum/${trainNames[i]}`, variable: b }));
  return out;
}

function trainableNames(model: Model, head: Head): string[] {
  return [
    ...model.specs.filter((s) => s.role === "param").map((s) => `model/${s.name}`),
    "head/weight",
    ...(head.bias ? ["head/bias"] : []),
  ];
}

/** The parts of a config a checkpoint must agree with to resume (steps, checkpoint and validation may change). */
function resumeKey(c: TrainConfig): string {
  const { steps: _s, ...optim } = c.train;
  return JSON.stringify({ seed: c.seed, model: c.model, head: c.head, data: c.data, optim });
}

/** Pair verification of the current model (eval mode) on each pair set. */
export async function validate(
  model: Model,
  sets: readonly PairSet[],
  options: { flip: boolean; batchSize: number },
): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const set of sets) {
    const { features, dim } = await extractFeatures((x) => model.forward(x, false), set.images, options);
    const cos = pairCosines(features, dim, set.pairs);
    // OpenSphere's validation metrics (best-threshold ACC, EER, AUC, TPR@FPR). No 10-fold ACC here: its folds are
    // contiguous slices of the list, meaningless for lists sorted matched-then-mismatched like pairsDevTest.txt.
    out[set.name] = { ...openSphereMetrics(cos, set.same) };
  }
  return out;
}

/**
 * One optimisation step; returns the logged numbers. Disposes everything it creates. The one read-back is
 * asynchronous (`data()`, not `dataSync()`): tfjs-webgpu's synchronous read needs a 2-D canvas, which Deno lacks.
 */
async function trainStep(
  model: Model,
  head: Head,
  sgd: Sgd,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  lr: number,
  gradClip: number | null,
): Promise<{ loss: number; gradNorm: number; featNorm: StepRecord["featNorm"]; finite: boolean }> {
  head.prepare();
  const kept: { featStats?: tf.Tensor1D } = {};
  const variables = sgd.variables as tf.Variable[];
  const { value, grads } = tf.variableGrads(() => {
    const e = model.forward(images, true);
    const norms = tf.norm(e, "euclidean", 1);
    kept.featStats = tf.keep(tf.stack([tf.mean(norms), tf.min(norms), tf.max(norms)]) as tf.Tensor1D);
    return head.loss(e, labels);
  }, variables);
  const gradList = variables.map((v) => grads[v.name]);
  const summary = tf.tidy(() =>
    tf.concat([
      tf.reshape(value, [1]),
      tf.reshape(tf.sqrt(tf.addN(gradList.map((g) => tf.sum(tf.square(g))))), [1]),
      kept.featStats!,
    ])
  );
  const [loss, gradNorm, fMean, fMin, fMax] = await summary.data();
  tf.dispose([summary, value, kept.featStats!]);
  const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
  if (finite) {
    // torch.nn.utils.clip_grad_norm_: scale by max/(norm + 1e-6) when that is below 1.
    const scale = gradClip !== null && gradClip / (gradNorm + 1e-6) < 1 ? gradClip / (gradNorm + 1e-6) : 1;
    sgd.step(gradList, lr, scale);
    model.commitBatchStats();
  } else {
    model.discardBatchStats();
  }
  tf.dispose(gradList);
  return { loss, gradNorm, featNorm: { mean: fMean, min: fMin, max: fMax }, finite };
}

/** Everything a run holds while it trains: the locked folder, data, model, head, optimiser, loop state. */
interface OpenRun {
  config: TrainConfig;
  options: TrainOptions;
  dir: RunDir;
  backend: string;
  data: TrainingData;
  noise: ReturnType<typeof noisyLabels>;
  order: BatchOrder;
  model: Model;
  head: Head;
  sgd: Sgd;
  tensors: { name: string; variable: tf.Variable }[];
  state: LoopState;
  lastCheckpointStep: number | null;
  progress: Progress;
}

/**
 * Opens a run: the data, a memory estimate (refused before anything is allocated or created when it cannot fit),
 * the locked run folder (see ./run_dir.ts), then model, head and optimiser at their seeded initial values.
 */
async function openRun(config: TrainConfig, options: TrainOptions): Promise<OpenRun> {
  const backend = tf.getBackend();
  const seed = config.seed;
  const data = options.data ?? await openTrainingData(config.data, seed);
  if (data.size !== config.model.inputSize) {
    throw new Error(`data images are ${data.size}px but model.inputSize is ${config.model.inputSize}`);
  }
  checkMemory(
    trainingBytes({ model: config.model, classes: data.numClasses, batchSize: config.train.batchSize }),
    `training ${config.name} (${data.numClasses} classes)`,
    backend,
  );
  const dir = await openRunDir(options.outDir, { resume: options.resume });
  try {
    const noise = noisyLabels(data.labels, data.numClasses, config.data.noiseRatio, config.data.noiseSeed);
    const order = new BatchOrder(data.count, config.train.batchSize, deriveSeed(seed, "data"));
    const model = createModel(config.model, { seed: deriveSeed(seed, "model") }, "model");
    const head = createHead(config.head, {
      featDim: config.model.featDim,
      numClasses: data.numClasses,
      seed: deriveSeed(seed, "head"),
    }, "head");
    const sgd = new Sgd([...model.trainables(), ...head.trainables()], {
      momentum: config.train.momentum,
      weightDecay: config.train.weightDecay,
    });
    return {
      config,
      options,
      dir,
      backend,
      data,
      noise,
      order,
      model,
      head,
      sgd,
      tensors: stateTensors(model, head, sgd),
      state: { step: 0, flipRng: Rng.fromSeed(seed, "flip") },
      lastCheckpointStep: null,
      progress: new Progress("train", config.train.steps, { quiet: options.quiet, rate: false }),
    };
  } catch (err) {
    dir.close(true);
    throw err;
  }
}

/** Restores weights, momentum, step and RNG state from the run's checkpoint (which must match the config). */
async function restoreRun(run: OpenRun): Promise<void> {
  const { config, dir: { paths }, backend } = run;
  const ck = await readCheckpoint(paths.checkpoint);
  const s = ck.header.state as { step: number; rng: { flip: number[] }; resumeKey: string; backend: string };
  if (s.resumeKey !== resumeKey(config)) {
    throw new Error(
      `cannot resume ${paths.checkpoint}: it was written for a different config (seed, model, head, data or ` +
        `optimiser differ; only train.steps, checkpoint and validation may change)`,
    );
  }
  if (s.backend !== backend) {
    run.progress.note(`warning: checkpoint written on backend ${s.backend}, resuming on ${backend}: not bit-identical`);
  }
  for (const { name, variable } of run.tensors) {
    const t = ck.tensors.get(name);
    if (!t) throw new Error(`${paths.checkpoint}: missing tensor ${name}`);
    if (t.shape.join() !== variable.shape.join()) {
      throw new Error(`${paths.checkpoint}: ${name} has shape [${t.shape}], the model expects [${variable.shape}]`);
    }
    const value = tf.tensor(t.data, t.shape, "float32");
    variable.assign(value);
    value.dispose();
  }
  run.state.step = s.step;
  run.state.flipRng = Rng.fromState(s.rng.flip);
  run.lastCheckpointStep = s.step;
  run.progress.start(s.step);
  await truncateLogAfter(paths.log, s.step);
  run.progress.note(`resuming ${config.name} at step ${s.step}/${config.train.steps}`);
}

/** Writes run.json: the full record on a fresh run, one more `resumes` entry on a resumed one. */
async function recordRun(run: OpenRun): Promise<void> {
  const { config, dir: { paths }, backend, model, head, noise } = run;
  const meta = await runMetadata({});
  let record: Record<string, unknown>;
  if (run.options.resume) {
    const text = await Deno.readTextFile(paths.run).catch(() => "{}");
    try {
      record = JSON.parse(text);
    } catch (err) {
      throw new Error(`${paths.run}: not valid JSON (${(err as Error).message})`);
    }
    record.resumes = [
      ...((record.resumes as unknown[]) ?? []),
      { date: meta.date, fromStep: run.state.step, backend },
    ];
  } else {
    record = {
      name: config.name,
      config,
      seed: config.seed,
      backend,
      backendDetail: run.options.backendDetail,
      versions: { ...tf.version, deno: meta.deno, v8: meta.v8, typescript: meta.typescript },
      kitCommit: meta.kitCommit,
      os: meta.os,
      arch: meta.arch,
      started: meta.date,
      model: { name: model.name, ...model.paramCount },
      head: {
        type: head.type,
        numClasses: head.numClasses,
        parameters: head.trainables().reduce((n, v) => n + v.size, 0),
      },
      data: run.data.describe(),
      labelNoise: {
        ratio: config.data.noiseRatio,
        seed: config.data.noiseSeed,
        redrawn: noise.redrawn,
        changed: noise.changed,
      },
    };
  }
  await writeFileAtomic(paths.run, new TextEncoder().encode(formatJson(record)));
}

/** Writes the checkpoint of the current state (atomically). */
async function saveCheckpoint(run: OpenRun): Promise<void> {
  const { config, state } = run;
  const arrays: NamedArray[] = [];
  for (const { name, variable } of run.tensors) {
    arrays.push({ name, shape: variable.shape, data: (await variable.data()) as Float32Array });
  }
  await writeCheckpoint(run.dir.paths.checkpoint, {
    step: state.step,
    lrStep: lrStepIndex(state.step, config.train.milestones),
    nextLr: multiStepLr(state.step, config.train),
    cursor: run.order.cursorAt(state.step),
    rng: { flip: state.flipRng.state() },
    seed: config.seed,
    backend: run.backend,
    resumeKey: resumeKey(config),
    config,
  }, arrays);
  run.lastCheckpointStep = state.step;
}

/**
 * SIGINT/SIGTERM ask the loop to stop after the current step (with a checkpoint, as on a normal stop); a second
 * signal exits at once. Returns the flag and the function that removes the listeners.
 */
function stopOnSignals(onForce: () => void): { requested: () => string | null; remove: () => void } {
  let signal: string | null = null;
  if (Deno.build.os === "windows") return { requested: () => null, remove: () => {} };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = () => {
      if (signal !== null) {
        onForce();
        Deno.exit(name === "SIGINT" ? 130 : 143);
      }
      signal = name;
    };
    Deno.addSignalListener(name, handler);
    return [name, handler] as const;
  });
  return {
    requested: () => signal,
    remove: () => handlers.forEach(([name, handler]) => Deno.removeSignalListener(name, handler)),
  };
}

/** The steps from `run.state.step` to the end (or `stopAfter`), with logging, validation and checkpoints. */
async function loopRun(run: OpenRun): Promise<TrainResult> {
  const { config, options, data, order, model, head, sgd, state, progress, backend } = run;
  const { paths } = run.dir;
  const log = await JsonlLog.open(paths.log);
  const signals = stopOnSignals(() => run.dir.close());
  try {
    const labelsOf = run.noise.labels;
    const rates: number[] = [];
    let finalLoss = NaN;
    let metrics: Record<string, Record<string, number>> | null = null;
    const total = config.train.steps;
    const stopAt = Math.min(total, options.stopAfter ?? total);
    const ckEvery = config.checkpoint.every, valEvery = config.validation.every;
    while (state.step < stopAt) {
      const t0 = performance.now();
      const indices = order.batchAt(state.step);
      const flips = indices.map(() => state.flipRng.nextFloat() < config.train.flip);
      const lr = multiStepLr(state.step, config.train);
      const images = await data.batch(indices, flips);
      const labels = tf.tensor1d(indices.map((i) => labelsOf[i]), "int32");
      const r = await trainStep(model, head, sgd, images, labels, lr, config.train.gradClip);
      tf.dispose([images, labels]);
      if (!r.finite) {
        await log.write({ type: "diverged", step: state.step + 1, loss: r.loss, gradNorm: r.gradNorm });
        const where = run.lastCheckpointStep === null
          ? "no checkpoint was written yet"
          : `the last good checkpoint is ${paths.checkpoint} (step ${run.lastCheckpointStep})`;
        throw new TrainingDivergedError(
          `training diverged at step ${state.step + 1}: loss ${r.loss}, gradient norm ${r.gradNorm} ` +
            `(lr ${lr}); stopped before updating the weights; ${where}. Try a lower train.lr or train.gradClip.`,
        );
      }
      state.step++;
      const seconds = (performance.now() - t0) / 1000;
      const imgPerSec = indices.length / seconds;
      rates.push(imgPerSec);
      finalLoss = r.loss;
      const rec: StepRecord = {
        type: "step",
        step: state.step,
        epoch: order.cursorAt(state.step - 1).epoch,
        loss: r.loss,
        lr,
        gradNorm: r.gradNorm,
        featNorm: r.featNorm,
        imgPerSec,
        seconds,
      };
      await log.write({ ...rec });
      options.onProgress?.(rec);
      progress.update(state.step, stepDetail(r.loss, lr, imgPerSec));
      const last = state.step === total;
      if (data.validation.length && ((valEvery > 0 && state.step % valEvery === 0) || last)) {
        metrics = await validate(model, data.validation, config.validation);
        const vrec: ValidationRecord = { type: "val", step: state.step, sets: metrics };
        await log.write({ ...vrec });
        options.onProgress?.(vrec);
        progress.note(`step ${state.step}: ${summarise(metrics)}`);
      }
      const signal = signals.requested();
      if ((ckEvery > 0 && state.step % ckEvery === 0) || state.step === stopAt || signal) await saveCheckpoint(run);
      if (signal) {
        throw new TrainingInterruptedError(
          `${signal} at step ${state.step}/${total}: checkpoint written to ${paths.checkpoint}; ` +
            `continue with --resume`,
          signal === "SIGINT" ? 130 : 143,
        );
      }
    }
    progress.done();
    if (state.step === total) {
      const summary = { name: config.name, steps: total, finalLoss, backend, validation: metrics };
      await writeFileAtomic(paths.metrics, new TextEncoder().encode(formatJson(summary)));
    }
    const sorted = [...rates].sort((a, b) => a - b);
    return {
      runDir: run.dir.runDir,
      logPath: paths.log,
      checkpointPath: paths.checkpoint,
      steps: state.step,
      finalLoss,
      metrics,
      imagesPerSecond: sorted.length ? sorted[sorted.length >> 1] : 0,
    };
  } finally {
    signals.remove();
    log.close();
  }
}

/** `loss 2.3140 lr 0.100 38 img/s`: the detail of the training progress line. */
function stepDetail(loss: number, lr: number, imgPerSec: number): string {
  return `loss ${loss.toFixed(4)} lr ${lr.toPrecision(3)} ${imgPerSec.toFixed(imgPerSec < 10 ? 1 : 0)} img/s`;
}

/**
 * Trains `config` into `options.outDir` (see the module doc for the folder's contents): open (data, memory
 * check, locked folder, model), restore (when resuming), record (run.json), loop. Uses whatever tfjs backend is
 * active (tasks call `startBackend` first) and records it.
 */
export async function trainRun(config: TrainConfig, options: TrainOptions): Promise<TrainResult> {
  const run = await openRun(config, options);
  try {
    if (options.resume) await restoreRun(run);
    await recordRun(run);
    return await loopRun(run);
  } finally {
    run.sgd.dispose();
    run.head.dispose();
    run.model.dispose();
    run.dir.close();
  }
}

function summarise(metrics: Record<string, Record<string, number>>): string {
  return Object.entries(metrics).map(([name, m]) =>
    `${name} ACC ${m.ACC.toFixed(2)}% EER ${m.EER.toFixed(2)}% AUC ${m.AUC.toFixed(2)}%`
  ).join("; ");
}
