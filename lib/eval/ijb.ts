/**
 * IJB-B/C-style template evaluation on the real meta-file formats (shared/notes/protocols.md §4–6):
 *
 * - `ijbX_name_5pts_score.txt`: `name x1 y1 … x5 y5 faceness` (12 fields);
 * - `ijbX_face_tid_mid.txt`: `name template_id media_id`, same line order;
 * - `ijbX_template_pair_label.txt`: `tid1 tid2 label`;
 * - 1:N `*_1N_gallery_{S1,S2|G1,G2}.csv`, `*_1N_probe_mixed.csv`: a header, then rows whose columns 0 and 1 are
 *   TEMPLATE_ID and SUBJECT_ID (template ids repeat, one row per image).
 *
 * Template features follow insightface's `eval_ijbc.py` (flip-fused image features × faceness, mean per media,
 * sum over media, L2): OpenSphere's ICLR/v0 template is a positive multiple of it, so scores are identical.
 * `faceness: false` gives OpenSphere main (no detector score).
 *
 * 1:N is offered two ways, and every result says which:
 * - `merged` — OpenSphere's procedure: both galleries merged (so every probe is mated), rank-k over all probes,
 *   TPIR@FPIR with thr = the ⌈FPIR·#probes⌉-th largest non-mated (probe, gallery) score and TPIR = #{mated
 *   scores > thr}/#probes;
 * - `per-gallery` — the standard open-set protocol (the kit's default for reporting): each gallery on its own;
 *   probes whose subject is absent are non-mated searches; rank-k over mated probes; at FPIR f the threshold is the
 *   (⌊f·#non-mated⌋+1)-th largest non-mated top-1 score, and TPIR counts mated probes whose mate is ranked first with
 *   a score above it.
 *
 * @example
 * ```ts
 * import { parseTemplatePairs } from "./ijb.ts";
 * const pairs = parseTemplatePairs("1 2 1\n1 3 0\n", "pairs.txt"); // [{t1: 1, t2: 2, label: 1}, …]
 * ```
 * @module
 */
import { nearestFprTable } from "./insightface_metrics.ts";
import { openSphereMetrics } from "./opensphere_metrics.ts";

/** The 1:1 FAR targets of IJB tables. */
export const IJB_TAR_TARGETS = ["1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1"] as const;

export interface FaceRecord {
  name: string;
  /** Five (x, y) landmarks in pixels: eyes, nose tip, mouth corners. */
  landmarks: Array<[number, number]>;
  faceness: number;
}

export interface TemplateMedia {
  name: string;
  templateId: number;
  mediaId: number;
}

export interface TemplatePair {
  t1: number;
  t2: number;
  label: 0 | 1;
}

/** One template → subject row of a 1:N CSV. */
export interface TemplateSubject {
  templateId: number;
  subjectId: number;
}

/** Splits text into non-empty lines with 1-based line numbers (CRLF tolerated). */
function lines(text: string): Array<{ line: number; text: string }> {
  return text.split("\n").map((t, i) => ({ line: i + 1, text: t.replace(/\r$/, "").trim() }))
    .filter((l) => l.text.length > 0);
}

function parseNumber(field: string, file: string, line: number, what: string, integer = false): number {
  const v = Number(field);
  if (field === "" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new Error(`${file}:${line}: ${what} must be ${integer ? "an integer" : "a number"}, got "${field}"`);
  }
  return v;
}

/** Parses `name x1 y1 … x5 y5 faceness`. */
export function parseFaceScores(text: string, file: string): FaceRecord[] {
  return lines(text).map(({ line, text: t }) => {
    const f = t.split(/\s+/);
    if (f.length !== 12) {
      throw new Error(`${file}:${line}: expected 12 fields (name, 10 coordinates, faceness), got ${f.length}`);
    }
    const c = f.slice(1, 11).map((v, i) => parseNumber(v, file, line, `coordinate ${i + 1}`));
    return {
      name: f[0],
      landmarks: [0, 1, 2, 3, 4].map((k) => [c[2 * k], c[2 * k + 1]] as [number, number]),
      faceness: parseNumber(f[11], file, line, "faceness"),
    };
  });
}

/** Parses `name template_id media_id`. */
export function parseTemplateMedia(text: string, file: string): TemplateMedia[] {
  return lines(text).map(({ line, text: t }) => {
    const f = t.split(/\s+/);
    if (f.length !== 3) {
      throw new Error(`${file}:${line}: expected 3 fields (name template_id media_id), got ${f.length}`);
    }
    return {
      name: f[0],
      templateId: parseNumber(f[1], file, line, "template_id", true),
      mediaId: parseNumber(f[2], file, line, "media_id", true),
    };
  });
}

/** Parses `tid1 tid2 label`. */
export function parseTemplatePairs(text: string, file: string): TemplatePair[] {
  return lines(text).map(({ line, text: t }) => {
    const f = t.split(/\s+/);
    if (f.length !== 3) throw new Error(`${file}:${line}: expected 3 fields (tid1 tid2 label), got ${f.length}`);
    const label = parseNumber(f[2], file, line, "label", true);
    if (label !== 0 && label !== 1) throw new Error(`${file}:${line}: label must be 0 or 1, got ${label}`);
    return {
      t1: parseNumber(f[0], file, line, "tid1", true),
      t2: parseNumber(f[1], file, line, "tid2", true),
      label,
    };
  });
}

/** Parses a 1:N CSV (header line, then TEMPLATE_ID,SUBJECT_ID,…), de-duplicated on first occurrence. */
export function parseGalleryCsv(text: string, file: string): TemplateSubject[] {
  const all = lines(text);
  if (all.length === 0) throw new Error(`${file}: empty file (expected a header line)`);
  const seen = new Map<number, number>();
  const out: TemplateSubject[] = [];
  for (const { line, text: t } of all.slice(1)) {
    const f = t.split(",");
    if (f.length < 2) throw new Error(`${file}:${line}: expected TEMPLATE_ID,SUBJECT_ID,…; got "${t}"`);
    const templateId = parseNumber(f[0].trim(), file, line, "TEMPLATE_ID", true);
    const subjectId = parseNumber(f[1].trim(), file, line, "SUBJECT_ID", true);
    const known = seen.get(templateId);
    if (known === undefined) {
      seen.set(templateId, subjectId);
      out.push({ templateId, subjectId });
    } else if (known !== subjectId) {
      throw new Error(`${file}:${line}: template ${templateId} has subject ${subjectId}, earlier ${known}`);
    }
  }
  return out;
}

/** Per-template unit features, row-major, with the template ids in row order. */
export interface TemplateFeatures {
  ids: number[];
  index: Map<number, number>;
  features: Float32Array;
  dim: number;
}

/**
 * Aggregates image features into template features: g = feature × faceness (when `faceness` is on), mean per
 * (template, media), sum over the template's media, L2-normalise. `imageFeatures` rows follow `media` order.
 */
export function templateFeatures(
  imageFeatures: Float32Array,
  dim: number,
  media: readonly TemplateMedia[],
  options: { faceness?: readonly number[] } = {},
): TemplateFeatures {
  if (imageFeatures.length !== media.length * dim) {
    throw new Error(`templateFeatures: ${imageFeatures.length / dim} feature rows for ${media.length} images`);
  }
  const ids: number[] = [];
  const index = new Map<number, number>();
  // (template, media) → summed feature and count.
  const groups = new Map<string, { template: number; sum: Float64Array; count: number }>();
  media.forEach((m, i) => {
    if (!index.has(m.templateId)) {
      index.set(m.templateId, ids.length);
      ids.push(m.templateId);
    }
    const key = `${m.templateId}:${m.mediaId}`;
    let g = groups.get(key);
    if (!g) {
      g = { template: m.templateId, sum: new Float64Array(dim), count: 0 };
      groups.set(key, g);
    }
    const w = options.faceness ? options.faceness[i] : 1;
    for (let k = 0; k < dim; k++) g.sum[k] += w * imageFeatures[i * dim + k];
    g.count++;
  });
  const acc = new Float64Array(ids.length * dim);
  for (const g of groups.values()) {
    const row = index.get(g.template)!;
    for (let k = 0; k < dim; k++) acc[row * dim + k] += g.sum[k] / g.count;
  }
  const features = new Float32Array(ids.length * dim);
  for (let r = 0; r < ids.length; r++) {
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += acc[r * dim + k] ** 2;
    const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let k = 0; k < dim; k++) features[r * dim + k] = acc[r * dim + k] * inv;
  }
  return { ids, index, features, dim };
}

function dot(t: TemplateFeatures, a: number, b: number): number {
  let s = 0;
  const d = t.dim;
  for (let k = 0; k < d; k++) s += t.features[a * d + k] * t.features[b * d + k];
  return s;
}

function rowOf(t: TemplateFeatures, id: number, where: string): number {
  const r = t.index.get(id);
  if (r === undefined) throw new Error(`${where}: template ${id} has no images in the template/media file`);
  return r;
}

/** 1:1 verification: template-pair scores, OpenSphere's interpolated TAR@FAR and insightface's nearest-FPR table. */
export function verify1to1(
  templates: TemplateFeatures,
  pairs: readonly TemplatePair[],
  targets: readonly string[] = IJB_TAR_TARGETS,
): {
  scores: Float64Array;
  labels: Uint8Array;
  openSphere: Record<string, number>;
  insightface: Record<string, number>;
} {
  const scores = new Float64Array(pairs.length);
  const labels = new Uint8Array(pairs.length);
  pairs.forEach((p, i) => {
    scores[i] = dot(templates, rowOf(templates, p.t1, "pair"), rowOf(templates, p.t2, "pair"));
    labels[i] = p.label;
  });
  return {
    scores,
    labels,
    openSphere: openSphereMetrics(scores, labels, targets),
    insightface: nearestFprTable(scores, labels, targets),
  };
}

export interface IdentificationResult {
  /** `merged` (OpenSphere) or `per-gallery` (open-set, one gallery). */
  protocol: string;
  gallery: string;
  probes: number;
  matedProbes: number;
  /** Percent, keyed `rank-1`, `rank-5`, `rank-10`. */
  ranks: Record<string, number>;
  /** Percent, keyed `TPIR@FPIR=1e-2`, …. */
  tpir: Record<string, number>;
}

function scoreMatrix(t: TemplateFeatures, probes: readonly TemplateSubject[], gallery: readonly TemplateSubject[]) {
  const g = gallery.map((x) => rowOf(t, x.templateId, "gallery"));
  return probes.map((p) => {
    const r = rowOf(t, p.templateId, "probe");
    return Float64Array.from(g, (gr) => dot(t, r, gr));
  });
}

/** The rank of the best mated score among a probe's scores (1 = first); Infinity when unmated. */
function mateRank(scores: Float64Array, gallery: readonly TemplateSubject[], subject: number): number {
  let best = -Infinity;
  for (let j = 0; j < gallery.length; j++) if (gallery[j].subjectId === subject) best = Math.max(best, scores[j]);
  if (best === -Infinity) return Infinity;
  let above = 0;
  for (let j = 0; j < scores.length; j++) if (gallery[j].subjectId !== subject && scores[j] > best) above++;
  return above + 1;
}

/** OpenSphere's merged-gallery 1:N (see the module doc). */
export function identifyMerged(
  templates: TemplateFeatures,
  probes: readonly TemplateSubject[],
  galleries: ReadonlyArray<readonly TemplateSubject[]>,
  fpirs: readonly number[] = [1e-2, 1e-1],
): IdentificationResult {
  const seen = new Set<number>();
  const gallery = galleries.flat().filter((g) => (seen.has(g.templateId) ? false : (seen.add(g.templateId), true)));
  const S = scoreMatrix(templates, probes, gallery);
  const ranks: Record<string, number> = {};
  const r = probes.map((p, i) => mateRank(S[i], gallery, p.subjectId));
  for (const k of [1, 5, 10]) ranks[`rank-${k}`] = (100 * r.filter((x) => x <= k).length) / probes.length;
  const nonMated: number[] = [];
  const mated: number[] = [];
  probes.forEach((p, i) => gallery.forEach((g, j) => (g.subjectId === p.subjectId ? mated : nonMated).push(S[i][j])));
  nonMated.sort((a, b) => b - a);
  const tpir: Record<string, number> = {};
  for (const f of fpirs) {
    const K = Math.ceil(f * probes.length);
    const thr = nonMated[Math.min(K, nonMated.length) - 1];
    tpir[`TPIR@FPIR=${f}`] = (100 * mated.filter((s) => s > thr).length) / probes.length;
  }
  return {
    protocol: "merged (OpenSphere)",
    gallery: "merged",
    probes: probes.length,
    matedProbes: probes.filter((_, i) => r[i] !== Infinity).length,
    ranks,
    tpir: relabel(tpir),
  };
}

/** The standard open-set 1:N on one gallery (see the module doc). */
export function identifyPerGallery(
  templates: TemplateFeatures,
  probes: readonly TemplateSubject[],
  gallery: readonly TemplateSubject[],
  name: string,
  fpirs: readonly number[] = [1e-2, 1e-1],
): IdentificationResult {
  const S = scoreMatrix(templates, probes, gallery);
  const ranks: Record<string, number> = {};
  const rank = probes.map((p, i) => mateRank(S[i], gallery, p.subjectId));
  const matedIdx = probes.map((_, i) => i).filter((i) => rank[i] !== Infinity);
  const nonMatedTop = probes.map((_, i) => i).filter((i) => rank[i] === Infinity)
    .map((i) => S[i].reduce((m, v) => Math.max(m, v), -Infinity)).sort((a, b) => b - a);
  for (const k of [1, 5, 10]) {
    ranks[`rank-${k}`] = matedIdx.length ? (100 * matedIdx.filter((i) => rank[i] <= k).length) / matedIdx.length : NaN;
  }
  const tpir: Record<string, number> = {};
  for (const f of fpirs) {
    let value = NaN;
    if (nonMatedTop.length && matedIdx.length) {
      const k = Math.floor(f * nonMatedTop.length); // number of non-mated searches allowed above the threshold
      const thr = k < nonMatedTop.length ? nonMatedTop[k] : -Infinity;
      const hits = matedIdx.filter((i) => {
        if (rank[i] !== 1) return false;
        const mate = Math.max(...gallery.map((g, j) => (g.subjectId === probes[i].subjectId ? S[i][j] : -Infinity)));
        return mate > thr;
      });
      value = (100 * hits.length) / matedIdx.length;
    }
    tpir[`TPIR@FPIR=${f}`] = value;
  }
  return {
    protocol: "per-gallery (open-set)",
    gallery: name,
    probes: probes.length,
    matedProbes: matedIdx.length,
    ranks,
    tpir: relabel(tpir),
  };
}

/** Keys `TPIR@FPIR=0.01` → `TPIR@FPIR=1e-2`. */
function relabel(table: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(table)) {
    const f = Number(k.split("=")[1]);
    const [m, e] = f.toExponential().split("e");
    out[`TPIR@FPIR=${m}e${Number(e)}`] = v;
  }
  return out;
}

/** Everything the IJB-style protocol reports for one feature extractor. */
export interface IjbReport {
  verification: { openSphere: Record<string, number>; insightface: Record<string, number>; pairs: number };
  identification: IdentificationResult[];
}

/**
 * Runs the whole IJB-style protocol from meta-file texts: template features (faceness weighting on unless
 * `faceness: false`), 1:1 TAR@FAR, 1:N per gallery (G1, G2) and merged. `featureOf` gives the (flip-fused, not
 * normalised) feature of an image name.
 */
export function evaluateIjb(
  files: { faces: string; media: string; pairs: string; galleries: Array<[string, string]>; probes: string },
  featureOf: (name: string) => Float32Array,
  options: { faceness?: boolean; names?: { faces: string; media: string; pairs: string; probes: string } } = {},
): IjbReport {
  const n = options.names ?? { faces: "5pts", media: "tid_mid", pairs: "pairs", probes: "probes" };
  const faces = parseFaceScores(files.faces, n.faces);
  const media = parseTemplateMedia(files.media, n.media);
  if (faces.length !== media.length) {
    throw new Error(`${n.faces} has ${faces.length} lines but ${n.media} has ${media.length}; they must align`);
  }
  faces.forEach((f, i) => {
    if (f.name !== media[i].name) {
      throw new Error(`${n.media}:${i + 1}: image ${media[i].name} ≠ ${f.name} in ${n.faces}`);
    }
  });
  const first = featureOf(media[0].name);
  const dim = first.length;
  const features = new Float32Array(media.length * dim);
  media.forEach((m, i) => features.set(i === 0 ? first : featureOf(m.name), i * dim));
  const templates = templateFeatures(
    features,
    dim,
    media,
    options.faceness === false ? {} : { faceness: faces.map((f) => f.faceness) },
  );
  const v = verify1to1(templates, parseTemplatePairs(files.pairs, n.pairs));
  const probes = parseGalleryCsv(files.probes, n.probes);
  const galleries = files.galleries.map(([name, text]) => ({ name, list: parseGalleryCsv(text, name) }));
  return {
    verification: { openSphere: v.openSphere, insightface: v.insightface, pairs: v.scores.length },
    identification: [
      ...galleries.map((g) => identifyPerGallery(templates, probes, g.list, g.name)),
      identifyMerged(templates, probes, galleries.map((g) => g.list)),
    ],
  };
}
