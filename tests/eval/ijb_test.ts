import { expect } from "expect";
import {
  identifyMerged,
  identifyPerGallery,
  parseFaceScores,
  parseGalleryCsv,
  parseTemplateMedia,
  parseTemplatePairs,
  templateFeatures,
  verify1to1,
} from "../../lib/eval/ijb.ts";

// A hand-checkable set: 2-D features; subjects A (10), B (20), C (30, in no gallery).
const MEDIA = `1.jpg 1 1
2.jpg 2 2
3.jpg 3 3
4.jpg 4 4
5.jpg 6 6
`;
const FEATURES = new Float32Array([1, 0, 0.8, 0.6, 0, 1, 0.6, 0.8, 0.9, Math.sqrt(1 - 0.81)]);

Deno.test("IJB template features: faceness weighting, mean per media, sum over media, L2", () => {
  const media = parseTemplateMedia("a.jpg 5 1\nb.jpg 5 2\nc.jpg 5 2\n", "tid_mid.txt");
  const f = new Float32Array([1, 0, 0, 1, 0, 1]);
  const plain = templateFeatures(f, 2, media);
  expect(plain.features[0]).toBeCloseTo(Math.SQRT1_2, 6); // (1,0) + mean((0,1),(0,1)) → (1,1)/√2
  const weighted = templateFeatures(f, 2, media, { faceness: [0.5, 1, 1] });
  expect(weighted.features[0]).toBeCloseTo(0.5 / Math.sqrt(1.25), 6); // (0.5, 1) normalised
  expect(weighted.features[1]).toBeCloseTo(1 / Math.sqrt(1.25), 6);
  expect(() => templateFeatures(f, 2, media.slice(0, 2))).toThrow(/3 feature rows for 2 images/);
});

Deno.test("IJB 1:1 on a tiny case: scores are template cosines, both TAR@FAR conventions", () => {
  const t = templateFeatures(FEATURES, 2, parseTemplateMedia(MEDIA, "tid_mid.txt"));
  const pairs = parseTemplatePairs("1 2 1\n3 4 1\n1 3 0\n1 4 0\n2 3 0\n", "pairs.txt");
  const r = verify1to1(t, pairs, ["1e-1", "5e-1"]);
  expect(Array.from(r.scores).map((s) => Number(s.toFixed(6)))).toEqual([0.8, 0.8, 0, 0.6, 0.6]);
  // Genuine 0.8, 0.8 above every impostor (0, 0.6, 0.6): separable.
  expect(r.openSphere["TPR@FPR=1e-1"]).toBe(100);
  expect(r.insightface["TPR@FPR=5e-1"]).toBe(100);
  expect(r.openSphere.AUC).toBe(100);
});

Deno.test("IJB 1:N, merged gallery (OpenSphere) vs per gallery (open-set), by hand", () => {
  const t = templateFeatures(FEATURES, 2, parseTemplateMedia(MEDIA, "tid_mid.txt"));
  const g1 = parseGalleryCsv("TEMPLATE_ID,SUBJECT_ID,FILENAME\n1,10,1.jpg\n", "G1.csv");
  const g2 = parseGalleryCsv("TEMPLATE_ID,SUBJECT_ID,FILENAME\n3,20,3.jpg\n", "G2.csv");
  const probes = parseGalleryCsv("TEMPLATE_ID,SUBJECT_ID\n2,10\n4,20\n6,30\n6,30\n", "probe.csv");
  expect(probes.length).toBe(3); // de-duplicated on first occurrence
  const merged = identifyMerged(t, probes, [g1, g2], [0.1]);
  // T2 and T4 find their mate first (0.8 vs 0.6); T6 (subject C) has none: rank-1 = 2/3.
  expect(merged.ranks["rank-1"]).toBeCloseTo(200 / 3, 10);
  // K = ⌈0.1·3⌉ = 1: thr = largest non-mated score = T6·T1 = 0.9; no mated score exceeds it.
  expect(merged.tpir["TPIR@FPIR=1e-1"]).toBe(0);
  const perG1 = identifyPerGallery(t, probes, g1, "G1", [0.1, 0.5]);
  expect(perG1.matedProbes).toBe(1);
  expect(perG1.ranks["rank-1"]).toBe(100);
  // Non-mated top-1 scores: T6 0.9, T4 0.6. FPIR 0.1 → thr 0.9 (T2's 0.8 fails); FPIR 0.5 → thr 0.6 (passes).
  expect(perG1.tpir["TPIR@FPIR=1e-1"]).toBe(0);
  expect(perG1.tpir["TPIR@FPIR=5e-1"]).toBe(100);
  expect(perG1.protocol).toMatch(/per-gallery/);
  expect(merged.protocol).toMatch(/merged/);
});

Deno.test("IJB meta files: errors name the file, the line and the field", () => {
  expect(() => parseFaceScores("1.jpg 1 2 3\n", "5pts.txt")).toThrow("5pts.txt:1: expected 12 fields");
  expect(() => parseFaceScores("1.jpg 1 2 3 4 5 6 7 8 9 x 0.9\n", "5pts.txt")).toThrow(
    '5pts.txt:1: coordinate 10 must be a number, got "x"',
  );
  expect(parseFaceScores("1.jpg 1 2 3 4 5 6 7 8 9 10 0.99\n", "5pts.txt")[0]).toMatchObject({
    name: "1.jpg",
    faceness: 0.99,
  });
  expect(() => parseTemplateMedia("a.jpg 1\n", "tid.txt")).toThrow("tid.txt:1: expected 3 fields");
  expect(() => parseTemplatePairs("1 2 1\n1 2 2\n", "p.txt")).toThrow("p.txt:2: label must be 0 or 1, got 2");
  expect(() => parseGalleryCsv("TEMPLATE_ID,SUBJECT_ID\n1,5\n1,6\n", "g.csv")).toThrow(
    "g.csv:3: template 1 has subject 6, earlier 5",
  );
  const t = templateFeatures(new Float32Array([1, 0]), 2, parseTemplateMedia("a 1 1", "m"));
  expect(() => verify1to1(t, [{ t1: 1, t2: 9, label: 1 }])).toThrow(/template 9 has no images/);
});
