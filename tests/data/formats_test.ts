import { expect } from "expect";
import {
  identityOverlap,
  parsePairList,
  parseTrainList,
  readImageFolders,
  readPairList,
  readTrainList,
} from "../../lib/data/formats.ts";

Deno.test("image folders: one folder per identity, sorted labels; empty folder and stray file are errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const p of ["bob/2.jpg", "bob/1.png", "alice/x.pgm"]) {
      await Deno.mkdir(`${dir}/${p.split("/")[0]}`, { recursive: true });
      await Deno.writeFile(`${dir}/${p}`, new Uint8Array(1));
    }
    const set = await readImageFolders(dir);
    expect(set.identities).toEqual(["alice", "bob"]);
    expect(set.items).toEqual([{ path: "alice/x.pgm", label: 0 }, { path: "bob/1.png", label: 1 }, {
      path: "bob/2.jpg",
      label: 1,
    }]);
    await Deno.mkdir(`${dir}/carol`);
    await expect(readImageFolders(dir)).rejects.toThrow(/carol: identity folder holds no images/);
    await Deno.remove(`${dir}/carol`);
    await Deno.writeFile(`${dir}/stray.jpg`, new Uint8Array(1));
    await expect(readImageFolders(dir)).rejects.toThrow(/stray\.jpg: image outside an identity folder/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OpenSphere training and pair lists: parse, labels, errors naming file and line, missing images", async () => {
  const t = parseTrainList("b/1.jpg 10\na/1.jpg 2\na/2.jpg 2\n", "train.txt");
  expect(t.identities).toEqual(["2", "10"]);
  expect(t.items.map((i) => i.label)).toEqual([1, 0, 0]);
  expect(parseTrainList("x/1.jpg bob\ny/1.jpg al\n", "t").items.map((i) => i.label)).toEqual([0, 1]);
  expect(() => parseTrainList("a/1.jpg 0\na/2.jpg\n", "train.txt")).toThrow(
    /^train\.txt:2: expected "relative\/path identity", got 1/,
  );
  const p = parsePairList("1 a/1.jpg a/2.jpg\n0 b/1.jpg a/1.jpg\n", "pairs.lst");
  expect(p.pairs[1]).toEqual({ same: false, path0: "b/1.jpg", path1: "a/1.jpg", line: 2 });
  expect(p.paths).toEqual(["a/1.jpg", "a/2.jpg", "b/1.jpg"]);
  expect(() => parsePairList("2 a b\n", "pairs.lst")).toThrow(/pairs\.lst:1: label must be 0 or 1/);
  expect(() => parsePairList("1 a\n", "pairs.lst")).toThrow(/pairs\.lst:1: expected "label path0 path1"/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.writeFile(`${dir}/a/1.jpg`, new Uint8Array(1));
    await Deno.writeTextFile(`${dir}/pairs.lst`, "1 a/1.jpg a/1.jpg\n1 a/1.jpg a/9.jpg\n");
    await expect(readPairList(`${dir}/pairs.lst`, dir)).rejects.toThrow(/pairs\.lst:2: image .*a\/9\.jpg not found/);
    await Deno.writeTextFile(`${dir}/train.txt`, "a/1.jpg 0\n");
    expect((await readTrainList(`${dir}/train.txt`, dir)).items.length).toBe(1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("identity overlap by name", () => {
  expect(identityOverlap(["a", "b", "c"], ["c", "x", "a", "a"])).toEqual(["a", "c"]);
  expect(identityOverlap([], ["a"])).toEqual([]);
});
