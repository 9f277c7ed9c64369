/**
 * Toy face recognition in seconds on a CPU: synthetic "identities" (Gaussian clusters in a signal subspace plus
 * loud nuisance dimensions that carry no identity), a linear map to a small embedding, and a loss head from
 * `lib/losses` (SphereFace2 or a softmax-family baseline) trained on top of the normalised embedding. Used by
 * the notebooks to show what binary training changes: one bias, hence one cos θ threshold shared by all
 * classes, which also serves open-set verification of unseen identities.
 *
 * Data, initialisation and training are seeded, so a run is reproducible on a given backend. Everything
 * returned is plain numbers (JSON-ready, cacheable); tensors live only inside {@link trainToy}.
 *
 * @example
 * ```ts
 * import { toyData, trainToy, embed, verificationPairs } from "./toy_embeddings.ts";
 * const train = toyData({ classes: 8, perClass: 30, seed: 1 });
 * const model = await trainToy(train, { head: { type: "sphereface2", m: 0.2 }, embedDim: 3, steps: 150 });
 * const unseen = toyData({ classes: 8, perClass: 10, seed: 1, firstClass: 100 });
 * const pairs = verificationPairs(embed(model, unseen), unseen.labels, { seed: 2 });
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createHead, type HeadConfigInput, parseHeadConfig } from "../losses/mod.ts";
import { mulberry32 } from "../random/mulberry32.ts";

// ---------------------------------------------------------------------------------------------------------
// Seeded randomness

/** Standard normal samples from a uniform generator (Box–Muller). */
export function gaussian(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

// ---------------------------------------------------------------------------------------------------------
// Data

export interface ToyDataSpec {
  /** Number of identities. */
  classes: number;
  /** Samples per identity. */
  perClass: number;
  /** Dimensions that carry identity; class means are uniform on a sphere of radius `radius` there. Default 6. */
  signalDim?: number;
  /** Norm of every class mean (default 3): the signal-to-noise ratio of identity. */
  radius?: number;
  /**
   * `sphere` (default): mean directions uniform on the sphere, independent per identity. `circle`: evenly spaced
   * on a circle in the first two signal dimensions (random directions in 2-D often nearly coincide, which
   * makes a drawing of 2-D embeddings about collisions rather than about the loss).
   */
  layout?: "sphere" | "circle";
  /** Dimensions of pure noise the map must learn to ignore; default 4. */
  nuisanceDim?: number;
  /** Within-class standard deviation in the signal dimensions; default 0.35. */
  noise?: number;
  /** Standard deviation of the nuisance dimensions; default 2. */
  nuisanceScale?: number;
  /** Seeds the identities and the samples. */
  seed: number;
  /**
   * Global index of the first identity: identity i's mean depends only on (seed, i), so `firstClass: 100`
   * gives identities never seen by a model trained on classes 0…K−1 (open-set evaluation).
   */
  firstClass?: number;
}

export interface ToyData {
  /** Row-major n × inputDim. */
  x: number[][];
  /** Class of each row, 0…classes−1 (local to this set). */
  labels: number[];
  classes: number;
  inputDim: number;
}

/** Synthetic identities: x = [μ_class + noise·ε, nuisanceScale·ν] with ‖μ_class‖ = radius. */
export function toyData(spec: ToyDataSpec): ToyData {
  const signalDim = spec.signalDim ?? 6;
  const nuisanceDim = spec.nuisanceDim ?? 4;
  const noise = spec.noise ?? 0.35;
  const nuisanceScale = spec.nuisanceScale ?? 2;
  const first = spec.firstClass ?? 0;
  const radius = spec.radius ?? 3;
  if (!(spec.classes >= 2 && spec.perClass >= 1)) throw new Error("toyData: need ≥ 2 classes and ≥ 1 sample each");
  const x: number[][] = [];
  const labels: number[] = [];
  const sampleNormal = gaussian(mulberry32(spec.seed * 7919 + first + 1));
  for (let k = 0; k < spec.classes; k++) {
    const meanNormal = gaussian(mulberry32(hash(spec.seed, first + k)));
    const angle = (2 * Math.PI * (first + k)) / spec.classes + 0.3;
    const direction = (spec.layout ?? "sphere") === "circle"
      ? Array.from({ length: signalDim }, (_, j) => (j === 0 ? Math.cos(angle) : j === 1 ? Math.sin(angle) : 0))
      : Array.from({ length: signalDim }, meanNormal);
    const norm = Math.hypot(...direction);
    const mean = direction.map((v) => (radius * v) / norm);
    for (let i = 0; i < spec.perClass; i++) {
      x.push([
        ...mean.map((m) => m + noise * sampleNormal()),
        ...Array.from({ length: nuisanceDim }, () => nuisanceScale * sampleNormal()),
      ]);
      labels.push(k);
    }
  }
  return { x, labels, classes: spec.classes, inputDim: signalDim + nuisanceDim };
}

function hash(a: number, b: number): number {
  return (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Training

export interface ToyTrainSpec {
  /** A head config for `createHead`, e.g. `{ type: "sphereface2", m: 0.2 }` or `{ type: "cosface" }`. */
  head: HeadConfigInput;
  /** Embedding size (2 or 3 to draw it); default 2. */
  embedDim?: number;
  /** Full-batch Adam steps; default 200. */
  steps?: number;
  /** Adam learning rate; default 0.05. */
  lr?: number;
  /** Seeds the map and the head's W. */
  seed?: number;
  /**
   * Start of the class centres: `classMeans` (default) puts each at the mean direction of its class under the
   * initial map; `xavier` keeps the head's own random init (OpenSphere's). In 2-D the centres cannot pass each
   * other on the circle, so a random start often locks classes into a wrong order; the mean start avoids it.
   */
  centreInit?: "classMeans" | "xavier";
  /** Called after every step with the loss (await-ed, so a notebook can update a progress display). */
  onStep?: (step: number, steps: number, loss: number) => void | Promise<void>;
}

/** A trained toy model as plain numbers. */
export interface ToyModel {
  /** The head's parsed config. */
  head: ReturnType<typeof parseHeadConfig>;
  /** inputDim × embedDim linear map. */
  map: number[][];
  /** Unit class centres, one row per class (K × embedDim). */
  centres: number[][];
  /** The head's bias: [b] for SphereFace2, K values for Softmax, null otherwise. */
  bias: number[] | null;
  /** Loss after each step. */
  losses: number[];
}

/** Trains map + head on the whole set with Adam; deterministic for a seed on a given backend. */
export async function trainToy(data: ToyData, spec: ToyTrainSpec): Promise<ToyModel> {
  const embedDim = spec.embedDim ?? 2;
  const steps = spec.steps ?? 200;
  const seed = spec.seed ?? 0;
  const config = parseHeadConfig(spec.head, "toy head");
  const head = createHead(config, { featDim: embedDim, numClasses: data.classes, seed });
  const mapInit = tf.randomNormal([data.inputDim, embedDim], 0, 1 / Math.sqrt(data.inputDim), "float32", seed + 1);
  const map = tf.variable(mapInit);
  mapInit.dispose(); // the variable keeps its own reference to the data
  const x = tf.tensor2d(data.x);
  const labels = tf.tensor1d(data.labels, "int32");
  const optimizer = tf.train.adam(spec.lr ?? 0.05);
  const losses: number[] = [];
  try {
    if ((spec.centreInit ?? "classMeans") === "classMeans") {
      const means = tf.tidy(() => {
        const e = tf.div(tf.matMul(x, map), tf.norm(tf.matMul(x, map), 2, 1, true));
        const onehot = tf.oneHot(labels, data.classes).toFloat();
        return tf.matMul(e, onehot, true, false); // d × K sums of unit embeddings per class
      });
      head.weight.assign(means as tf.Tensor2D);
      means.dispose();
    }
    for (let step = 1; step <= steps; step++) {
      head.prepare();
      const loss = optimizer.minimize(
        () => head.loss(tf.matMul(x, map) as tf.Tensor2D, labels),
        true,
        [map, ...head.trainables()],
      );
      const value = (await loss!.data())[0];
      loss!.dispose();
      if (!Number.isFinite(value)) throw new Error(`trainToy: loss is ${value} at step ${step}`);
      losses.push(value);
      await spec.onStep?.(step, steps, value);
    }
    head.prepare();
    const centres = transpose(head.weight.arraySync() as number[][]);
    return {
      head: config,
      map: map.arraySync() as number[][],
      centres,
      bias: head.bias ? Array.from(head.bias.dataSync()) : null,
      losses,
    };
  } finally {
    optimizer.dispose();
    head.dispose();
    tf.dispose([map, x, labels]);
  }
}

function transpose(m: number[][]): number[][] {
  return m[0].map((_, j) => m.map((row) => row[j]));
}

// ---------------------------------------------------------------------------------------------------------
// Analysis (pure)

/** Unit embeddings x̂ = normalise(x·map) of a data set. */
export function embed(model: ToyModel, data: ToyData): number[][] {
  return data.x.map((row) => {
    const e = model.map[0].map((_, j) => row.reduce((s, v, i) => s + v * model.map[i][j], 0));
    const norm = Math.max(Math.hypot(...e), 1e-12);
    return e.map((v) => v / norm);
  });
}

/** Inner product of two vectors. */
export function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, v, i) => s + v * b[i], 0);
}

/** g⁻¹(y) = 2((y + 1)/2)^(1/t) − 1, the cosine at which g reaches y ∈ [−1, 1]. */
export function gInverse(y: number, t: number): number {
  return 2 * Math.pow((y + 1) / 2, 1 / t) - 1;
}

/**
 * SphereFace2's test-time threshold: the cos θ at which r·g(cos θ) + b = 0 (no margin at test time), the same
 * for every class because b is shared. Null when −b/r is outside g's range [−1, 1] (no crossing).
 */
export function universalThreshold(r: number, t: number, bias: number): number | null {
  const y = -bias / r;
  return y < -1 || y > 1 ? null : gInverse(y, t);
}

/** The threshold of a trained SphereFace2 toy model, or null for other heads. */
export function modelThreshold(model: ToyModel): number | null {
  if (model.head.type !== "sphereface2" || !model.bias) return null;
  return universalThreshold(model.head.r, model.head.t, model.bias[0]);
}

/** Balanced accuracy ½(TPR + TNR) of the rule "cos ≥ threshold ⇒ same". */
export function balancedAccuracy(pos: readonly number[], neg: readonly number[], threshold: number): number {
  const tpr = pos.filter((c) => c >= threshold).length / pos.length;
  const tnr = neg.filter((c) => c < threshold).length / neg.length;
  return (tpr + tnr) / 2;
}

/** The threshold with the best balanced accuracy (a midpoint between two sorted scores) and that accuracy. */
export function bestThreshold(pos: readonly number[], neg: readonly number[]): { threshold: number; accuracy: number } {
  if (!pos.length || !neg.length) throw new Error("bestThreshold: need positive and negative scores");
  const scores = [...pos.map((s) => ({ s, p: 1 })), ...neg.map((s) => ({ s, p: 0 }))].sort((a, b) => a.s - b.s);
  // Sweep the threshold upwards: everything below it is called "different".
  let tn = 0;
  let fn = 0;
  let best = { threshold: scores[0].s - 1e-9, accuracy: 0.5 };
  for (let i = 0; i <= scores.length; i++) {
    if (i === scores.length || i === 0 || scores[i].s !== scores[i - 1].s) {
      const accuracy = ((pos.length - fn) / pos.length + tn / neg.length) / 2;
      if (accuracy > best.accuracy) {
        const threshold = i === 0
          ? scores[0].s - 1e-9
          : i === scores.length
          ? scores[i - 1].s + 1e-9
          : (scores[i - 1].s + scores[i].s) / 2;
        best = { threshold, accuracy };
      }
    }
    if (i < scores.length) {
      if (scores[i].p) fn++;
      else tn++;
    }
  }
  return best;
}

/** Target and non-target cosines of every sample to the class centres (the classifier's view). */
export function centreCosines(
  model: ToyModel,
  emb: readonly number[][],
  labels: readonly number[],
): { target: number[]; nonTarget: number[] } {
  const target: number[] = [];
  const nonTarget: number[] = [];
  emb.forEach((e, i) => {
    model.centres.forEach((w, k) => (k === labels[i] ? target : nonTarget).push(dot(e, w)));
  });
  return { target, nonTarget };
}

/** Fraction of samples whose nearest centre (largest cosine) is their own class. */
export function argmaxAccuracy(model: ToyModel, emb: readonly number[][], labels: readonly number[]): number {
  let right = 0;
  emb.forEach((e, i) => {
    const cos = model.centres.map((w) => dot(e, w));
    if (cos.indexOf(Math.max(...cos)) === labels[i]) right++;
  });
  return right / emb.length;
}

/**
 * Verification pairs among embeddings: every same-class pair and an equal number of different-class pairs
 * drawn with a seed (or all of them when fewer), as cosine scores.
 */
export function verificationPairs(
  emb: readonly number[][],
  labels: readonly number[],
  options: { seed: number; maxPerKind?: number },
): { same: number[]; different: number[] } {
  const same: number[] = [];
  const differentIdx: Array<[number, number]> = [];
  for (let i = 0; i < emb.length; i++) {
    for (let j = i + 1; j < emb.length; j++) {
      if (labels[i] === labels[j]) same.push(dot(emb[i], emb[j]));
      else differentIdx.push([i, j]);
    }
  }
  const max = options.maxPerKind ?? Math.max(same.length, 1);
  const rand = mulberry32(options.seed);
  // Partial Fisher–Yates: a seeded sample without replacement.
  const take = Math.min(max, differentIdx.length);
  for (let k = 0; k < take; k++) {
    const j = k + Math.floor(rand() * (differentIdx.length - k));
    [differentIdx[k], differentIdx[j]] = [differentIdx[j], differentIdx[k]];
  }
  const different = differentIdx.slice(0, take).map(([i, j]) => dot(emb[i], emb[j]));
  return { same: same.slice(0, max), different };
}

/** The q-quantile (0…1) of values, linear interpolation. */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (pos - lo) : s[lo];
}

/** Arithmetic mean. */
export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
