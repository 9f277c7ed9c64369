import { expect } from "expect";
import {
  alignFace,
  invertAffine,
  similarityTransform,
  templateFor,
  toPoints,
  warpAffine,
} from "../../lib/data/alignment.ts";
import { readImage } from "../../lib/data/image.ts";
import { goldenPath, lfwPath, lfwTest } from "../shared.ts";

interface GoldenCase {
  id: string;
  image: string;
  source_png: string;
  png: string;
  landmarks: number[];
  landmarks_250: number[];
  template_points: [number, number][];
  output_size: [number, number];
  matrix: number[][];
  inverse_matrix: number[][];
}

const dir = goldenPath("alignment/");
const golden = JSON.parse(await Deno.readTextFile(`${dir}cases.json`)) as { cases: GoldenCase[] };

function meanAbs(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

const maxErr = (a: number[][], b: number[][]) =>
  Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));

Deno.test("alignment goldens: matrices to 1e-6, crops within mean |Δ| ≤ 2 (warping the lossless sources)", async () => {
  expect(golden.cases.length).toBe(15);
  const lines: string[] = [];
  for (const c of golden.cases) {
    const size = c.output_size[0];
    const tpl = templateFor(size);
    tpl.forEach(([x, y], i) => {
      expect(Math.abs(x - c.template_points[i][0])).toBeLessThan(1e-12);
      expect(Math.abs(y - c.template_points[i][1])).toBeLessThan(1e-12);
    });
    // Landmarks derived the way the kit does it from the file's 250-frame integers.
    const lm = c.landmarks_250.map((v) => v * 150 / 250);
    expect(lm).toEqual(c.landmarks);
    const m = similarityTransform(toPoints(lm), tpl);
    const mErr = maxErr(m, c.matrix);
    const iErr = maxErr(invertAffine(m), c.inverse_matrix);
    expect(mErr).toBeLessThan(1e-6);
    expect(iErr).toBeLessThan(1e-6);
    const src = await readImage(`${dir}${c.source_png}`);
    const want = await readImage(`${dir}${c.png}`);
    const crop = warpAffine(src, m, size);
    const d = meanAbs(crop.data, want.data);
    expect(d).toBeLessThanOrEqual(2);
    lines.push(`${c.id}: matrix ${mErr.toExponential(1)} inverse ${iErr.toExponential(1)} mean|Δ| png ${d.toFixed(3)}`);
  }
  if (Deno.env.get("SF2_VERBOSE")) console.log(lines.join("\n"));
});

lfwTest("alignment goldens from the LFW JPEGs (decoder + warp): crops within mean |Δ| ≤ 2", async () => {
  for (const c of golden.cases) {
    const want = await readImage(`${dir}${c.png}`);
    const lm = c.landmarks_250.map((v) => v * 150 / 250);
    const jpg = await readImage(lfwPath(c.image));
    expect(meanAbs(alignFace(jpg, lm, c.output_size[0]).crop.data, want.data)).toBeLessThanOrEqual(2);
  }
});

Deno.test("alignment: a wrong pixel-centre convention would be caught (half-pixel shift fails the tolerance)", async () => {
  const c = golden.cases[0];
  const src = await readImage(`${dir}${c.source_png}`);
  const want = await readImage(`${dir}${c.png}`);
  const shifted = toPoints(c.landmarks.map((v) => v + 0.5));
  const crop = warpAffine(src, similarityTransform(shifted, templateFor(112)), 112);
  expect(meanAbs(crop.data, want.data)).toBeGreaterThan(1);
});

Deno.test("similarityTransform recovers an exact similarity and rejects degenerate input", () => {
  const angle = 0.3, s = 1.7, tx = 5, ty = -3;
  const src = toPoints([10, 20, 40, 22, 25, 35, 15, 50, 38, 52]);
  const dst = src.map(([x, y]) =>
    [
      s * (Math.cos(angle) * x - Math.sin(angle) * y) + tx,
      s * (Math.sin(angle) * x + Math.cos(angle) * y) + ty,
    ] as const
  );
  const m = similarityTransform(src, dst);
  expect(m[0][0]).toBeCloseTo(s * Math.cos(angle), 12);
  expect(m[1][0]).toBeCloseTo(s * Math.sin(angle), 12);
  expect(m[0][2]).toBeCloseTo(tx, 10);
  expect(m[1][2]).toBeCloseTo(ty, 10);
  expect(() => similarityTransform(toPoints(Array(10).fill(3)), templateFor(112))).toThrow(/degenerate/);
  expect(() => toPoints([1, 2, 3])).toThrow(/10 finite/);
  expect(() => templateFor(4)).toThrow(/crop size/);
});
