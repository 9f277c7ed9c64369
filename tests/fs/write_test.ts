import assert from "node:assert/strict";
import { formatJson, RESULTS_MARKER, writeDirAtomic, writeFileIn } from "../../lib/fs/write.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Names in `dir` (sorted), to see that no temporary sibling was left behind. */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("writeDirAtomic: creates the folder with nested files and the marker, no temporaries left", async () => {
  const root = await Deno.makeTempDir();
  try {
    const target = `${root}/results/run`;
    const value = await writeDirAtomic(target, async (dir) => {
      assert.notEqual(dir, target);
      assert.equal(await exists(target), false, "target does not exist while building");
      await writeFileIn(dir, "a.txt", "hello");
      await writeFileIn(dir, "figures/b.svg", new TextEncoder().encode("<svg/>"));
      return 42;
    });
    assert.equal(value, 42);
    assert.equal(await Deno.readTextFile(`${target}/a.txt`), "hello");
    assert.equal(await Deno.readTextFile(`${target}/figures/b.svg`), "<svg/>");
    assert.ok(await exists(`${target}/${RESULTS_MARKER}`));
    assert.deepEqual(await names(`${root}/results`), ["run"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeDirAtomic: an error mid-way leaves no target and no temporary folder", async () => {
  const root = await Deno.makeTempDir();
  try {
    const target = `${root}/out`;
    await assert.rejects(
      writeDirAtomic(target, async (dir) => {
        await writeFileIn(dir, "half.json", "{");
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(await exists(target), false);
    assert.deepEqual(await names(root), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeDirAtomic: an error keeps the previous results intact; success replaces them", async () => {
  const root = await Deno.makeTempDir();
  try {
    const target = `${root}/out`;
    await writeDirAtomic(target, (dir) => writeFileIn(dir, "old.txt", "old"));
    await assert.rejects(
      writeDirAtomic(target, async (dir) => {
        await writeFileIn(dir, "new.txt", "new");
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.deepEqual(await names(target), [RESULTS_MARKER, "old.txt"]);
    assert.deepEqual(await names(root), ["out"]);

    await writeDirAtomic(target, (dir) => writeFileIn(dir, "new.txt", "new"));
    assert.deepEqual(await names(target), [RESULTS_MARKER, "new.txt"]);
    assert.deepEqual(await names(root), ["out"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeDirAtomic: refuses to replace a non-empty folder it did not write, or a file", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/precious`);
    await Deno.writeTextFile(`${root}/precious/keep.txt`, "keep");
    await assert.rejects(writeDirAtomic(`${root}/precious`, () => Promise.resolve()), /refusing to replace/);
    assert.equal(await Deno.readTextFile(`${root}/precious/keep.txt`), "keep");

    await Deno.writeTextFile(`${root}/file`, "x");
    await assert.rejects(writeDirAtomic(`${root}/file`, () => Promise.resolve()), /not a folder/);

    // An empty folder is fine, and `force` overrides the marker check.
    await Deno.mkdir(`${root}/empty`);
    await writeDirAtomic(`${root}/empty`, (dir) => writeFileIn(dir, "x.txt", "x"));
    await writeDirAtomic(`${root}/precious`, (dir) => writeFileIn(dir, "x.txt", "x"), { force: true });
    assert.deepEqual(await names(`${root}/precious`), [RESULTS_MARKER, "x.txt"]);
    assert.deepEqual(await names(root), ["empty", "file", "precious"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("formatJson: parses back to the same value; flat rows on one line each", () => {
  const value = {
    meta: { date: "2025-01-01", n: 2 },
    list: [1, 2, 3],
    rows: [{ series: "C", cos: -1, loss: 8.5, nothing: null }, { series: "A", cos: 1, loss: 0 }],
    empty: [],
    nested: { deeper: { x: [true, false] } },
    skipped: undefined,
  };
  const text = formatJson(value);
  assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
  assert.ok(text.includes('\n    {"series": "C", "cos": -1, "loss": 8.5, "nothing": null},\n'), text);
  assert.ok(text.includes('"list": [1, 2, 3]'));
  assert.ok(text.endsWith("}\n"));
});

Deno.test({
  name: "writeDirAtomic: SIGTERM while building removes the temporary folder and leaves no target",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = await Deno.makeTempDir();
    try {
      const module = new URL("../../lib/fs/write.ts", import.meta.url).href;
      const script = `
        import { writeDirAtomic, writeFileIn } from ${JSON.stringify(module)};
        await writeDirAtomic(${JSON.stringify(`${root}/out`)}, async (dir) => {
          await writeFileIn(dir, "half.json", "{");
          console.log("ready");
          await new Promise((resolve) => setTimeout(resolve, 60_000));
        });`;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      assert.ok(seen.includes("ready"), "child started building");
      assert.equal((await names(root)).length, 1, "a temporary folder exists while building");
      child.kill("SIGTERM");
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      assert.equal(status.code, 143);
      assert.deepEqual(await names(root), []);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
