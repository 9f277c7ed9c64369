/**
 * 5-point face alignment as the paper's pipeline (OpenSphere `image_pipeline`, insightface `norm_crop`) does it:
 * the least-squares similarity transform (Umeyama 1991, no reflection) from the detected landmarks to the
 * `arcface112` template, then a bilinear warp with zero border (`cv2.warpAffine(..., INTER_LINEAR,
 * BORDER_CONSTANT, 0)`). Coordinates are (x, y) = (column, row) with integer values at pixel centres.
 * Checked against the alignment goldens (`tests/golden/alignment/`) (matrices to 1e-13, crops within 0.1 grey levels mean |Δ|).
 *
 * @example
 * ```ts
 * import { alignFace } from "./alignment.ts";
 * import { readImage } from "./image.ts";
 * const img = await readImage("face.jpg");
 * const { crop, matrix } = alignFace(img, [64.2, 64.2, 88.2, 66.6, 74.4, 85.8, 61.8, 94.2, 83.4, 96.6], 112);
 * ```
 * @module
 */
import type { RgbImage } from "./image.ts";

/** Five (x, y) points: left eye, right eye, nose tip, left mouth corner, right mouth corner ("left" = image left). */
export type Points5 = readonly (readonly [number, number])[];
/** A 2×3 affine matrix, row-major: `[[a, b, tx], [c, d, ty]]` maps (x, y, 1) to (a x + b y + tx, c x + d y + ty). */
export type Affine = [[number, number, number], [number, number, number]];

/** The 112×112 template of insightface and OpenSphere (`arcface112`), the SphereFace 96×112 one shifted by +8 in x. */
export const ARCFACE_112: Points5 = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * The template for a `size × size` crop: {@link ARCFACE_112} multiplied by `size / 112` (nothing else), so smaller
 * CPU-scale crops frame the same face region. `size = 56` gives the `arcface112_x0.5` golden template exactly.
 */
export function templateFor(size: number): Points5 {
  if (!(size >= 8 && Number.isInteger(size))) throw new Error(`crop size must be an integer >= 8, got ${size}`);
  const s = size / 112;
  return ARCFACE_112.map(([x, y]) => [x * s, y * s] as const);
}

/** `[x1, y1, …, x5, y5]` as five points (throws unless there are exactly 10 finite numbers). */
export function toPoints(flat: readonly number[]): Points5 {
  if (flat.length !== 10 || !flat.every(Number.isFinite)) {
    throw new Error(`expected 10 finite landmark coordinates x1,y1,...,x5,y5, got ${flat.length}`);
  }
  return [0, 1, 2, 3, 4].map((i) => [flat[2 * i], flat[2 * i + 1]] as const);
}

/**
 * Least-squares similarity (rotation, uniform scale, translation; no reflection) taking `src` onto `dst`, the
 * residuals measured in the `dst` frame (Umeyama 1991; `skimage SimilarityTransform.estimate`). In 2-D, with
 * centred points sᵢ = srcᵢ − s̄ and dᵢ = dstᵢ − d̄:
 *
 *   a = Σ sᵢ·dᵢ / Σ|sᵢ|²,  b = Σ (sᵢₓ dᵢᵧ − sᵢᵧ dᵢₓ) / Σ|sᵢ|²,
 *   M = [[a, −b, tₓ], [b, a, tᵧ]],  (tₓ, tᵧ) = d̄ − [[a, −b], [b, a]] s̄.
 */
export function similarityTransform(src: Points5, dst: Points5): Affine {
  const n = src.length;
  if (n !== dst.length || n < 2) {
    throw new Error(`similarityTransform: need matching point lists (${n} vs ${dst.length})`);
  }
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i][0], sy += src[i][1], dx += dst[i][0], dy += dst[i][1];
  }
  sx /= n, sy /= n, dx /= n, dy /= n;
  let dot = 0, cross = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i][0] - sx, py = src[i][1] - sy, qx = dst[i][0] - dx, qy = dst[i][1] - dy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (!(norm > 0)) throw new Error("similarityTransform: the landmarks coincide (degenerate)");
  const a = dot / norm, b = cross / norm;
  return [[a, -b, dx - (a * sx - b * sy)], [b, a, dy - (b * sx + a * sy)]];
}

/** Inverse of an affine map (what `cv2.invertAffineTransform` returns). */
export function invertAffine(m: Affine): Affine {
  const [[a, b, tx], [c, d, ty]] = m;
  const det = a * d - b * c;
  if (det === 0) throw new Error("invertAffine: singular matrix");
  const ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  return [[ia, ib, -(ia * tx + ib * ty)], [ic, id, -(ic * tx + id * ty)]];
}

/**
 * `cv2.warpAffine(src, m, (width, height), INTER_LINEAR, BORDER_CONSTANT, 0)` in float64: each output pixel centre
 * (u, v) samples the source at m⁻¹(u, v) by bilinear interpolation of the four neighbouring pixel centres,
 * neighbours outside the image counting as 0, and the result is rounded to the nearest 8-bit value.
 */
export function warpAffine(src: RgbImage, m: Affine, width: number, height = width): RgbImage {
  const [[ia, ib, itx], [ic, id, ity]] = invertAffine(m);
  const { width: W, height: H, data } = src;
  const out = new Uint8Array(width * height * 3);
  const px = (x: number, y: number, c: number) => (x >= 0 && y >= 0 && x < W && y < H ? data[(y * W + x) * 3 + c] : 0);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const x = ia * u + ib * v + itx, y = ic * u + id * v + ity;
      const x0 = Math.floor(x), y0 = Math.floor(y);
      if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) continue; // all four neighbours outside: exactly 0
      const fx = x - x0, fy = y - y0;
      const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
      const o = (v * width + u) * 3;
      const inside = x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H;
      for (let c = 0; c < 3; c++) {
        let val: number;
        if (inside) {
          const i = (y0 * W + x0) * 3 + c, j = i + W * 3;
          val = w00 * data[i] + w10 * data[i + 3] + w01 * data[j] + w11 * data[j + 3];
        } else {
          val = w00 * px(x0, y0, c) + w10 * px(x0 + 1, y0, c) + w01 * px(x0, y0 + 1, c) + w11 * px(x0 + 1, y0 + 1, c);
        }
        out[o + c] = Math.min(255, Math.round(val));
      }
    }
  }
  return { width, height, data: out };
}

/** The aligned crop and the matrix that produced it (source pixel → crop pixel). */
export interface AlignedFace {
  crop: RgbImage;
  matrix: Affine;
}

/**
 * Aligns one face: {@link similarityTransform} from its landmarks (flat `[x1, y1, …, x5, y5]` or five points, in
 * the image's own pixel frame) to {@link templateFor}(size), then {@link warpAffine} to `size × size`.
 */
export function alignFace(img: RgbImage, landmarks: readonly number[] | Points5, size = 112): AlignedFace {
  const pts = typeof landmarks[0] === "number" ? toPoints(landmarks as number[]) : landmarks as Points5;
  const matrix = similarityTransform(pts, templateFor(size));
  return { crop: warpAffine(img, matrix, size), matrix };
}
