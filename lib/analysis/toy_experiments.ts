/**
 * The two toy experiments of the notebooks, on {@link toyData} + {@link trainToy}, returning plain JSON:
 *
 * - {@link softmaxVsBinary} (notebook 01): 2-D embeddings trained with a softmax-family head and with
 *   SphereFace2. The softmax head's decision is an argmax, so every direction on the circle belongs to some
 *   class; SphereFace2's is K binary tests against one shared threshold τ, leaving "none of these" gaps.
 * - {@link marginSweep} (notebook 03): SphereFace2 over a grid of (m, t) on higher-dimensional embeddings, with
 *   the positive/negative cosine distributions and open-set verification of unseen identities at the learned τ.
 *
 * @example
 * ```ts
 * import { softmaxVsBinary } from "./toy_experiments.ts";
 * const result = await softmaxVsBinary({ classes: 5, steps: 100 });
 * result.heads.map((h) => [h.name, h.trainAccuracy, h.threshold]);
 * ```
 * @module
 */
import type { HeadConfigInput } from "../losses/mod.ts";
import {
  argmaxAccuracy,
  balancedAccuracy,
  bestThreshold,
  centreCosines,
  dot,
  embed,
  mean,
  modelThreshold,
  quantile,
  toyData,
  type ToyModel,
  trainToy,
  verificationPairs,
} from "./toy_embeddings.ts";
import { g } from "../losses/sphereface2.ts";

/** Reports training progress: which run, step, total steps, loss. */
export type OnProgress = (run: string, step: number, steps: number, loss: number) => void | Promise<void>;

// ---------------------------------------------------------------------------------------------------------
// Notebook 01: softmax vs binary

export interface SoftmaxVsBinaryOptions {
  classes?: number;
  perClass?: number;
  steps?: number;
  lr?: number;
  seed?: number;
  /** Heads to compare, by display name; default CosFace (multi-class, with margin) and SphereFace2-C. */
  heads?: Record<string, HeadConfigInput>;
  /** Points on the circle where decisions are evaluated for the figure (default 360). */
  ringPoints?: number;
  onProgress?: OnProgress;
}

/** One head's outcome in {@link softmaxVsBinary}. */
export interface HeadOutcome {
  name: string;
  type: string;
  /** Unit 2-D embeddings of the training samples with their labels. */
  points: Array<{ x: number; y: number; label: number }>;
  /** Unit class centres, angle in degrees. */
  centres: Array<{ label: number; x: number; y: number; deg: number }>;
  /** The class each direction on the circle is assigned to: a label, or -1 for "none" (rejected). */
  ring: Array<{ deg: number; label: number }>;
  /** Fraction of the circle assigned to some class (1 for an argmax rule). */
  coverage: number;
  trainAccuracy: number;
  finalLoss: number;
  /** SphereFace2's universal threshold cos τ (r·g(τ) + b = 0); null for softmax heads (no threshold exists). */
  threshold: number | null;
  /** Balanced accuracy of "cos to a centre ≥ τ" over all (sample, class) pairs, at the learned τ. */
  accuracyAtThreshold: number | null;
  /** The best single threshold over those pairs, chosen after the fact, and its balanced accuracy. */
  bestThreshold: number;
  bestAccuracy: number;
  /** Spread (max − min) over classes of each class's own best threshold: 0 would mean one shared threshold. */
  perClassThresholdSpread: number;
}

export interface SoftmaxVsBinaryResult {
  settings: Required<Omit<SoftmaxVsBinaryOptions, "onProgress">>;
  heads: HeadOutcome[];
}

/** Trains each head on the same 2-D toy identities and describes its decision regions. */
export async function softmaxVsBinary(options: SoftmaxVsBinaryOptions = {}): Promise<SoftmaxVsBinaryResult> {
  const settings = {
    classes: options.classes ?? 5,
    perClass: options.perClass ?? 40,
    steps: options.steps ?? 400,
    lr: options.lr ?? 0.1,
    seed: options.seed ?? 1,
    heads: options.heads ?? {
      "CosFace (softmax, m 0.35)": { type: "cosface" },
      "SphereFace2-C (m 0.4)": { type: "sphereface2", variant: "C" },
    },
    ringPoints: options.ringPoints ?? 360,
  };
  const data = toyData({
    classes: settings.classes,
    perClass: settings.perClass,
    signalDim: 2,
    layout: "circle",
    seed: settings.seed,
  });
  const heads: HeadOutcome[] = [];
  for (const [name, head] of Object.entries(settings.heads)) {
    const model = await trainToy(data, {
      head,
      embedDim: 2,
      steps: settings.steps,
      lr: settings.lr,
      seed: settings.seed + 2,
      onStep: options.onProgress && ((step, steps, loss) => options.onProgress!(name, step, steps, loss)),
    });
    heads.push(describe2d(name, model, embed(model, data), data.labels, settings.ringPoints));
  }
  return { settings, heads };
}

function describe2d(
  name: string,
  model: ToyModel,
  emb: number[][],
  labels: number[],
  ringPoints: number,
): HeadOutcome {
  const threshold = modelThreshold(model);
  const { target, nonTarget } = centreCosines(model, emb, labels);
  const best = bestThreshold(target, nonTarget);
  const perClass = model.centres.map((_, k) => {
    const pos = emb.filter((_, i) => labels[i] === k).map((e) => dot(e, model.centres[k]));
    const neg = emb.filter((_, i) => labels[i] !== k).map((e) => dot(e, model.centres[k]));
    return bestThreshold(pos, neg).threshold;
  });
  const ring = Array.from({ length: ringPoints }, (_, i) => {
    const deg = (360 * i) / ringPoints;
    const u = [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
    const cos = model.centres.map((w) => dot(u, w));
    let label: number;
    if (threshold === null) {
      label = cos.indexOf(Math.max(...cos));
    } else {
      // K binary tests at one threshold; a direction accepted by two classes goes to the closer one.
      const accepted = cos.map((c, k) => [c, k]).filter(([c]) => c >= threshold);
      label = accepted.length ? accepted.reduce((a, b) => (b[0] > a[0] ? b : a))[1] : -1;
    }
    return { deg, label };
  });
  return {
    name,
    type: model.head.type,
    points: emb.map(([x, y], i) => ({ x, y, label: labels[i] })),
    centres: model.centres.map(([x, y], label) => ({ label, x, y, deg: (Math.atan2(y, x) * 180) / Math.PI })),
    ring,
    coverage: ring.filter((r) => r.label >= 0).length / ring.length,
    trainAccuracy: argmaxAccuracy(model, emb, labels),
    finalLoss: model.losses[model.losses.length - 1],
    threshold,
    accuracyAtThreshold: threshold === null ? null : balancedAccuracy(target, nonTarget, threshold),
    bestThreshold: best.threshold,
    bestAccuracy: best.accuracy,
    perClassThresholdSpread: Math.max(...perClass) - Math.min(...perClass),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Notebook 03: margin sweep

export interface MarginSweepOptions {
  /** Margins m of SphereFace2-C. */
  margins?: number[];
  /** Exponents t of g. */
  ts?: number[];
  classes?: number;
  perClass?: number;
  /** Unseen identities for open-set verification. */
  unseenClasses?: number;
  embedDim?: number;
  steps?: number;
  lr?: number;
  seed?: number;
  onProgress?: OnProgress;
}

/** One (m, t) run of {@link marginSweep}. */
export interface MarginRun {
  m: number;
  t: number;
  bias: number;
  /** Learned universal threshold cos τ (null: −b/r outside [−1, 1]). */
  threshold: number | null;
  finalLoss: number;
  trainAccuracy: number;
  /** Training cosines to centres: positives (own class) and negatives (other classes). */
  positiveMean: number;
  negativeMean: number;
  /** 5 % quantile of positives minus 95 % quantile of negatives: the empirical margin (cos units). */
  empiricalGap: number;
  /** The same gap after g (the space where the margin m acts): g(q05 pos) − g(q95 neg). */
  empiricalGapG: number;
  /** Open-set verification on unseen identities (pairs of embeddings). */
  verifyAtThreshold: number | null;
  verifyBest: number;
  verifyBestThreshold: number;
  /** Histogram-ready samples of the cosines (training pairs to centres; unseen pairs). */
  samples: Array<{ set: "train" | "unseen"; kind: "positive" | "negative"; cos: number }>;
}

export interface MarginSweepResult {
  settings: Required<Omit<MarginSweepOptions, "onProgress">>;
  runs: MarginRun[];
}

/** Trains SphereFace2-C for each (m, t) on the same identities and measures the margins it produced. */
export async function marginSweep(options: MarginSweepOptions = {}): Promise<MarginSweepResult> {
  const settings = {
    margins: options.margins ?? [0.1, 0.3, 0.5],
    ts: options.ts ?? [1, 3, 5],
    classes: options.classes ?? 20,
    perClass: options.perClass ?? 25,
    unseenClasses: options.unseenClasses ?? 20,
    embedDim: options.embedDim ?? 8,
    steps: options.steps ?? 200,
    lr: options.lr ?? 0.05,
    seed: options.seed ?? 1,
  };
  const dataSpec = { perClass: settings.perClass, signalDim: 8, seed: settings.seed };
  const train = toyData({ ...dataSpec, classes: settings.classes });
  const unseen = toyData({ ...dataSpec, classes: settings.unseenClasses, perClass: 10, firstClass: 10_000 });
  const runs: MarginRun[] = [];
  for (const t of settings.ts) {
    for (const m of settings.margins) {
      const name = `m ${m}, t ${t}`;
      const model = await trainToy(train, {
        head: { type: "sphereface2", variant: "C", m, t },
        embedDim: settings.embedDim,
        steps: settings.steps,
        lr: settings.lr,
        seed: settings.seed + 2,
        onStep: options.onProgress && ((step, steps, loss) => options.onProgress!(name, step, steps, loss)),
      });
      const emb = embed(model, train);
      const { target, nonTarget } = centreCosines(model, emb, train.labels);
      const pairs = verificationPairs(embed(model, unseen), unseen.labels, { seed: settings.seed + 3 });
      const threshold = modelThreshold(model);
      const best = bestThreshold(pairs.same, pairs.different);
      const q05 = quantile(target, 0.05);
      const q95 = quantile(nonTarget, 0.95);
      runs.push({
        m,
        t,
        bias: model.bias![0],
        threshold,
        finalLoss: model.losses[model.losses.length - 1],
        trainAccuracy: argmaxAccuracy(model, emb, train.labels),
        positiveMean: mean(target),
        negativeMean: mean(nonTarget),
        empiricalGap: q05 - q95,
        empiricalGapG: g(q05, t) - g(q95, t),
        verifyAtThreshold: threshold === null ? null : balancedAccuracy(pairs.same, pairs.different, threshold),
        verifyBest: best.accuracy,
        verifyBestThreshold: best.threshold,
        samples: [
          ...target.map((cos) => ({ set: "train" as const, kind: "positive" as const, cos })),
          ...thin(nonTarget, target.length * 2).map((cos) => ({
            set: "train" as const,
            kind: "negative" as const,
            cos,
          })),
          ...pairs.same.map((cos) => ({ set: "unseen" as const, kind: "positive" as const, cos })),
          ...pairs.different.map((cos) => ({ set: "unseen" as const, kind: "negative" as const, cos })),
        ],
      });
    }
  }
  return { settings, runs };
}

/** Every k-th value so that at most `max` remain (keeps histograms and cached JSON small). */
function thin(values: number[], max: number): number[] {
  const step = Math.max(1, Math.ceil(values.length / max));
  return values.filter((_, i) => i % step === 0);
}
