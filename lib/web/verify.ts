/**
 * Verify two faces, the one pipeline of the web page (`index.html`) and `deno task compare`: face-api detection and
 * 68 landmarks ({@link describeFace}) → the 5 alignment points → the kit's 5-point alignment to the model's input
 * size ({@link alignFace}) → the kit's backbone, flip-fused and L2-normalised ({@link embedCrop}) → cosine → "same"
 * when the cosine exceeds the threshold the trained SphereFace2 head implies (`model.json`'s `threshold`).
 *
 * The caller supplies decoded RGB images (the page from a canvas, the task from sharp) and a face describer (face-api
 * loaded in the page, or `loadFaceApi` in Deno). No Deno API here: this module is bundled into the page.
 *
 * @example
 * ```ts
 * import { verifyPair, type VerifyDeps } from "./verify.ts";
 * import type { RgbImage } from "../data/image.ts";
 * declare const peer: Pick<VerifyDeps, "describe">, model: VerifyDeps["model"], meta: VerifyDeps["meta"];
 * declare const imageA: RgbImage, imageB: RgbImage;
 * const r = await verifyPair({ describe: peer.describe, model, meta }, imageA, imageB);
 * console.log(JSON.stringify({ cosine: r.cosine, threshold: r.threshold, same: r.same }));
 * ```
 * @module
 */
import { alignFace } from "../data/alignment.ts";
import type { RgbImage } from "../data/image.ts";
import { cosine, embedCrop } from "../eval/embed.ts";
import type { FaceDescription } from "../eval/peer_faceapi.ts";
import { parseModelConfig } from "../models/config.ts";
import type { Model } from "../models/registry.ts";
import type { WebModelMeta } from "./web_model.ts";

export interface VerifyDeps {
  describe: (image: RgbImage) => Promise<FaceDescription>;
  model: Model;
  meta: WebModelMeta;
}

export interface FaceResult {
  /** The aligned crop the backbone saw (the model's input size). */
  crop: RgbImage;
  fivePoints: number[];
  score: number;
}

export interface PairResult {
  cosine: number;
  threshold: number;
  same: boolean;
  faces: [FaceResult, FaceResult];
}

/** Detects, aligns and embeds one face; throws when face-api finds no face (named by `label`). */
export async function embedFace(
  deps: VerifyDeps,
  image: RgbImage,
  label: string,
): Promise<FaceResult & { embedding: Float32Array }> {
  const face = await deps.describe(image);
  if (!face.detected || face.fivePoints.length !== 10) {
    throw new Error(`${label}: no face found (face-api tiny detector, score ≥ 0.3)`);
  }
  const size = parseModelConfig(deps.meta.model, "model.json: model").inputSize;
  const { crop } = alignFace(image, face.fivePoints, size);
  const embedding = await embedCrop((x) => deps.model.forward(x, false), crop);
  return { crop, fivePoints: face.fivePoints, score: face.score, embedding };
}

/** The whole pipeline on two images. */
export async function verifyPair(deps: VerifyDeps, a: RgbImage, b: RgbImage): Promise<PairResult> {
  const fa = await embedFace(deps, a, "image A");
  const fb = await embedFace(deps, b, "image B");
  const c = cosine(fa.embedding, fb.embedding);
  const threshold = deps.meta.threshold;
  const strip = ({ embedding: _e, ...rest }: FaceResult & { embedding: Float32Array }) => rest;
  return { cosine: c, threshold, same: c > threshold, faces: [strip(fa), strip(fb)] };
}
