/**
 * LFW-derived protocol files in the real IJB and MegaFace formats, so that the template and distractor protocols
 * run end to end on data we have (the real IJB-B/C and MegaFace sets cannot be obtained here; users who have
 * them point the same code at their files).
 *
 * From identities with their image lists (e.g. LFW's people.txt):
 * - **IJB-style** (identities with ≥ 4 images): each identity's images are split into two templates (first half,
 *   second half); consecutive images pair up into one media id, as video frames would. 1:1 pairs: the two
 *   templates of each identity (genuine) and, per identity, `impostorsPerIdentity` seeded cross-identity pairs.
 *   1:N: the identities are dealt alternately into galleries G1 and G2 (first template); the probes are every
 *   identity's second template plus one template per identity with 2–3 images (never in a gallery), so each
 *   gallery sees mated and non-mated searches.
 * - **MegaFace-style**: probes = identities with ≥ 4 images (up to `maxProbeImages` each); distractors = images of
 *   identities with exactly one image (disjoint from the probes by construction).
 *
 * Image names in the meta files are the dataset-relative paths (`Name/Name_0001.jpg`); landmarks come from the
 * dataset's landmark file and faceness is 1.
 *
 * @example
 * ```ts
 * import { buildProtocols } from "./protocol_files.ts";
 * const p = buildProtocols([{ name: "A", images: ["A/1.jpg", "A/2.jpg", "A/3.jpg", "A/4.jpg"] }], () => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
 * // p.files["lfw_face_tid_mid.txt"] starts "A/1.jpg 1 1"
 * ```
 * @module
 */
import { mulberry32 } from "../random/mulberry32.ts";

export interface ProtocolIdentity {
  name: string;
  /** Dataset-relative image paths. */
  images: string[];
}

export interface ProtocolOptions {
  /** File-name prefix, like `ijbc` in `ijbc_face_tid_mid.txt` (default `lfw`). */
  prefix?: string;
  impostorsPerIdentity?: number;
  maxProbeImages?: number;
  seed?: number;
}

export interface ProtocolFiles {
  /** File name → content, ready to write under `meta/` (IJB) or the protocol folder (MegaFace lists). */
  files: Record<string, string>;
  counts: {
    templates: number;
    genuinePairs: number;
    impostorPairs: number;
    galleryG1: number;
    galleryG2: number;
    probes: number;
    megafaceProbeImages: number;
    megafaceProbeIdentities: number;
    megafaceDistractors: number;
  };
}

/** Builds the IJB-format meta files and the MegaFace-style lists (see the module doc). */
export function buildProtocols(
  identities: readonly ProtocolIdentity[],
  landmarksOf: (image: string) => readonly number[],
  options: ProtocolOptions = {},
): ProtocolFiles {
  const prefix = options.prefix ?? "lfw";
  const rand = mulberry32(options.seed ?? 2022);
  const impostorsPer = options.impostorsPerIdentity ?? 10;
  const maxProbe = options.maxProbeImages ?? 10;

  const rich = identities.filter((i) => i.images.length >= 4);
  const few = identities.filter((i) => i.images.length >= 2 && i.images.length < 4);
  if (rich.length < 2) throw new Error(`protocols need ≥ 2 identities with ≥ 4 images, got ${rich.length}`);

  const faceLines: string[] = [];
  const tidLines: string[] = [];
  let templateId = 0;
  let mediaId = 0;
  const addTemplate = (images: readonly string[]): number => {
    const tid = ++templateId;
    images.forEach((img, k) => {
      if (k % 2 === 0) mediaId++;
      const lm = landmarksOf(img);
      if (lm.length !== 10) throw new Error(`landmarks of ${img}: expected 10 values, got ${lm.length}`);
      faceLines.push(`${img} ${lm.map((v) => Number(v.toFixed(3))).join(" ")} 1`);
      tidLines.push(`${img} ${tid} ${mediaId}`);
    });
    return tid;
  };

  const subject = new Map<number, number>(); // template → subject (1-based identity number)
  const first: number[] = [];
  const second: number[] = [];
  rich.forEach((identity, i) => {
    const half = Math.ceil(identity.images.length / 2);
    const a = addTemplate(identity.images.slice(0, half));
    const b = addTemplate(identity.images.slice(half));
    subject.set(a, i + 1).set(b, i + 1);
    first.push(a);
    second.push(b);
  });
  const extraProbes = few.map((identity, i) => {
    const t = addTemplate(identity.images);
    subject.set(t, rich.length + i + 1);
    return t;
  });

  const pairLines: string[] = [];
  rich.forEach((_, i) => pairLines.push(`${first[i]} ${second[i]} 1`));
  let impostors = 0;
  rich.forEach((_, i) => {
    for (let k = 0; k < impostorsPer; k++) {
      let j = Math.floor(rand() * (rich.length - 1));
      if (j >= i) j++;
      pairLines.push(`${first[i]} ${second[j]} 0`);
      impostors++;
    }
  });

  const csv = (templates: number[]) =>
    ["TEMPLATE_ID,SUBJECT_ID,FILENAME", ...templates.map((t) => `${t},${subject.get(t)},template_${t}`)].join("\n") +
    "\n";
  const g1 = first.filter((_, i) => i % 2 === 0);
  const g2 = first.filter((_, i) => i % 2 === 1);
  const probes = [...second, ...extraProbes];

  const megaProbes: string[] = [];
  for (const identity of rich) {
    for (const img of identity.images.slice(0, maxProbe)) megaProbes.push(`${img} ${identity.name}`);
  }
  const distractors = identities.filter((i) => i.images.length === 1).map((i) => i.images[0]);

  const files: Record<string, string> = {
    [`${prefix}_name_5pts_score.txt`]: faceLines.join("\n") + "\n",
    [`${prefix}_face_tid_mid.txt`]: tidLines.join("\n") + "\n",
    [`${prefix}_template_pair_label.txt`]: pairLines.join("\n") + "\n",
    [`${prefix}_1N_gallery_G1.csv`]: csv(g1),
    [`${prefix}_1N_gallery_G2.csv`]: csv(g2),
    [`${prefix}_1N_probe_mixed.csv`]: csv(probes),
    "megaface_probes.txt": megaProbes.join("\n") + "\n",
    "megaface_distractors.txt": distractors.join("\n") + "\n",
  };
  return {
    files,
    counts: {
      templates: templateId,
      genuinePairs: rich.length,
      impostorPairs: impostors,
      galleryG1: g1.length,
      galleryG2: g2.length,
      probes: probes.length,
      megafaceProbeImages: megaProbes.length,
      megafaceProbeIdentities: rich.length,
      megafaceDistractors: distractors.length,
    },
  };
}

/** The generated IJB-style meta files as `evaluateIjb`'s input (see ijb.ts). */
export function ijbFiles(files: Record<string, string>, prefix = "lfw"): {
  faces: string;
  media: string;
  pairs: string;
  galleries: Array<[string, string]>;
  probes: string;
} {
  const get = (name: string) => {
    const text = files[`${prefix}_${name}`];
    if (text === undefined) throw new Error(`protocol files: ${prefix}_${name} is missing`);
    return text;
  };
  return {
    faces: get("name_5pts_score.txt"),
    media: get("face_tid_mid.txt"),
    pairs: get("template_pair_label.txt"),
    galleries: [["G1", get("1N_gallery_G1.csv")], ["G2", get("1N_gallery_G2.csv")]],
    probes: get("1N_probe_mixed.csv"),
  };
}
