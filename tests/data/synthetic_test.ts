import { expect } from "expect";
import {
  renderSyntheticImage,
  syntheticIdentity,
  syntheticLayout,
  syntheticTestPairCount,
  writeSyntheticDataset,
} from "../../lib/data/synthetic.ts";
import { mulberry32 } from "../../lib/random/mulberry32.ts";
import { openLfw } from "../../lib/data/lfw.ts";
import { readImage } from "../../lib/data/image.ts";
import { alignFace, templateFor } from "../../lib/data/alignment.ts";

const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

Deno.test("synthetic: deterministic per (seed, identity, image); identities differ; Math.random restored", () => {
  const saved = Math.random;
  const f1 = syntheticIdentity(7, 3), f2 = syntheticIdentity(7, 3), g = syntheticIdentity(7, 4);
  expect(Math.random).toBe(saved);
  expect(f1).toEqual(f2);
  expect(JSON.stringify(g)).not.toBe(JSON.stringify(f1));
  const a = renderSyntheticImage(f1, 7, 3, 1, 48), b = renderSyntheticImage(f2, 7, 3, 1, 48);
  expect(a.image.data).toEqual(b.image.data);
  expect(a.landmarks).toEqual(b.landmarks);
  expect(renderSyntheticImage(f1, 7, 3, 2, 48).image.data).not.toEqual(a.image.data);
  expect(mulberry32(1)()).toBe(mulberry32(1)());
});

Deno.test("synthetic: landmarks land on the template after alignment (eyes, nose, mouth where expected)", () => {
  // Aligned crops of the same identity are closer to each other than to another identity's, on average.
  const size = 64, crop = 48;
  const crops = (id: number) =>
    [1, 2, 3, 4].map((j) => {
      const r = renderSyntheticImage(syntheticIdentity(3, id), 3, id, j, size);
      return alignFace(r.image, r.landmarks, crop).crop.data;
    });
  const a = crops(0), b = crops(1);
  let same = 0, diff = 0;
  for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) same += meanAbs(a[i], a[j]) / 6;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) diff += meanAbs(a[i], b[j]) / 16;
  expect(same).toBeLessThan(diff);
  expect(templateFor(crop).length).toBe(5);
});

Deno.test("synthetic: written atomically in the LFW layout and loads like LFW (View 1 open-set, View 2 folds)", async () => {
  const root = await Deno.makeTempDir();
  const dir = `${root}/syn`;
  try {
    const s = await writeSyntheticDataset(dir, {
      identities: 24,
      imagesPerIdentity: 3,
      size: 40,
      seed: 5,
      folds: 4,
      pairsPerFold: 6,
      quiet: true,
    });
    expect(s.images).toBe(72);
    const lfw = await openLfw(dir);
    const v2 = await lfw.view2();
    expect(v2.folds.map((f) => f.length)).toEqual([12, 12, 12, 12]);
    const v1 = await lfw.view1();
    expect(v1.train.length + new Set(v1.test.pairs.flatMap((p) => [p.a.name, p.b.name])).size).toBeLessThanOrEqual(24);
    const ref = v1.train[0].images[0];
    const img = await readImage(lfw.imagePath(ref));
    expect([img.width, img.height]).toEqual([40, 40]);
    expect(lfw.landmarksOf(ref, img.width).length).toBe(10);
    expect([...Deno.readDirSync(root)].map((e) => e.name)).toEqual(["syn"]);
    // Too many pairs for the people available: refused before anything is written.
    await expect(
      writeSyntheticDataset(`${root}/x`, {
        identities: 8,
        imagesPerIdentity: 2,
        folds: 4,
        pairsPerFold: 5,
        quiet: true,
      }),
    )
      .rejects.toThrow(/fold 1: 5 matched pairs requested but only 2 exist/);
    await expect(Deno.stat(`${root}/x`)).rejects.toThrow();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Every file under `dir` (relative path → bytes). */
async function filesOf(dir: string, sub = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(`${dir}/${sub}`)) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await filesOf(dir, rel)) out.set(k, v); }
    else out.set(rel, await Deno.readFile(`${dir}/${rel}`));
  }
  return out;
}

Deno.test("synthetic: --test-pairs changes pairsDevTest.txt and nothing else; syntheticLayout is what is written", async () => {
  const root = await Deno.makeTempDir();
  try {
    const base = { identities: 30, imagesPerIdentity: 3, size: 24, seed: 3, folds: 2, pairsPerFold: 5, quiet: true };
    await writeSyntheticDataset(`${root}/a`, base);
    const s = await writeSyntheticDataset(`${root}/b`, { ...base, testPairs: 12 });
    const a = await filesOf(`${root}/a`), b = await filesOf(`${root}/b`);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    const differ = [...a.keys()].filter((k) =>
      meanAbs(a.get(k)!, b.get(k)!) !== 0 || a.get(k)!.length !== b.get(k)!.length
    );
    expect(differ.sort()).toEqual(["SYNTHETIC.md", "pairsDevTest.txt"]);
    expect(new TextDecoder().decode(b.get("SYNTHETIC.md"))).toContain("--pairs-per-fold 5 --test-pairs 12`");
    expect(new TextDecoder().decode(a.get("SYNTHETIC.md"))).not.toContain("--test-pairs");
    // 9 test identities × 3 images make at most 9·3·2/4 = 13 matched pairs: 12 fit, the default 500 is capped.
    expect(s.view1.testPairs).toBe(12);
    expect(syntheticTestPairCount({ identities: 30, imagesPerIdentity: 3, testPairs: 12 })).toBe(12);
    expect(syntheticTestPairCount({ identities: 30, imagesPerIdentity: 3 })).toBe(13);
    expect(syntheticTestPairCount({ identities: 2860, imagesPerIdentity: 20, testPairs: 3000 })).toBe(3000);
    // The layout computed without rendering is the written lists, line for line.
    const lines = (p: [string[], string[]]) => [String(p[0].length), ...p[0], ...p[1]].join("\n") + "\n";
    const layout = syntheticLayout({ ...base, testPairs: 12 });
    expect(new TextDecoder().decode(b.get("pairsDevTest.txt"))).toBe(lines(layout.testPairs));
    expect(new TextDecoder().decode(b.get("pairsDevTrain.txt"))).toBe(lines(layout.trainPairs));
    expect(new TextDecoder().decode(b.get("peopleDevTest.txt"))).toBe(
      `${layout.devTest.length}\n${layout.devTest.map((p) => `${p}\t3`).join("\n")}\n`,
    );
    expect(() => syntheticLayout({ ...base, testPairs: 0 })).toThrow(/--test-pairs must be an integer >= 1, got 0/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
