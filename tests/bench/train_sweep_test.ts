/**
 * Tests for `bench train-sweep` (lib/bench/train_sweep.ts), not its speed: the grid, the rows read from stubbed
 * children (PyTorch's figures, a failed PyTorch, a failed kit, an absent twin), the table, `--append` and the files
 * written; then one tiny real sweep end to end (sfnet4, width 0.125, 24 px, one step, no PyTorch).
 *
 * Run: node_modules/.bin/deno test -A tests/bench/train_sweep_test.ts
 */
import assert from "node:assert/strict";
import { expect } from "expect";
import {
  mergeTrainSweep,
  runTrainSweep,
  trainSweepPoints,
  type TrainSweepRow,
  trainSweepTable,
  writeTrainSweep,
} from "../../lib/bench/train_sweep.ts";
import type { ChildResult } from "../../lib/bench/sweep.ts";
import { runDeno } from "../shared.ts";

const CONFIG = { model: "sfnet20", batch: 64, classes: 1000, warmup: 1, steps: 3 };

/** What `bench train` prints last (kit fields, and with `torch` the `pytorch` object), as a child's result. */
function childJson(kitSeconds: number, torchSeconds?: number): ChildResult {
  const r: Record<string, unknown> = {
    bench: "train",
    backend: "wasm",
    params: 1234,
    stepSeconds: kitSeconds,
    imagesPerSecond: 64 / kitSeconds,
    peakRssMB: 300,
    loadAverage: 2.5,
  };
  if (torchSeconds !== undefined) {
    r.pytorch = {
      stepSeconds: torchSeconds,
      imagesPerSecond: 64 / torchSeconds,
      peakRssMB: 500,
      blas: { kind: "openblas", libraries: [] },
    };
    r.speedVsPytorch = torchSeconds / kitSeconds;
  }
  return { ok: true, last: JSON.stringify(r), stderr: "  kit ...\n" };
}

function row(width: number, size: number, kitSeconds: number | null): TrainSweepRow {
  return {
    ...CONFIG,
    width,
    size,
    params: null,
    backend: "wasm",
    kitSeconds,
    kitImagesPerSecond: kitSeconds && 64 / kitSeconds,
    kitPeakRssMB: 100,
    torchSeconds: null,
    torchImagesPerSecond: null,
    torchPeakRssMB: null,
    ratio: null,
    blas: null,
    loadAverage: null,
    note: "",
  };
}

Deno.test("train sweep: every size × width once, sizes outer", () => {
  expect(trainSweepPoints({ widths: [0.25, 0.5, 0.25], sizes: [56, 112] })).toEqual([
    { width: 0.25, size: 56 },
    { width: 0.5, size: 56 },
    { width: 0.25, size: 112 },
    { width: 0.5, size: 112 },
  ]);
});

Deno.test("train sweep: rows from the child's JSON; a failed PyTorch keeps the kit's figures; a failed kit is noted", async () => {
  const seen: string[][] = [];
  const rows = await runTrainSweep({
    ...CONFIG,
    torch: true,
    points: [{ width: 0.25, size: 56 }, { width: 0.5, size: 56 }, { width: 1, size: 56 }, { width: 2, size: 56 }],
    runBench: (args) => {
      seen.push(args);
      const torch = args.includes("--torch");
      const width = args.find((a) => a.startsWith("--width="));
      if (width === "--width=0.25") return Promise.resolve(childJson(0.5, 1.0));
      if (width === "--width=0.5") {
        // PyTorch fails (the child exits non-zero); the kit alone runs.
        return Promise.resolve(
          torch
            ? { ok: false, last: "", stderr: "  kit 12 img/s\nerror: PyTorch reference failed (python3 x)\n" }
            : childJson(0.8),
        );
      }
      if (width === "--width=1") return Promise.resolve({ ok: false, last: "", stderr: "error: wasm out of memory\n" });
      return Promise.resolve(childJson(2)); // --torch asked for, but no pytorch object came back
    },
  });
  expect(seen[0]).toEqual([
    "--model=sfnet20",
    "--width=0.25",
    "--size=56",
    "--batch=64",
    "--classes=1000",
    "--warmup=1",
    "--steps=3",
    "--torch",
    "--repeats=1",
  ]);
  // One child for the good point, two (with and without PyTorch) for each failure, one for the absent twin.
  expect(seen.map((a) => [a[1], a.includes("--torch")])).toEqual([
    ["--width=0.25", true],
    ["--width=0.5", true],
    ["--width=0.5", false],
    ["--width=1", true],
    ["--width=1", false],
    ["--width=2", true],
  ]);
  const [good, torchFailed, kitFailed, absent] = rows;
  expect(good).toMatchObject({
    model: "sfnet20",
    width: 0.25,
    size: 56,
    batch: 64,
    classes: 1000,
    params: 1234,
    kitSeconds: 0.5,
    kitImagesPerSecond: 128,
    kitPeakRssMB: 300,
    torchSeconds: 1,
    torchImagesPerSecond: 64,
    torchPeakRssMB: 500,
    ratio: 2,
    blas: "openblas",
    loadAverage: 2.5,
    note: "",
  });
  expect(torchFailed).toMatchObject({ kitSeconds: 0.8, torchSeconds: null, ratio: null, blas: null });
  expect(torchFailed.note).toBe("PyTorch failed: error: PyTorch reference failed (python3 x). ");
  expect(kitFailed).toMatchObject({ kitSeconds: null, kitPeakRssMB: null, torchSeconds: null });
  expect(kitFailed.note).toBe("kit failed: error: wasm out of memory. ");
  expect(absent).toMatchObject({ kitSeconds: 2, torchSeconds: null });
  expect(absent.note).toMatch(/PyTorch: no figures/);

  const table = trainSweepTable(rows).trimEnd().split("\n");
  assert.equal(table.length, 2 + rows.length);
  assert.match(table[0], /^\| model \| width \| size \| B \| K \| kit s\/step \| PyTorch s\/step \| PyTorch \/ kit \|/);
  assert.equal(
    table[2],
    "| sfnet20 | 0.25 | 56 | 64 | 1,000 | 0.500 | 1.000 | 2.00× | 128.0 | 64.0 | 300 | 500 | openblas | 2.5 |  |",
  );
  assert.match(
    table[4],
    /^\| sfnet20 \| 1 \| 56 \| 64 \| 1,000 \| – \| – \| – \| – \| – \| – \| – \| – \| – \| kit failed/,
  );
});

Deno.test("train sweep: without --torch one child per point and no PyTorch note", async () => {
  const seen: string[][] = [];
  const rows = await runTrainSweep({
    ...CONFIG,
    torch: false,
    points: [{ width: 0.25, size: 56 }, { width: 0.5, size: 56 }],
    runBench: (args) => {
      seen.push(args);
      return Promise.resolve(args[1] === "--width=0.5" ? { ok: false, last: "", stderr: "" } : childJson(0.05));
    },
  });
  assert.equal(seen.length, 2);
  assert.ok(seen.every((a) => !a.includes("--torch") && !a.includes("--repeats=1")));
  expect(rows.map((r) => [r.kitSeconds, r.note])).toEqual([[0.05, ""], [null, "kit failed: no error message. "]]);
  assert.match(trainSweepTable(rows), /\| 0\.0500 \| – \|/);
});

Deno.test("train sweep: writes sweep.json, report.md and both figures; --append merges by point", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = [row(0.25, 56, 0.5), row(0.5, 56, 1), { ...row(0.25, 112, 2), torchSeconds: 3, torchPeakRssMB: 9 }];
    await writeTrainSweep(dir, first, "first");
    for (const f of ["sweep.json", "report.md", "time-vs-width.svg", "memory-vs-width.svg"]) {
      assert.ok((await Deno.stat(`${dir}/${f}`)).size > 0, f);
    }
    const time = await Deno.readTextFile(`${dir}/time-vs-width.svg`);
    assert.match(time, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(time, /seconds per step vs width \(sfnet20, B = 64, K = 1,000\): kit solid, PyTorch dashed/);
    assert.match(time, />56 px</);
    assert.match(time, />112 px</);
    assert.match(time, /stroke-dasharray="5,3"/); // PyTorch dashed
    const report = await Deno.readTextFile(`${dir}/report.md`);
    assert.match(report, /^# Training step against width and input size\n\nCommand: `first`/);
    assert.match(report, /\| sfnet20 \| 0\.5 \| 56 \| 64 \| 1,000 \| 1\.000 \|/);
    assert.match(report, /!\[time vs width\]\(time-vs-width\.svg\)/);
    // No temporary files left behind.
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    expect(names.sort()).toEqual(["memory-vs-width.svg", "report.md", "sweep.json", "time-vs-width.svg"]);

    // --append: the same point replaced, a new one added, sorted (size, then width), commands joined.
    const written = await writeTrainSweep(dir, [row(0.5, 56, 7), row(1, 56, 8)], "second", true);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/sweep.json`));
    assert.equal(json.command, "first && second");
    expect(json.rows).toEqual(written);
    expect(written.map((r) => [r.size, r.width, r.kitSeconds])).toEqual([[56, 0.25, 0.5], [56, 0.5, 7], [56, 1, 8], [
      112,
      0.25,
      2,
    ]]);
    // Another batch is another point, not a replacement.
    const merged = await mergeTrainSweep(`${dir}/sweep.json`, [{ ...row(0.5, 56, 9), batch: 32 }]);
    expect(merged.rows.map((r) => [r.batch, r.width, r.kitSeconds])[0]).toEqual([32, 0.5, 9]);
    assert.equal(merged.rows.length, 5);
    expect(merged.commands).toEqual(["first && second"]);
    assert.equal((await mergeTrainSweep(`${dir}/absent.json`, [row(1, 24, 1)])).rows.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench train-sweep: a tiny real sweep end to end (one child, no PyTorch), and a bad --width refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = await runDeno(["tasks/bench.ts", "train-sweep", "--width", "0.25,x", "--out", dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bench train-sweep: --width: expected numbers in \[0\.01, 4\]/);
    const args = ["--model", "sfnet4", "--width", "0.125", "--size", "24", "--batch", "4", "--classes", "10"];
    const r = await runDeno(["tasks/bench.ts", "train-sweep", ...args, "--warmup", "0", "--steps", "1", "--out", dir]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/sweep.json`));
    assert.match(json.command, /^deno task bench train-sweep --model sfnet4 /);
    assert.equal(json.rows.length, 1);
    expect(json.rows[0]).toMatchObject({ model: "sfnet4", width: 0.125, size: 24, batch: 4, classes: 10, note: "" });
    assert.ok(json.rows[0].kitSeconds > 0 && json.rows[0].kitPeakRssMB > 0 && json.rows[0].params > 0);
    assert.equal(json.rows[0].torchSeconds, null);
    assert.match(await Deno.readTextFile(`${dir}/report.md`), /\| sfnet4 \| 0\.125 \| 24 \| 4 \| 10 \|/);
    assert.ok((await Deno.stat(`${dir}/time-vs-width.svg`)).size > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
