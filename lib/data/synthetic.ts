/**
 * The kit's embedded default dataset: deterministic synthetic faces (no download). Each identity is a facesjs
 * face (head shape, eyes, brows, nose, mouth, ears, hair style and colour, skin tone, facial hair…) drawn from a
 * seeded PRNG; each image of it varies expression (mouth, eye and brow angles), glasses, clothing (jersey and
 * colours), pose (roll, scale, shift), a cluttered background (gradient and random shapes), an occluder (35 % of
 * images), the camera (40 % greyscale through random channel weights, otherwise any hue rotation, saturation and
 * white balance; a random tone curve on all), lighting (a directional gradient and exposure), sensor noise and the
 * landmark detector's error, and is rendered to pixels with resvg. The result is written in the LFW layout
 * (images, people/pairs files for View 1 and View 2, 5-point landmarks in the 250-frame), so every later step
 * treats it like real LFW.
 *
 * Why so much per-image variation: with identity-constant colours and plain backgrounds, skin and hair colour
 * alone identify a face, and a random-initialised network (whose features are mostly colour and brightness
 * statistics) verified held-out pairs at ~84 %, above a briefly trained one. Now colour and brightness carry no
 * identity, and what does (face and feature shapes, hair style, facial hair) has to be learnt: a random network
 * is near chance (~60 % best-threshold ACC on View 1) and training is what makes the difference.
 *
 * Identity i and image j of it depend only on (seed, i, j), so a larger set extends a smaller one.
 *
 * @example
 * ```ts
 * import { writeSyntheticDataset } from "./synthetic.ts";
 * await writeSyntheticDataset("data/cache/synthetic", { identities: 50, imagesPerIdentity: 4, folds: 2, pairsPerFold: 20 });
 * ```
 * @module
 */
import { Resvg } from "@resvg/resvg-js";
import { type FaceConfig, faceToSvgString, generate } from "facesjs";
import { dirname, join } from "node:path";
import { encodeJpeg, type RgbImage } from "./image.ts";
import { formatLandmarkFile, LFW_LANDMARK_FRAME } from "./landmarks.ts";
import { type ImageRef, lfwRelativePath } from "./lfw.ts";
import { Progress } from "../cli/progress.ts";
import { writeDirAtomic, writeFileIn } from "../fs/write.ts";
import { mulberry32 } from "../random/mulberry32.ts";

/** A 32-bit seed mixed from several integers (so streams for (seed, identity, image) are independent). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** facesjs has no seed option: swap `Math.random` for a seeded PRNG around `generate()`. */
export function syntheticIdentity(seed: number, identity: number): FaceConfig {
  const saved = Math.random;
  Math.random = mulberry32(mixSeed(seed, identity, 0x1d));
  try {
    const face = generate();
    // Hats hide the hair and change the outline wholesale: keep them off; glasses vary per image instead.
    face.accessories.id = "none";
    face.glasses.id = "none";
    return face;
  } finally {
    Math.random = saved;
  }
}

// Where facesjs draws the five landmarks in its 400×600 canvas (display.js feature positions; mouth corners
// about 32 px either side of the mouth centre, nose tip just below the nose centre).
const CANON: [number, number][] = [[140, 310], [260, 310], [200, 385], [168, 440], [232, 440]];
// The frame cut from the canvas: head and a little shoulder, eyes at ~45 % height, LFW-like margins.
const VIEW = { x: -20, y: 110, w: 440, h: 440 };
const MOUTHS = ["mouth", "mouth2", "mouth3", "smile", "smile2", "smile-closed", "straight", "closed", "side"];
const GLASSES = ["glasses1-primary", "glasses2-black", "glasses2-primary"];
// Every facesjs jersey (all unisex): clothing is drawn per image.
const JERSEYS = [
  ...["baseball", "baseball2", "baseball3", "baseball4", "football", "football2", "football3", "football4"],
  ...["football5", "hockey", "hockey2", "hockey3", "hockey4", "jersey", "jersey2", "jersey3", "jersey4", "jersey5"],
];

/** One rendered image and its landmarks in its own pixel frame. */
export interface SyntheticImage {
  image: RgbImage;
  landmarks: number[];
}

/** A 3×3 row-major colour matrix applied to linear-ish RGB in [0, 1]. */
type Mat3 = [number, number, number, number, number, number, number, number, number];

const mul3 = (a: Mat3, b: Mat3): Mat3 => {
  const o = new Array<number>(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) o[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  }
  return o;
};
/** Luminance-preserving hue rotation (the SVG/CSS `hueRotate` matrix). */
function hueRotate(deg: number): Mat3 {
  const a = Math.cos((deg * Math.PI) / 180), b = Math.sin((deg * Math.PI) / 180);
  return [
    0.213 + a * 0.787 - b * 0.213,
    0.715 - a * 0.715 - b * 0.715,
    0.072 - a * 0.072 + b * 0.928,
    0.213 - a * 0.213 + b * 0.143,
    0.715 + a * 0.285 + b * 0.14,
    0.072 - a * 0.072 - b * 0.283,
    0.213 - a * 0.213 - b * 0.787,
    0.715 - a * 0.715 + b * 0.715,
    0.072 + a * 0.928 + b * 0.072,
  ];
}
/** Saturation scaling about luminance (the SVG/CSS `saturate` matrix); 0 is grey. */
function saturate(s: number): Mat3 {
  return [
    0.213 + 0.787 * s,
    0.715 - 0.715 * s,
    0.072 - 0.072 * s,
    0.213 - 0.213 * s,
    0.715 + 0.285 * s,
    0.072 - 0.072 * s,
    0.213 - 0.213 * s,
    0.715 - 0.715 * s,
    0.072 + 0.928 * s,
  ];
}

const hex = (rng: () => number) => `#${Math.floor(rng() * 0x1000000).toString(16).padStart(6, "0")}`;

/**
 * Per-image clutter behind the face (SVG in canvas units, covering the view): a two-colour linear gradient at a
 * random angle and 2–5 random translucent shapes, so the background carries no identity and no fixed layout.
 */
function backgroundSvg(rng: () => number): string {
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng();
  const { x, y, w, h } = VIEW;
  let out = `<defs><linearGradient id="sfbg" gradientTransform="rotate(${u(0, 360).toFixed(1)} 0.5 0.5)">` +
    `<stop offset="0" stop-color="${hex(rng)}"/><stop offset="1" stop-color="${hex(rng)}"/></linearGradient></defs>` +
    `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="url(#sfbg)"/>`;
  const shapes = 2 + Math.floor(rng() * 4);
  for (let k = 0; k < shapes; k++) {
    const cx = u(x, x + w), cy = u(y, y + h), rx = u(20, 140), ry = u(20, 140), op = u(0.4, 1).toFixed(2);
    out += rng() < 0.5
      ? `<ellipse cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" rx="${rx.toFixed(1)}" ry="${ry.toFixed(1)}" fill="${
        hex(rng)
      }" opacity="${op}"/>`
      : `<rect x="${(cx - rx).toFixed(1)}" y="${(cy - ry).toFixed(1)}" width="${(2 * rx).toFixed(1)}" height="${
        (2 * ry).toFixed(1)
      }" fill="${hex(rng)}" opacity="${op}" transform="rotate(${u(0, 90).toFixed(1)} ${cx.toFixed(1)} ${
        cy.toFixed(1)
      })"/>`;
  }
  return out;
}

/**
 * An occluder over part of the face with probability 0.35 (a hand, a microphone, a scarf, a caption: an opaque
 * ellipse or bar of a random colour), in canvas units; empty otherwise.
 */
function occluderSvg(rng: () => number): string {
  if (rng() >= 0.35) return "";
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng();
  // Anywhere on the face box (eyes ≈ y 310, mouth ≈ y 440), never larger than about a quarter of it.
  const cx = u(110, 290), cy = u(260, 500), rx = u(25, 70), ry = u(20, 55);
  return rng() < 0.5
    ? `<ellipse cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" rx="${rx.toFixed(1)}" ry="${ry.toFixed(1)}" fill="${
      hex(rng)
    }"/>`
    : `<rect x="${(cx - rx).toFixed(1)}" y="${(cy - ry / 2).toFixed(1)}" width="${(2 * rx).toFixed(1)}" height="${
      ry.toFixed(1)
    }" fill="${hex(rng)}" transform="rotate(${u(-30, 30).toFixed(1)} ${cx.toFixed(1)} ${cy.toFixed(1)})"/>`;
}

/**
 * The per-image photometric transform (a "camera"): 40 % of images are greyscale through random channel weights
 * (so skin, hair and background map to unrelated grey levels), the rest get a random hue rotation (any angle),
 * saturation 0.3–1.6 and white balance (channel gains 0.75–1.25); then every image gets a random monotone tone
 * curve (gamma e^±0.8, contrast 0.6–1.4, brightness ±0.15). Together they leave skin and hair colour and
 * brightness useless as identity cues, while shapes, edges and layout (what identity is made of here) survive.
 */
function photometric(rng: () => number): (r: number, g: number, b: number, out: Float32Array) => void {
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng();
  let m: Mat3;
  if (rng() < 0.4) {
    const w = [u(0.05, 1), u(0.05, 1), u(0.05, 1)], s = w[0] + w[1] + w[2];
    m = [w[0] / s, w[1] / s, w[2] / s, w[0] / s, w[1] / s, w[2] / s, w[0] / s, w[1] / s, w[2] / s];
  } else {
    const gains: Mat3 = [u(0.75, 1.25), 0, 0, 0, u(0.75, 1.25), 0, 0, 0, u(0.75, 1.25)];
    m = mul3(gains, mul3(saturate(u(0.3, 1.6)), hueRotate(u(-180, 180))));
  }
  const gamma = Math.exp(u(-0.8, 0.8)), contrast = u(0.6, 1.4), brightness = u(-0.15, 0.15);
  const tone = (v: number) => {
    const c = v < 0 ? 0 : v > 1 ? 1 : v;
    return (Math.pow(c, gamma) - 0.5) * contrast + 0.5 + brightness;
  };
  return (r, g, b, out) => {
    out[0] = tone(m[0] * r + m[1] * g + m[2] * b);
    out[1] = tone(m[3] * r + m[4] * g + m[5] * b);
    out[2] = tone(m[6] * r + m[7] * g + m[8] * b);
  };
}

/**
 * Renders image `index` (1-based) of an identity at `size × size`. The identity (face shape, features, hair
 * style) is fixed; everything a photo of the same person changes is drawn per image: expression, glasses,
 * clothing, pose, background clutter, an occluder, the camera's colour response and tone curve, lighting,
 * sensor noise, and the landmark detector's error (the returned landmarks are jittered, so alignment is not
 * perfect). The variation is there so that a random-initialised network, which mostly sees colour and
 * brightness, is near chance on the pairs while a trained one can still tell identities apart.
 */
export function renderSyntheticImage(
  face: FaceConfig,
  seed: number,
  identity: number,
  index: number,
  size: number,
): SyntheticImage {
  const rng = mulberry32(mixSeed(seed, identity, index, 0x2e));
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng();
  const gauss = () => (rng() + rng() + rng() - 1.5) * 2; // sum of uniforms ≈ normal, sd 1
  const f = structuredClone(face);
  // Expression: facesjs overrides mutate the object, hence the clone above.
  if (rng() < 0.5) f.mouth.id = MOUTHS[Math.floor(rng() * MOUTHS.length)];
  f.eye.angle += u(-4, 4);
  f.eyebrow.angle += u(-6, 6);
  if (rng() < 0.25) f.glasses.id = GLASSES[Math.floor(rng() * GLASSES.length)];
  // Clothing changes from photo to photo.
  f.jersey.id = JERSEYS[Math.floor(rng() * JERSEYS.length)];
  f.teamColors = [hex(rng), hex(rng), hex(rng)];
  // Pose: roll about the face centre, scale, shift (canvas units).
  const roll = u(-15, 15), scale = u(0.85, 1.15), tx = u(-20, 20), ty = u(-16, 16);
  const cx = 200, cy = 370;
  const transform = `translate(${tx + cx} ${ty + cy}) rotate(${roll}) scale(${scale}) translate(${-cx} ${-cy})`;
  const background = backgroundSvg(rng), occluder = occluderSvg(rng);
  const svg = faceToSvgString(f)
    .replace(/viewBox="[^"]*"/, `viewBox="${VIEW.x} ${VIEW.y} ${VIEW.w} ${VIEW.h}"`)
    .replace(/ width="100%" height="100%"/, "")
    .replace(/(<svg[^>]*>)/, `$1${background}<g transform="${transform}">`)
    .replace(/<\/svg>\s*$/, `</g>${occluder}</svg>`);
  const rendered = new Resvg(svg, { fitTo: { mode: "width", value: size }, background: "rgb(128,128,128)" }).render();
  const rgba = rendered.pixels;
  const camera = photometric(rng);
  // Lighting: exposure × a linear gradient across a random direction; then Gaussian-ish sensor noise.
  const exposure = u(0.7, 1.2), strength = u(0, 0.6), dir = u(0, 2 * Math.PI), sigma = u(2, 12);
  const dx = Math.cos(dir), dy = Math.sin(dir);
  const data = new Uint8Array(size * size * 3);
  const px = new Float32Array(3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const g = exposure * (1 + strength * ((x / size - 0.5) * dx + (y / size - 0.5) * dy));
      const o = (y * size + x) * 4;
      camera(rgba[o] / 255, rgba[o + 1] / 255, rgba[o + 2] / 255, px);
      for (let c = 0; c < 3; c++) {
        const v = px[c] * 255 * g + sigma * gauss();
        data[(y * size + x) * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
      }
    }
  }
  const rad = (roll * Math.PI) / 180, cos = Math.cos(rad), sin = Math.sin(rad);
  // Landmark detector error: σ = 1.2 % of the frame per coordinate (≈ 4 % of the inter-ocular distance).
  const jitter = 0.012 * size;
  const landmarks = CANON.flatMap(([px, py]) => {
    const qx = (px - cx) * scale, qy = (py - cy) * scale;
    const X = cos * qx - sin * qy + cx + tx, Y = sin * qx + cos * qy + cy + ty;
    // Canvas → pixel centres of the size×size frame.
    return [
      ((X - VIEW.x) / VIEW.w) * size - 0.5 + jitter * gauss(),
      ((Y - VIEW.y) / VIEW.h) * size - 0.5 + jitter * gauss(),
    ];
  });
  return { image: { width: size, height: size, data }, landmarks };
}

/**
 * The embedded default set: 200 identities × 6 images (140 train / 60 test identities in View 1), 500 matched + 500
 * mismatched View 1 test pairs.
 */
export const SYNTHETIC_DEFAULTS = { identities: 200, imagesPerIdentity: 6, testPairs: 500 } as const;

/** Generation parameters (all have defaults small enough to write in well under a minute). */
export interface SyntheticOptions {
  identities?: number;
  imagesPerIdentity?: number;
  /** Frame size in pixels (square); default 64. */
  size?: number;
  seed?: number;
  /** View 2 folds (default 10) and matched = mismatched pairs per fold (default 50). */
  folds?: number;
  pairsPerFold?: number;
  /**
   * Matched = mismatched pairs of View 1's test list (`pairsDevTest.txt`); default 500, or fewer when the test
   * identities cannot make that many. A large set needs more to resolve accuracies near 100 % (1,000 pairs: ±0.3 pp
   * at 99 %). Drawn last from the split's PRNG, so it changes no image and no other list.
   */
  testPairs?: number;
  quiet?: boolean;
}

/** What was written. */
export interface SyntheticSummary {
  dir: string;
  identities: number;
  images: number;
  size: number;
  seed: number;
  folds: number;
  pairsPerFold: number;
  view1: { trainPeople: number; testPeople: number; trainPairs: number; testPairs: number };
  seconds: number;
}

const nameOf = (i: number) => `Face_${String(i + 1).padStart(5, "0")}`;

/** A shuffled copy (Fisher–Yates with the given PRNG). */
function shuffled<T>(items: readonly T[], rng: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * `n` distinct matched and `n` distinct mismatched pairs among `people` (each with `m` images), or an error saying
 * how many are possible.
 */
export function samplePairs(
  people: readonly string[],
  m: number,
  n: number,
  rng: () => number,
  what: string,
): [string[], string[]] {
  const maxMatched = people.length * (m * (m - 1)) / 2;
  if (n > maxMatched || people.length < 2) {
    throw new Error(
      `${what}: ${n} matched pairs requested but only ${maxMatched} exist among ${people.length} people × ${m} images`,
    );
  }
  const matched = new Set<string>(), mismatched = new Set<string>();
  const pick = () => Math.floor(rng() * m) + 1;
  while (matched.size < n) {
    const p = people[Math.floor(rng() * people.length)];
    let a = pick(), b = pick();
    if (a === b) continue;
    if (a > b) [a, b] = [b, a];
    matched.add(`${p}\t${a}\t${b}`);
  }
  while (mismatched.size < n) {
    let i = Math.floor(rng() * people.length), j = Math.floor(rng() * people.length);
    if (i === j) continue;
    if (people[i] > people[j]) [i, j] = [j, i];
    mismatched.add(`${people[i]}\t${pick()}\t${people[j]}\t${pick()}`);
  }
  const order = (s: Set<string>) => [...s].sort();
  return [order(matched), order(mismatched)];
}

/** Generation parameters with their defaults filled in and checked (errors name the flag). */
export function syntheticParams(options: SyntheticOptions = {}): Required<Omit<SyntheticOptions, "quiet">> {
  const n = options.identities ?? SYNTHETIC_DEFAULTS.identities;
  const m = options.imagesPerIdentity ?? SYNTHETIC_DEFAULTS.imagesPerIdentity, size = options.size ?? 64;
  const seed = options.seed ?? 1, folds = options.folds ?? 10, perFold = options.pairsPerFold ?? 50;
  const testPairs = options.testPairs ?? SYNTHETIC_DEFAULTS.testPairs;
  if (!(Number.isInteger(n) && n >= 4)) throw new Error(`--identities must be an integer >= 4, got ${n}`);
  if (!(Number.isInteger(m) && m >= 2)) throw new Error(`--images-per-identity must be an integer >= 2, got ${m}`);
  if (!(Number.isInteger(size) && size >= 16 && size <= 1024)) {
    throw new Error(`--size must be an integer in 16..1024, got ${size}`);
  }
  if (!(Number.isInteger(testPairs) && testPairs >= 1)) {
    throw new Error(`--test-pairs must be an integer >= 1, got ${testPairs}`);
  }
  if (n < 2 * folds) throw new Error(`${n} identities cannot fill ${folds} folds (need at least 2 per fold)`);
  return { identities: n, imagesPerIdentity: m, size, seed, folds, pairsPerFold: perFold, testPairs };
}

/** View 1 trains on 70 % of the identities (at least 2). */
const view1TrainPeople = (identities: number) => Math.max(2, Math.round(identities * 0.7));

/** Matched pairs drawn for a View 1 list: as many as wanted, at most a quarter of those `people` can make. */
const view1PairCap = (people: number, perIdentity: number, want: number) =>
  Math.max(1, Math.min(want, Math.floor((people * perIdentity * (perIdentity - 1)) / 4)));

/** How many matched (= mismatched) pairs a synthetic set's View 1 test list holds (`pairsDevTest.txt`). */
export function syntheticTestPairCount(options: SyntheticOptions = {}): number {
  const n = options.identities ?? SYNTHETIC_DEFAULTS.identities;
  const m = options.imagesPerIdentity ?? SYNTHETIC_DEFAULTS.imagesPerIdentity;
  return view1PairCap(n - view1TrainPeople(n), m, options.testPairs ?? SYNTHETIC_DEFAULTS.testPairs);
}

/** Who is in which list, and the pairs: everything of a synthetic set but its images. */
export interface SyntheticLayout {
  names: string[];
  /** View 2: the people of each fold and its [matched, mismatched] pair lines. */
  foldPeople: string[][];
  view2: [string[], string[]][];
  devTrain: string[];
  devTest: string[];
  trainPairs: [string[], string[]];
  testPairs: [string[], string[]];
}

/**
 * The identity split and pair lists of a synthetic set, computed without rendering (cheap; the same lists
 * {@link writeSyntheticDataset} writes). View 1 takes 70 % of the identities for training.
 */
export function syntheticLayout(options: SyntheticOptions = {}): SyntheticLayout {
  const { identities: n, imagesPerIdentity: m, seed, folds, pairsPerFold: perFold, testPairs: wantTest } =
    syntheticParams(options);
  const names = Array.from({ length: n }, (_, i) => nameOf(i));
  const split = mulberry32(mixSeed(seed, 0x5b11));
  const order = shuffled(names, split);
  const foldPeople = Array.from({ length: folds }, (_, f) => order.filter((_, k) => k % folds === f).sort());
  const view2 = foldPeople.map((people, f) => samplePairs(people, m, perFold, split, `fold ${f + 1}`));
  const nTrain = view1TrainPeople(n);
  const devTrain = order.slice(0, nTrain).sort(), devTest = order.slice(nTrain).sort();
  const trainPairs = samplePairs(devTrain, m, view1PairCap(devTrain.length, m, 1100), split, "pairsDevTrain");
  // Drawn last: the test-pair count changes nothing else.
  const testPairs = samplePairs(devTest, m, view1PairCap(devTest.length, m, wantTest), split, "pairsDevTest");
  return { names, foldPeople, view2, devTrain, devTest, trainPairs, testPairs };
}

/**
 * Generates the dataset into `dir` atomically (built in a temporary sibling, renamed when complete), with a
 * progress bar on stderr. Layout: `images/Face_00001/Face_00001_0001.jpg`, `people.txt`, `pairs.txt`,
 * `peopleDevTrain.txt`, `peopleDevTest.txt`, `pairsDevTrain.txt`, `pairsDevTest.txt`, `lfw-names.txt`,
 * `landmarks/lfw_landmark.txt`, `SYNTHETIC.md`.
 */
export async function writeSyntheticDataset(dir: string, options: SyntheticOptions = {}): Promise<SyntheticSummary> {
  const started = performance.now();
  const { identities: n, imagesPerIdentity: m, size, seed, folds, pairsPerFold: perFold, testPairs: wantTest } =
    syntheticParams(options);
  const { names, foldPeople, view2, devTrain, devTest, trainPairs, testPairs } = syntheticLayout(options);
  const bar = new Progress(`synthetic ${n}×${m} @${size}px`, n * m, { quiet: options.quiet });
  await writeDirAtomic(dir, async (tmp) => {
    const landmarks = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const face = syntheticIdentity(seed, i);
      await Deno.mkdir(join(tmp, "images", names[i]), { recursive: true });
      for (let j = 1; j <= m; j++) {
        const { image, landmarks: lm } = renderSyntheticImage(face, seed, i, j, size);
        const ref: ImageRef = { name: names[i], index: j };
        await Deno.writeFile(join(tmp, "images", lfwRelativePath(ref)), await encodeJpeg(image, 92));
        // Stored in LFW's 250-frame so the same "× width / 250" rule applies.
        landmarks.set(lfwRelativePath(ref), lm.map((v) => Number(((v * LFW_LANDMARK_FRAME) / size).toFixed(3))));
        bar.tick();
      }
    }
    const people = (list: string[]) => list.map((p) => `${p}\t${m}`).join("\n");
    const pairsText = (header: string, sets: [string[], string[]][]) =>
      [header, ...sets.flatMap(([a, b]) => [...a, ...b])].join("\n") + "\n";
    await writeFileIn(
      tmp,
      "people.txt",
      [String(folds), ...foldPeople.flatMap((p) => [String(p.length), people(p)])].join("\n") + "\n",
    );
    await writeFileIn(tmp, "peopleDevTrain.txt", `${devTrain.length}\n${people(devTrain)}\n`);
    await writeFileIn(tmp, "peopleDevTest.txt", `${devTest.length}\n${people(devTest)}\n`);
    await writeFileIn(tmp, "lfw-names.txt", people(names) + "\n");
    await writeFileIn(tmp, "pairs.txt", pairsText(`${folds}\t${perFold}`, view2));
    await writeFileIn(tmp, "pairsDevTrain.txt", pairsText(String(trainPairs[0].length), [trainPairs]));
    await writeFileIn(tmp, "pairsDevTest.txt", pairsText(String(testPairs[0].length), [testPairs]));
    await writeFileIn(tmp, "landmarks/lfw_landmark.txt", formatLandmarkFile(landmarks));
    await writeFileIn(
      tmp,
      "SYNTHETIC.md",
      `# Synthetic faces (SphereFace2 kit)\n\nGenerated by \`deno task data synthetic --identities ${n} --images-per-identity ${m} ` +
        `--size ${size} --seed ${seed} --folds ${folds} --pairs-per-fold ${perFold}` +
        `${
          wantTest === SYNTHETIC_DEFAULTS.testPairs ? "" : ` --test-pairs ${wantTest}`
        }\`: facesjs 5.0.3 faces (Apache-2.0) ` +
        `rendered with resvg, in the LFW layout. Landmarks are in the 250×250 frame like LFW's.\n\n` +
        `Identity is the face (head shape, eyes, brows, nose, mouth, ears, hair style, facial hair); everything else ` +
        `is drawn per image: expression, glasses, clothing, pose, a cluttered background, an occluder (35 % of ` +
        `images), the camera's colour response (40 % greyscale through random channel weights, otherwise a random ` +
        `hue rotation, saturation and white balance) and tone curve, lighting, sensor noise, and landmark jitter ` +
        `(σ 1.2 % of the frame, so alignment is imperfect). Skin and hair colour or brightness therefore do not ` +
        `identify anyone: a random-initialised network is near chance on the pairs, and only a trained one is not.\n`,
    );
  });
  bar.done();
  const seconds = bar.seconds;
  return {
    dir,
    identities: n,
    images: n * m,
    size,
    seed,
    folds,
    pairsPerFold: perFold,
    view1: {
      trainPeople: devTrain.length,
      testPeople: devTest.length,
      trainPairs: trainPairs[0].length,
      testPairs: testPairs[0].length,
    },
    seconds: Math.max(seconds, (performance.now() - started) / 1000),
  };
}

/**
 * The synthetic dataset in `dir`, generated once even when several processes ask at the same time (tests and
 * notebooks running in parallel on a fresh checkout): the first takes a lock (`<dir>.lock`, created atomically)
 * and generates; the others wait for `pairs.txt` to appear. A lock left by a killed process is taken over after
 * `staleMs`. Returns whether this call generated the dataset.
 */
export async function ensureSyntheticDataset(
  dir: string,
  options: SyntheticOptions & { staleMs?: number; pollMs?: number } = {},
): Promise<boolean> {
  const done = () => Deno.stat(join(dir, "pairs.txt")).then(() => true, () => false);
  const lock = `${dir.replace(/\/+$/, "")}.lock`;
  const staleMs = options.staleMs ?? 10 * 60_000;
  while (!(await done())) {
    try {
      await Deno.mkdir(dirname(lock), { recursive: true });
      await Deno.mkdir(lock);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const age = await Deno.stat(lock).then((s) => Date.now() - (s.mtime?.getTime() ?? Date.now()), () => 0);
      if (age > staleMs) await Deno.remove(lock, { recursive: true }).catch(() => {});
      else await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
      continue;
    }
    try {
      if (await done()) return false;
      await writeSyntheticDataset(dir, options);
      return true;
    } finally {
      await Deno.remove(lock, { recursive: true }).catch(() => {});
    }
  }
  return false;
}
