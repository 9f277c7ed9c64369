/**
 * A peer model nobody here trained: `@vladmandic/face-api` (MIT), which ships a face detector, 68-point landmarks
 * and a 128-d face-recognition network in npm. The kit uses it two ways:
 *
 * - as a **check of the data and protocol code**: its descriptors run through the kit's LFW protocols, so a
 *   loading or pairing bug shows up as an implausible accuracy for a known-good model;
 * - as the kit's **landmark source** for photos without landmarks (the paper used MTCNN): its 68 points reduce to
 *   the 5 alignment points (eye centres = means of points 36–41 and 42–47, nose tip 30, mouth corners 48 and 54).
 *
 * Faces are found with the tiny detector (input 320, score ≥ 0.3). Of several faces the one whose box centre is
 * nearest the image centre is kept, not the most confident: LFW crops are centred on the labelled person, and
 * other people in the photo are often detected with higher confidence (on the alignment goldens' images the most
 * confident face was the wrong person in 3 of 12). When no face is found the descriptor of the central square is
 * used and the result says so.
 *
 * @example
 * ```ts
 * import { loadFaceApi } from "./peer_faceapi.ts";
 * import { readImage } from "../data/image.ts";
 * const peer = await loadFaceApi();
 * const face = await peer.describe(await readImage("face.jpg"));
 * console.log(face.fivePoints, face.descriptor.length); // 10 numbers, 128
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { RgbImage } from "../data/image.ts";

/** The face-api version whose weights and code the kit uses (pinned in deno.json). */
export const FACE_API_VERSION = "1.7.15";

export interface FaceDescription {
  /** Whether the detector found a face (false: the central-square fallback was described). */
  detected: boolean;
  /** Detector confidence (0 for the fallback). */
  score: number;
  /** Face box in pixels. */
  box: { x: number; y: number; width: number; height: number };
  /** The 68 iBUG points in pixels (empty for the fallback). */
  landmarks68: Array<[number, number]>;
  /** x1, y1, …, x5, y5: eyes, nose tip, mouth corners (empty for the fallback). */
  fivePoints: number[];
  /** The 128-d descriptor, L2-normalised. */
  descriptor: Float32Array;
}

export interface FaceApiPeer {
  describe(image: RgbImage): Promise<FaceDescription>;
}

/** The 5 alignment points from the 68 iBUG points (0-based indices). */
export function fivePointsFrom68(points: ReadonlyArray<readonly [number, number]>): number[] {
  if (points.length !== 68) throw new Error(`fivePointsFrom68: expected 68 points, got ${points.length}`);
  const mean = (from: number, to: number): [number, number] => {
    let x = 0;
    let y = 0;
    for (let i = from; i <= to; i++) {
      x += points[i][0];
      y += points[i][1];
    }
    const n = to - from + 1;
    return [x / n, y / n];
  };
  return [...mean(36, 41), ...mean(42, 47), ...points[30], ...points[48], ...points[54]];
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const inv = 1 / Math.max(Math.sqrt(n), 1e-12);
  return v.map((x) => x * inv);
}

/** The part of face-api's API the kit uses; its node-wasm build (Deno) and esm-nobundle build (browser) both fit. */
export interface FaceApiModule {
  nets: Record<string, { loadFromDisk(dir: string): Promise<void>; loadFromUri(url: string): Promise<void> }>;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  detectAllFaces(input: tf.Tensor3D, options: unknown): {
    withFaceLandmarks(): {
      withFaceDescriptors(): Promise<
        Array<{
          detection: { score: number; box: { x: number; y: number; width: number; height: number } };
          landmarks: { positions: Array<{ x: number; y: number }> };
          descriptor: Float32Array;
        }>
      >;
    };
  };
  computeFaceDescriptor(input: tf.Tensor3D): Promise<Float32Array | Float32Array[]>;
}

/**
 * Loads face-api (its node-wasm build, sharing the kit's TensorFlow.js engine) and the tiny detector, 68-point
 * landmark and recognition weights shipped in its npm package. Call after the backend is initialised.
 */
export async function loadFaceApi(): Promise<FaceApiPeer> {
  const faceapi = await import(
    `npm:@vladmandic/face-api@${FACE_API_VERSION}/dist/face-api.node-wasm.js`
  ) as FaceApiModule;
  const packageUrl = import.meta.resolve(`npm:@vladmandic/face-api@${FACE_API_VERSION}/package.json`);
  const modelDir = new URL("./model/", packageUrl).pathname;
  try {
    await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
    await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  } catch (err) {
    throw new Error(`face-api: cannot load its weights from ${modelDir}: ${(err as Error).message}`);
  }
  return { describe: (image) => describeFace(faceapi, image) };
}

/**
 * Detects the face nearest the image centre with face-api's tiny detector (input 320, score ≥ 0.3), its 68 landmarks
 * and descriptor; the central square's descriptor when no face is found. The one detection routine of the kit, run
 * by `loadFaceApi` in Deno and by the web page in the browser (weights loaded by the caller).
 */
export async function describeFace(faceapi: FaceApiModule, image: RgbImage): Promise<FaceDescription> {
  const options = new faceapi.TinyFaceDetectorOptions({ inputSize: 320, scoreThreshold: 0.3 });
  const input = tf.tensor3d(image.data, [image.height, image.width, 3], "int32");
  try {
    const faces = await faceapi.detectAllFaces(input, options).withFaceLandmarks().withFaceDescriptors();
    const offCentre = (b: { x: number; y: number; width: number; height: number }) =>
      Math.hypot(b.x + b.width / 2 - image.width / 2, b.y + b.height / 2 - image.height / 2);
    const found = faces.sort((a, b) => offCentre(a.detection.box) - offCentre(b.detection.box))[0];
    if (found) {
      const landmarks68 = found.landmarks.positions.map((p) => [p.x, p.y] as [number, number]);
      const { x, y, width, height } = found.detection.box;
      return {
        detected: true,
        score: found.detection.score,
        box: { x, y, width, height },
        landmarks68,
        fivePoints: fivePointsFrom68(landmarks68),
        descriptor: unit(Float32Array.from(found.descriptor)),
      };
    }
    const side = Math.round(Math.min(image.width, image.height) * 0.6);
    const x = Math.round((image.width - side) / 2);
    const y = Math.round((image.height - side) / 2);
    const crop = tf.slice(input, [y, x, 0], [side, side, 3]) as tf.Tensor3D;
    try {
      const d = await faceapi.computeFaceDescriptor(crop);
      const descriptor = unit(Float32Array.from(Array.isArray(d) ? d[0] : d));
      return {
        detected: false,
        score: 0,
        box: { x, y, width: side, height: side },
        landmarks68: [],
        fivePoints: [],
        descriptor,
      };
    } finally {
      crop.dispose();
    }
  } finally {
    input.dispose();
  }
}
