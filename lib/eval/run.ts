/**
 * An evaluation run: an image embedder (a trained kit model or a peer such as face-api) scored on a dataset's
 * protocols — LFW View 2 (10 folds) or View 1 test pairs, an OpenSphere pair list, and the LFW-derived IJB-style
 * and MegaFace-style protocols — written as JSON, a markdown table with both ACC protocols side by side, and ROC
 * figures.
 *
 * @example
 * ```ts
 * import { evaluatePairs } from "./run.ts";
 * const embedder = { name: "toy", embed: async (p: string) => new Float32Array([p.length % 2, 1]) };
 * const r = await evaluatePairs([{ a: "x.jpg", b: "yy.jpg", same: false }], embedder);
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import { renderSvg } from "../render/svg.ts";
import { markdownTable } from "../render/markdown.ts";
import { evaluateIjb, type IjbReport } from "./ijb.ts";
import { distractorArray, evaluateMegaface, type MegafaceResult } from "./megaface.ts";
import { rocCurve } from "./opensphere_metrics.ts";
import { buildProtocols, ijbFiles, type ProtocolIdentity } from "./protocol_files.ts";
import { type LabelledMetric, verificationTable } from "./verification.ts";

/** Anything that turns an image file into a unit-norm feature. */
export interface ImageEmbedder {
  readonly name: string;
  embed(path: string): Promise<Float32Array>;
}

/** A verification pair of image paths. */
export interface PathPairItem {
  a: string;
  b: string;
  same: boolean;
}

export interface PairEvaluation {
  pairs: number;
  images: number;
  cos: Float64Array;
  labels: Uint8Array;
  table: LabelledMetric[];
}

/** Embeds every distinct image once (in first-use order), with progress callbacks. */
export async function embedAll(
  paths: readonly string[],
  embedder: ImageEmbedder,
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, Float32Array>> {
  const unique = [...new Set(paths)];
  const out = new Map<string, Float32Array>();
  for (const [i, p] of unique.entries()) {
    out.set(p, await embedder.embed(p));
    onProgress?.(i + 1, unique.length);
  }
  return out;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
}

/**
 * Scores pairs by the cosine of their embeddings and reports both protocols (see verification.ts). Lists sorted
 * matched-then-mismatched (pairsDevTest.txt) need `balanceFolds` for a meaningful 10-fold row; pairs.txt is already
 * laid out fold by fold.
 */
export async function evaluatePairs(
  pairs: readonly PathPairItem[],
  embedder: ImageEmbedder,
  onProgress?: (done: number, total: number) => void,
  options: { balanceFolds?: boolean } = {},
): Promise<PairEvaluation> {
  const features = await embedAll(pairs.flatMap((p) => [p.a, p.b]), embedder, onProgress);
  const cos = Float64Array.from(pairs, (p) => cosine(features.get(p.a)!, features.get(p.b)!));
  const labels = Uint8Array.from(pairs, (p) => (p.same ? 1 : 0));
  const table = verificationTable(cos, labels, undefined, { balanceFolds: options.balanceFolds });
  return { pairs: pairs.length, images: features.size, cos, labels, table };
}

/** The IJB-style and MegaFace-style protocols on LFW-derived files (see protocol_files.ts). */
export async function evaluateTemplateProtocols(
  identities: readonly ProtocolIdentity[],
  landmarksOf: (image: string) => readonly number[],
  pathOf: (image: string) => string,
  embedder: ImageEmbedder,
  onProgress?: (done: number, total: number) => void,
): Promise<{ ijb: IjbReport; megaface: MegafaceResult; files: Record<string, string> }> {
  const p = buildProtocols(identities, landmarksOf);
  const f = p.files;
  const ijbImages = f["lfw_face_tid_mid.txt"].trim().split("\n").map((l) => l.split(" ")[0]);
  const probes = f["megaface_probes.txt"].trim().split("\n").map((l) => l.split(" "));
  const distractors = f["megaface_distractors.txt"].trim().split("\n");
  const all = [...ijbImages, ...probes.map(([img]) => img), ...distractors];
  const features = await embedAll(all.map(pathOf), embedder, onProgress);
  const featureOf = (img: string) => features.get(pathOf(img))!;
  const ijb = evaluateIjb(ijbFiles(f), featureOf);
  const dim = featureOf(distractors[0]).length;
  const names = new Map<string, number>();
  const probeSet = {
    features: Float32Array.from(probes.flatMap(([img]) => Array.from(featureOf(img)))),
    dim,
    identities: probes.map(([, name]) => names.get(name) ?? names.set(name, names.size).get(name)!),
  };
  const dist = Float32Array.from(distractors.flatMap((img) => Array.from(featureOf(img))));
  const scales = [10, 100, 1000, 10_000].filter((s) => s <= distractors.length);
  const megaface = await evaluateMegaface(probeSet, distractorArray(dist, dim), {
    scales: [...scales, distractors.length].filter((s, i, a) => a.indexOf(s) === i),
    far: 1e-4,
  });
  return { ijb, megaface, files: f };
}

/** The verification table as markdown: metric, protocol, value (± std for 10-fold). */
export function verificationMarkdown(table: readonly LabelledMetric[]): string {
  return markdownTable(
    ["metric", "protocol", "value (%)"],
    table.map((
      r,
    ) => [
      r.metric,
      r.protocol,
      r.std === undefined ? r.value.toFixed(3) : `${r.value.toFixed(3)} ± ${r.std.toFixed(3)}`,
    ]),
    ["left", "left", "right"],
  );
}

/** ROC figure (TPR against FPR, log-scaled FPR) of one or more scored lists. */
export function rocFigure(
  lists: ReadonlyArray<{ name: string; cos: ArrayLike<number>; labels: ArrayLike<number> }>,
  heading: string,
): string {
  const rows = lists.flatMap((l) => {
    const roc = rocCurve(l.cos, l.labels);
    return roc.fpr.map((fpr, i) => ({ series: l.name, fpr, tpr: roc.tpr[i] })).filter((r) => r.fpr > 0);
  });
  return renderSvg({
    heading,
    width: 560,
    height: 380,
    x: { type: "log", label: "false positive rate →", domain: [1e-4, 1] },
    y: { label: "↑ true positive rate", domain: [0, 1], grid: true },
    swatches: lists.length > 1 ? "line" : undefined,
    marks: [Plot.line(rows, { x: "fpr", y: "tpr", stroke: "series" }), Plot.ruleY([0])],
  });
}
