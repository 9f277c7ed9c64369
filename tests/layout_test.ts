/**
 * The architecture as a test: `lib/` folders are ordered by dependency, and a folder imports only folders below it.
 * The order is the one the README's "Layout" section lists (highest first), read from the README itself so that the
 * two cannot drift. Every import line of every module counts: static `import`/`export … from`, dynamic `import()`,
 * and worker entry points (`new URL("….ts", import.meta.url)`).
 */
import { expect } from "expect";
import { dirname, join, normalize, relative } from "node:path";
import { REPO } from "./shared.ts";

/** The `lib/<folder>/` lines of the README's Layout block, highest first. */
export function layoutOrder(readme: string): string[] {
  const section = readme.split(/^## Layout$/m)[1];
  if (!section) throw new Error("README.md: no '## Layout' section");
  const block = section.split("```")[1] ?? "";
  const order: string[] = [];
  for (const line of block.split("\n")) {
    for (const m of line.split(/\s{2,}/)[0].matchAll(/lib\/([a-z_]+)\//g)) order.push(m[1]);
  }
  return order;
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
/** A module loaded by URL (a worker's entry point); data files named by URL are not imports. */
const MODULE_URL = /new URL\(\s*["'](\.{1,2}\/[^"']+\.(?:ts|js))["']/g;

/** The relative specifiers a module's source imports (comments included: an example that imports counts too). */
export function importSpecifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER), ...source.matchAll(MODULE_URL)]
    .sort((a, b) => a.index! - b.index!)
    .map((m) => m[1]);
}

async function libModules(): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if (/\.(ts|js)$/.test(e.name)) out.push(path);
    }
  }
  await walk(join(REPO, "lib"));
  return out.sort();
}

Deno.test("layout: every lib/ folder imports only folders below it in the README's order (no cycle)", async () => {
  const order = layoutOrder(await Deno.readTextFile(join(REPO, "README.md")));
  const rank = new Map(order.map((f, i) => [f, order.length - i])); // higher rank = higher in the stack
  const folders = [...Deno.readDirSync(join(REPO, "lib"))].filter((e) => e.isDirectory).map((e) => e.name).sort();
  expect({ notInReadmeLayout: folders.filter((f) => !rank.has(f)) }).toEqual({ notInReadmeLayout: [] });
  expect({ inLayoutButMissing: order.filter((f) => !folders.includes(f)) }).toEqual({ inLayoutButMissing: [] });
  const violations: string[] = [];
  for (const file of await libModules()) {
    const from = relative(join(REPO, "lib"), file).split("/")[0];
    for (const spec of importSpecifiers(await Deno.readTextFile(file))) {
      const target = relative(REPO, normalize(join(dirname(file), spec)));
      const [top, folder] = target.split("/");
      if (top !== "lib") {
        violations.push(`${relative(REPO, file)} imports ${spec}: lib/ must not import ${top}/`);
      } else if (folder !== from && !((rank.get(folder) ?? Infinity) < rank.get(from)!)) {
        violations.push(`${relative(REPO, file)} imports ${target}: lib/${folder} is not below lib/${from}`);
      }
    }
  }
  expect(violations).toEqual([]);
});

Deno.test("layout: the checker sees static, re-export, dynamic and worker imports, and the README's order", () => {
  const src = [
    'import { a } from "../fs/paths.ts";',
    'export { b } from "./b.ts";',
    'const m = await import("../report/write.ts");',
    'new Worker(new URL("../parallel/shard_worker.ts", import.meta.url).href, { type: "module" });',
    'import "../backend/x.ts";',
    'import { z } from "zod";',
    'const twin = new URL("../../tasks/reference/bench_train_torch.py", import.meta.url);',
  ].join("\n");
  expect(importSpecifiers(src)).toEqual([
    "../fs/paths.ts",
    "./b.ts",
    "../report/write.ts",
    "../parallel/shard_worker.ts",
    "../backend/x.ts",
  ]);
  const readme = "## Layout\n\n```\nlib/b/   top\nlib/x/, lib/a/  two at once\ntests/  no\n```\n## Next\n";
  expect(layoutOrder(readme)).toEqual(["b", "x", "a"]);
});
