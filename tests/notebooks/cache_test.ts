import assert from "node:assert/strict";
import { cached } from "../../lib/notebook/cache.ts";

Deno.test("cached: computes once per (name, inputs), then reads; recompute forces; no temp files left", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let calls = 0;
    const compute = () => ({ n: ++calls });
    const a = await cached("step", { x: 1 }, compute, { dir, recompute: false });
    const b = await cached("step", { x: 1 }, compute, { dir, recompute: false });
    const c = await cached("step", { x: 2 }, compute, { dir, recompute: false });
    const d = await cached("step", { x: 1 }, compute, { dir, recompute: true });
    assert.deepEqual([a.fromCache, b.fromCache, c.fromCache, d.fromCache], [false, true, false, false]);
    assert.deepEqual([a.value, b.value, c.value, d.value], [{ n: 1 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    assert.equal(a.path, b.path);
    assert.notEqual(a.path, c.path);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(files.length, 2, files.join(", "));
    assert.ok(files.every((f) => /^step-[0-9a-f]{16}\.json$/.test(f)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cached: a failing computation writes nothing; a corrupt entry is recomputed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(cached("boom", {}, () => Promise.reject(new Error("no")), { dir }), /no/);
    assert.equal([...Deno.readDirSync(dir)].length, 0);
    const first = await cached("v", {}, () => 1, { dir, recompute: false });
    await Deno.writeTextFile(first.path, "{truncated");
    const again = await cached("v", {}, () => 2, { dir, recompute: false });
    assert.deepEqual([again.value, again.fromCache], [2, false]);
    await assert.rejects(cached("bad name", {}, () => 1, { dir }), /name must be/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
