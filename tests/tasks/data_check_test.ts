import { expect } from "expect";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { loadOrBuildCropCache } from "../../lib/data/crop_cache.ts";
import { lfwView1Data } from "../../lib/train/lfw_data.ts";
import { runDeno } from "../shared.ts";

/** A small LFW-layout folder (the kit's synthetic faces) to damage. */
async function dataset(): Promise<{ dir: string; image: string; rel: string }> {
  const dir = `${await Deno.makeTempDir()}/syn`;
  await writeSyntheticDataset(
    dir,
    {
      identities: 8,
      imagesPerIdentity: 3,
      size: 32,
      folds: 2,
      pairsPerFold: 4,
      quiet: true,
    } as Parameters<typeof writeSyntheticDataset>[1],
  );
  const people = await Deno.readTextFile(`${dir}/peopleDevTrain.txt`);
  const name = people.split("\n")[1].split("\t")[0];
  const rel = `${name}/${name}_0001.jpg`;
  return { dir, image: `${dir}/images/${rel}`, rel };
}

const check = (dir: string) => runDeno(["tasks/data.ts", "check", "--dir", dir]);

Deno.test("data check: decodes every image: a truncated JPEG and a non-image fail naming the file", async () => {
  const { dir, image } = await dataset();
  expect((await check(dir)).code).toBe(0);
  const bytes = await Deno.readFile(image);
  await Deno.writeFile(image, bytes.subarray(0, bytes.length >> 1));
  const truncated = await check(dir);
  expect(truncated.code).toBe(1);
  expect(truncated.stderr).toContain(image);
  await Deno.writeTextFile(image, "not an image at all\n");
  const text = await check(dir);
  expect(text.code).toBe(1);
  expect(text.stderr).toContain(image);
  expect(text.stderr).toMatch(/cannot decode image/);
});

Deno.test("data check: an empty landmark file, or a missing landmark entry, fails naming the landmark file and image", async () => {
  const { dir, rel } = await dataset();
  const file = `${dir}/landmarks/lfw_landmark.txt`;
  const original = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, original.split("\n").filter((l) => !l.startsWith(rel)).join("\n"));
  const missing = await check(dir);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain(file);
  expect(missing.stderr).toContain(`no landmarks for ${rel}`);
  await Deno.writeTextFile(file, "");
  const empty = await check(dir);
  expect(empty.code).toBe(1);
  expect(empty.stderr).toMatch(new RegExp(`${file}.*empty`));
});

Deno.test("training on LFW data names the landmark file and the image on a missing landmark entry (not `0 vs 5`)", async () => {
  const { dir, rel } = await dataset();
  const file = `${dir}/landmarks/lfw_landmark.txt`;
  const original = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, original.split("\n").filter((l) => !l.startsWith(rel)).join("\n"));
  const cacheDir = await Deno.makeTempDir();
  await expect(lfwView1Data({ dir, cacheDir, size: 16, quiet: true, skipIncomplete: false })).rejects.toThrow(
    new RegExp(`${file}: no landmarks for ${rel}`),
  );
});

Deno.test("crop cache: a cache replaced by same-size garbage is detected by its checksum and rebuilt", async () => {
  const { dir, rel } = await dataset();
  const cacheDir = await Deno.makeTempDir();
  const sources = [{
    id: rel,
    path: `${dir}/images/${rel}`,
    landmarks: [107, 107, 147, 111, 124, 143, 103, 157, 139, 161],
    frame: 250,
  }];
  const first = await loadOrBuildCropCache(cacheDir, "t", 16, sources, { quiet: true });
  const good = first.crop(0).data.slice();
  const u8 = [...Deno.readDirSync(cacheDir)].find((e) => e.name.endsWith(".u8"))!.name;
  await Deno.writeFile(`${cacheDir}/${u8}`, new Uint8Array(good.length).fill(7));
  const again = await loadOrBuildCropCache(cacheDir, "t", 16, sources, { quiet: true });
  expect(again.crop(0).data).toEqual(good);
});

Deno.test("crop cache: temp files of a killed build (dead pid) are removed by the next build", async () => {
  const { dir, rel } = await dataset();
  const cacheDir = await Deno.makeTempDir();
  const child = new Deno.Command("true").spawn();
  await child.status;
  await Deno.writeFile(`${cacheDir}/t-16px-0123456789abcdef.u8.tmp-${child.pid}`, new Uint8Array(10));
  const sources = [{
    id: rel,
    path: `${dir}/images/${rel}`,
    landmarks: [107, 107, 147, 111, 124, 143, 103, 157, 139, 161],
    frame: 250,
  }];
  await loadOrBuildCropCache(cacheDir, "t", 16, sources, { quiet: true });
  expect([...Deno.readDirSync(cacheDir)].filter((e) => e.name.includes(".tmp-"))).toEqual([]);
});

Deno.test("data check: a relative --dir typed in another directory resolves there (INIT_CWD)", async () => {
  const { dir } = await dataset();
  const parent = dir.replace(/\/syn$/, "");
  const r = await runDeno(["tasks/data.ts", "check", "--dir", "syn"], { INIT_CWD: parent });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!).dir).toBe(dir);
});
