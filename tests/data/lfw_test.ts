import { expect } from "expect";
import { openLfw, parseLfwNames, parsePairs, parsePeople } from "../../lib/data/lfw.ts";
import { parseLandmarkFile, readLandmarkFile } from "../../lib/data/landmarks.ts";
import { identityOverlap } from "../../lib/data/formats.ts";
import { LFW_DIR, lfwTest } from "../shared.ts";

const LFW = LFW_DIR ?? "";

lfwTest("real LFW: View 2 is 10 folds of 300 matched + 300 mismatched, all images present", async () => {
  const lfw = await openLfw(LFW);
  expect(lfw.landmarks.size).toBe(13233);
  const { folds, pairs } = await lfw.view2();
  expect(folds.length).toBe(10);
  for (const f of folds) {
    expect(f.length).toBe(600);
    expect(f.filter((p) => p.same).length).toBe(300);
  }
  expect(pairs.dropped.length).toBe(0);
  expect(folds[0][0]).toMatchObject({
    a: { name: "Abel_Pacheco", index: 1 },
    b: { name: "Abel_Pacheco", index: 4 },
    line: 2,
  });
  // Landmarks scale from the 250 frame to the 150-pixel copy by the plain ratio.
  expect(lfw.landmarksOf({ name: "Aaron_Eckhart", index: 1 }, 150)[0]).toBeCloseTo(64.2, 12);
});

lfwTest(
  "real LFW: View 1 is open-set; the missing Betsy_Coffin image fails strictly and is dropped on request",
  async () => {
    const lfw = await openLfw(LFW);
    await expect(lfw.view1()).rejects.toThrow(/pairsDevTest\.txt:585: identity Betsy_Coffin not found/);
    const v1 = await lfw.view1({ skipIncomplete: true });
    expect(v1.train.length).toBe(4038);
    expect(v1.train.reduce((n, i) => n + i.images.length, 0)).toBe(9525);
    expect(v1.test.pairs.length).toBe(999);
    expect(v1.test.dropped.map((p) => p.line)).toEqual([585]);
    const overlap = identityOverlap(v1.train.map((i) => i.name), v1.test.pairs.flatMap((p) => [p.a.name, p.b.name]));
    expect(overlap).toEqual([]);
    // View 2 pairs do share people with the View 1 training list: the overlap report finds them.
    const v2 = await lfw.view2();
    const o2 = identityOverlap(v1.train.map((i) => i.name), v2.pairs.pairs.flatMap((p) => [p.a.name, p.b.name]));
    expect(o2.length).toBeGreaterThan(100);
  },
);

lfwTest("real LFW people files: people.txt has 10 folds, 5,749 people", async () => {
  const p = parsePeople(await Deno.readTextFile(`${LFW}/people.txt`), "people.txt");
  expect(p.folds.map((f) => f.length)).toEqual([601, 555, 552, 560, 567, 527, 597, 601, 580, 609]);
  const t = parsePeople(await Deno.readTextFile(`${LFW}/peopleDevTest.txt`), "peopleDevTest.txt");
  expect(t.folds[0].length).toBe(1711);
});

Deno.test("bad pairs files: malformed line, short line, wrong pair count in a fold, bad header", () => {
  const ok = "2\t2\nA\t1\t2\nB\t1\t2\nA\t1\tB\t1\nA\t2\tB\t2\nC\t1\t2\nD\t1\t2\nC\t1\tD\t1\nC\t2\tD\t2\n";
  expect(parsePairs(ok, "p.txt").pairs.length).toBe(8);
  expect(() => parsePairs(ok.replace("B\t1\t2\n", "B\t1\n"), "p.txt")).toThrow(/^p\.txt:3: expected 3 fields/);
  expect(() => parsePairs(ok.replace("B\t1\t2\n", "B\tone\t2\n"), "p.txt")).toThrow(/^p\.txt:3: image number/);
  // Fold 1 with 1 matched + 3 mismatched.
  expect(() => parsePairs(ok.replace("B\t1\t2\n", "B\t1\tA\t2\n"), "p.txt")).toThrow(
    /p\.txt:3: fold 1 must hold 2 matched then 2 mismatched.*wrong pair count/,
  );
  expect(() => parsePairs(ok.trimEnd().split("\n").slice(0, -1).join("\n"), "p.txt")).toThrow(
    /header says 2 fold\(s\) × \(2 \+ 2\) = 8 pairs, found 7/,
  );
  expect(() => parsePairs(ok + "E\t1\t2\n", "p.txt")).toThrow(/p\.txt:10: more pairs than/);
  expect(() => parsePairs("ten\n", "p.txt")).toThrow(/p\.txt:1: header/);
});

Deno.test("bad people and landmark files name the file and line", () => {
  expect(() => parsePeople("2\nA\t1\nB\n", "pe.txt")).toThrow(/pe\.txt:3: expected "name<tab>count"/);
  expect(() => parsePeople("3\nA\t1\nB\t2\n", "pe.txt")).toThrow(/pe\.txt: file ends early/);
  expect(() => parseLandmarkFile("A/A_0001.jpg\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\nB/B_0001.jpg\t1\t2\t3\n", "lm.txt"))
    .toThrow(/lm\.txt:2: expected a path and 10 landmark coordinates .* got 3 values/);
  expect(() => parseLandmarkFile("A/A_0001.jpg 1 2 3 4 5 6 7 8 9 x\n", "lm.txt")).toThrow(
    /lm\.txt:1: landmark value 10 is not a number/,
  );
});

lfwTest("the LFW landmark file parses (no final newline) and has every LFW image", async () => {
  const t = await readLandmarkFile(`${LFW}/landmarks/lfw_landmark.txt`);
  expect(t.size).toBe(13233);
  expect(t.get("Aaron_Eckhart/Aaron_Eckhart_0001.jpg")).toEqual([107, 107, 147, 111, 124, 143, 103, 157, 139, 161]);
});

Deno.test("LFW layout errors: missing folder, missing image, identity not found", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await expect(openLfw(dir)).rejects.toThrow(/not an LFW-layout folder: images\/ is missing/);
    await Deno.mkdir(`${dir}/images/A`, { recursive: true });
    await Deno.mkdir(`${dir}/landmarks`);
    await Deno.writeTextFile(`${dir}/landmarks/lfw_landmark.txt`, "");
    await Deno.writeFile(`${dir}/images/A/A_0001.jpg`, new Uint8Array(1));
    await Deno.writeTextFile(`${dir}/pairs.txt`, "1\t1\nA\t1\t2\nA\t1\tZ\t1\n");
    const lfw = await openLfw(dir);
    await expect(lfw.pairs("pairs.txt")).rejects.toThrow(/pairs\.txt:2: image .*A_0002\.jpg not found/);
    await Deno.writeFile(`${dir}/images/A/A_0002.jpg`, new Uint8Array(1));
    await expect((await openLfw(dir)).pairs("pairs.txt")).rejects.toThrow(/pairs\.txt:3: identity Z not found/);
    await expect(lfw.pairs("nope.txt")).rejects.toThrow(/nope\.txt: pairs file not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

lfwTest("parseLfwNames: the real file (5,749 people, 13,233 images) and errors naming file and line", async () => {
  const file = `${LFW}/lfw-names.txt`;
  const names = parseLfwNames(await Deno.readTextFile(file), file);
  expect(names.length).toBe(5749);
  expect(names.reduce((n, p) => n + p.count, 0)).toBe(13233);
  expect(names[0]).toEqual({ name: "AJ_Cook", count: 1 });
  expect(() => parseLfwNames("A\t2\nB two\n", "n.txt")).toThrow(/n\.txt:2: expected "name<tab>count", got "B two"/);
  expect(() => parseLfwNames("\n", "n.txt")).toThrow(/n\.txt: empty names file/);
});
