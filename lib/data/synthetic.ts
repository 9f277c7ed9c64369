/**
 * The kit's embedded default dataset: deterministic synthetic faces (no download). Each identity is a facesjs
 * face (head shape, eyes, brows, nose, mouth, ears, hair, skin tone, facial hair…) drawn from a seeded PRNG; each
 * image of it varies pose (roll, scale, shift), expression (mouth, eye and brow angles), glasses, background,
 * lighting (a directional gradient and exposure) and sensor noise, and is rendered to pixels with resvg. The
 * result is written in the LFW layout (images, people/pairs files for View 1 and View 2, 5-point landmarks in the
 * 250-frame), so every later step treats it like real LFW.
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
import { join } from "node:path";
import { encodeJpeg, type RgbImage } from "./image.ts";
import { formatLandmarkFile, LFW_LANDMARK_FRAME } from "./landmarks.ts";
import { type ImageRef, lfwRelativePath } from "./lfw.ts";
import { Progress } from "../cli/progress.ts";
import { writeDirAtomic, writeFileIn } from "../report/write.ts";

/** mulberry32: a tiny, fast 32-bit PRNG with good enough statistics for sampling; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

/** One rendered image and its landmarks in its own pixel frame. */
export interface SyntheticImage {
  image: RgbImage;
  landmarks: number[];
}

/** Renders image `index` (1-based) of an identity at `size × size`. */
export function renderSyntheticImage(
  face: FaceConfig,
  seed: number,
  identity: number,
  index: number,
  size: number,
): SyntheticImage {
  const rng = mulberry32(mixSeed(seed, identity, index, 0x2e));
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng();
  const f = structuredClone(face);
  // Expression: facesjs overrides mutate the object, hence the clone above.
  if (rng() < 0.5) f.mouth.id = MOUTHS[Math.floor(rng() * MOUTHS.length)];
  f.eye.angle += u(-4, 4);
  f.eyebrow.angle += u(-6, 6);
  if (rng() < 0.2) f.glasses.id = GLASSES[Math.floor(rng() * GLASSES.length)];
  // Pose: roll about the face centre, scale, shift (canvas units).
  const roll = u(-12, 12), scale = u(0.9, 1.1), tx = u(-14, 14), ty = u(-12, 12);
  const cx = 200, cy = 370;
  const transform = `translate(${tx + cx} ${ty + cy}) rotate(${roll}) scale(${scale}) translate(${-cx} ${-cy})`;
  const svg = faceToSvgString(f)
    .replace(/viewBox="[^"]*"/, `viewBox="${VIEW.x} ${VIEW.y} ${VIEW.w} ${VIEW.h}"`)
    .replace(/ width="100%" height="100%"/, "")
    .replace(/(<svg[^>]*>)/, `$1<g transform="${transform}">`)
    .replace(/<\/svg>\s*$/, "</g></svg>");
  const bg = [u(40, 220), u(40, 220), u(40, 220)].map(Math.round);
  const rendered = new Resvg(svg, {
    fitTo: { mode: "width", value: size },
    background: `rgb(${bg.join(",")})`,
  }).render();
  const rgba = rendered.pixels;
  // Lighting: exposure × a linear gradient across a random direction; then Gaussian-ish sensor noise.
  const exposure = u(0.7, 1.2), strength = u(0, 0.5), dir = u(0, 2 * Math.PI), sigma = u(2, 10);
  const dx = Math.cos(dir), dy = Math.sin(dir);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const g = exposure * (1 + strength * ((x / size - 0.5) * dx + (y / size - 0.5) * dy));
      for (let c = 0; c < 3; c++) {
        const noise = sigma * (rng() + rng() + rng() - 1.5) * 2; // sum of uniforms ≈ normal, sd ≈ sigma
        const v = rgba[(y * size + x) * 4 + c] * g + noise;
        data[(y * size + x) * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
      }
    }
  }
  const rad = (roll * Math.PI) / 180, cos = Math.cos(rad), sin = Math.sin(rad);
  const landmarks = CANON.flatMap(([px, py]) => {
    const qx = (px - cx) * scale, qy = (py - cy) * scale;
    const X = cos * qx - sin * qy + cx + tx, Y = sin * qx + cos * qy + cy + ty;
    // Canvas → pixel centres of the size×size frame.
    return [((X - VIEW.x) / VIEW.w) * size - 0.5, ((Y - VIEW.y) / VIEW.h) * size - 0.5];
  });
  return { image: { width: size, height: size, data }, landmarks };
}

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

/**
 * Generates the dataset into `dir` atomically (built in a temporary sibling, renamed when complete), with a
 * progress bar on stderr. Layout: `images/Face_00001/Face_00001_0001.jpg`, `people.txt`, `pairs.txt`,
 * `peopleDevTrain.txt`, `peopleDevTest.txt`, `pairsDevTrain.txt`, `pairsDevTest.txt`, `lfw-names.txt`,
 * `landmarks/lfw_landmark.txt`, `SYNTHETIC.md`.
 */
export async function writeSyntheticDataset(dir: string, options: SyntheticOptions = {}): Promise<SyntheticSummary> {
  const started = performance.now();
  const n = options.identities ?? 200, m = options.imagesPerIdentity ?? 6, size = options.size ?? 64;
  const seed = options.seed ?? 1, folds = options.folds ?? 10, perFold = options.pairsPerFold ?? 50;
  if (!(Number.isInteger(n) && n >= 4)) throw new Error(`--identities must be an integer >= 4, got ${n}`);
  if (!(Number.isInteger(m) && m >= 2)) throw new Error(`--images-per-identity must be an integer >= 2, got ${m}`);
  if (!(Number.isInteger(size) && size >= 16 && size <= 1024)) {
    throw new Error(`--size must be an integer in 16..1024, got ${size}`);
  }
  if (n < 2 * folds) throw new Error(`${n} identities cannot fill ${folds} folds (need at least 2 per fold)`);
  const names = Array.from({ length: n }, (_, i) => nameOf(i));
  const split = mulberry32(mixSeed(seed, 0x5b11));
  // Check the pair counts before rendering anything.
  const order = shuffled(names, split);
  const foldPeople = Array.from({ length: folds }, (_, f) => order.filter((_, k) => k % folds === f).sort());
  const view2 = foldPeople.map((people, f) => samplePairs(people, m, perFold, split, `fold ${f + 1}`));
  const nTrain = Math.max(2, Math.round(n * 0.7));
  const devTrain = order.slice(0, nTrain).sort(), devTest = order.slice(nTrain).sort();
  const cap = (people: string[], want: number) =>
    Math.max(1, Math.min(want, Math.floor((people.length * m * (m - 1)) / 4)));
  const trainPairs = samplePairs(devTrain, m, cap(devTrain, 1100), split, "pairsDevTrain");
  const testPairs = samplePairs(devTest, m, cap(devTest, 500), split, "pairsDevTest");

  const bar = new Progress(`synthetic ${n}×${m} @${size}px`, n * m, options.quiet);
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
        `--size ${size} --seed ${seed} --folds ${folds} --pairs-per-fold ${perFold}\`: facesjs 5.0.3 faces (Apache-2.0) ` +
        `rendered with resvg, in the LFW layout. Landmarks are in the 250×250 frame like LFW's.\n`,
    );
  });
  const seconds = bar.done();
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
