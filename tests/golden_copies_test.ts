/**
 * The golden files the kit carries (`tests/golden/`) are byte-for-byte copies of the team's ground truth
 * (`../shared/vectors/` beside the kit's development checkout). Where that folder is present (CI, the team's
 * machines) every file must be in both with identical bytes; on a user's clone, where it is absent, the comparison
 * is reported as ignored.
 */
import { expect } from "expect";
import { join, relative } from "node:path";
import { isDir } from "../lib/fs/paths.ts";
import { sha256Hex } from "../lib/fs/sha256.ts";
import { GOLDEN, REPO } from "./shared.ts";

const SHARED_VECTORS = join(REPO, "../shared/vectors");
/** Files of the kit's copy that are not part of the shared set (the kit's own words about it). */
const KIT_ONLY = new Set(["README.md"]);

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else out.push(relative(root, path));
    }
  }
  await walk(root);
  return out.sort();
}

const present = await isDir(SHARED_VECTORS);

Deno.test({
  name: present
    ? "tests/golden is a byte-for-byte copy of ../shared/vectors"
    : "tests/golden is a byte-for-byte copy of ../shared/vectors [skipped: no ../shared beside the kit]",
  ignore: !present,
  fn: async () => {
    const shared = await listFiles(SHARED_VECTORS);
    const kit = (await listFiles(GOLDEN)).filter((f) => !KIT_ONLY.has(f));
    expect(kit).toEqual(shared);
    const differing: string[] = [];
    for (const f of shared) {
      const [a, b] = await Promise.all([Deno.readFile(join(SHARED_VECTORS, f)), Deno.readFile(join(GOLDEN, f))]);
      if (a.length !== b.length || (await sha256Hex(a)) !== (await sha256Hex(b))) differing.push(f);
    }
    expect(differing).toEqual([]);
  },
});

Deno.test("tests/golden holds every set the verify tasks and tests default to", async () => {
  for (const f of ["heads.json", "metrics.json", "backbones.json", "alignment/cases.json"]) {
    expect(await Deno.stat(join(GOLDEN, f)).then((s) => s.isFile)).toBe(true);
  }
});
