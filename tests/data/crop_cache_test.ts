import { expect } from "expect";
import { type CropSource, loadOrBuildCropCache } from "../../lib/data/crop_cache.ts";
import { alignFace } from "../../lib/data/alignment.ts";
import { readImage } from "../../lib/data/image.ts";
import { goldenPath } from "../shared.ts";

/** The alignment goldens' lossless LFW sources with their 250-frame landmarks (carried by the kit). */
async function goldenSources(n: number): Promise<CropSource[]> {
  const dir = goldenPath("alignment/");
  const { cases } = JSON.parse(await Deno.readTextFile(`${dir}cases.json`)) as {
    cases: { id: string; source_png: string; landmarks_250: number[] }[];
  };
  const unique = [...new Map(cases.map((c) => [c.source_png, c])).values()];
  return unique.slice(0, n).map((c) => ({
    id: c.source_png,
    path: `${dir}${c.source_png}`,
    landmarks: c.landmarks_250,
    frame: 250,
  }));
}

Deno.test("crop cache: built once, reloaded by key, new key for a new size; crops equal direct alignment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sources = await goldenSources(12);
    const a = await loadOrBuildCropCache(dir, "lfw", 56, sources, { quiet: true });
    expect(a.count).toBe(12);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    expect(files.length).toBe(2);
    expect(files.every((f) => !f.includes(".tmp-"))).toBe(true);
    const t0 = performance.now();
    const b = await loadOrBuildCropCache(dir, "lfw", 56, sources, { quiet: true });
    const reload = performance.now() - t0;
    expect(b.data).toEqual(a.data);
    expect(reload).toBeLessThan(2000);
    const img = await readImage(sources[3].path);
    const direct = alignFace(img, sources[3].landmarks.map((v) => v * img.width / 250), 56).crop;
    expect(a.crop(3).data).toEqual(direct.data);
    expect(a.indexOf(sources[3].id)).toBe(3);
    const x = a.batch([0, 1], [false, true]);
    expect(x.length).toBe(2 * 56 * 56 * 3);
    await loadOrBuildCropCache(dir, "lfw", 32, sources.slice(0, 4), { quiet: true });
    expect([...Deno.readDirSync(dir)].length).toBe(4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crop cache: a corrupt image fails naming the file and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sources = await goldenSources(3);
    const bytes = await Deno.readFile(sources[1].path);
    await Deno.writeFile(`${dir}/broken.jpg`, bytes.subarray(0, 500));
    sources[1] = { ...sources[1], path: `${dir}/broken.jpg` };
    await expect(loadOrBuildCropCache(`${dir}/cache`, "x", 32, sources, { quiet: true })).rejects.toThrow(
      /broken\.jpg: cannot decode/,
    );
    await expect(Deno.stat(`${dir}/cache`)).rejects.toThrow();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
