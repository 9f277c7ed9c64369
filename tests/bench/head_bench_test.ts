/**
 * Tests for the benchmark plumbing (not speed): the reference-BLAS guard of the PyTorch twins and the head sweep's
 * grid, rows and table, with the child processes stubbed.
 *
 * Run: node_modules/.bin/deno test -A tests/bench/head_bench_test.ts
 */
import assert from "node:assert/strict";
import { checkTorchBlas, ReferenceBlasError } from "../../lib/bench/torch_twin.ts";
import { mergeSweep, runHeadSweep, sweepPoints, sweepTable } from "../../lib/bench/head_sweep.ts";

Deno.test("checkTorchBlas: OpenBLAS passes, the reference BLAS is refused unless allowed (then marked)", () => {
  assert.equal(checkTorchBlas({ blas: { kind: "openblas", libraries: ["/x/libopenblasp-r0.3.21.so"] } }, false), null);
  const ref = { blas: { kind: "reference", libraries: ["/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"] } };
  assert.throws(
    () => checkTorchBlas(ref, false),
    (e) => e instanceof ReferenceBlasError && /REFERENCE BLAS/.test(e.message),
  );
  assert.match(checkTorchBlas(ref, true)!, /^WARNING: .*REFERENCE BLAS.*libopenblas0-pthread/);
  assert.match(checkTorchBlas({}, false)!, /unidentified BLAS/);
});

Deno.test("head sweep: the K axis at one B and the B axis at one K, each point once", () => {
  const points = sweepPoints({ classes: [1000, 10000], batches: [64, 256], batchForK: 256, classesForB: 10000 });
  assert.deepEqual(points, [
    { batch: 256, classes: 1000 },
    { batch: 256, classes: 10000 },
    { batch: 64, classes: 10000 },
  ]);
});

Deno.test("head sweep: rows from the child's JSON, cpu backend past the wasm limit, failures noted", async () => {
  const seen: string[][] = [];
  const rows = await runHeadSweep({
    points: [{ batch: 8, classes: 100 }, { batch: 8, classes: 10_000_000 }],
    dim: 512,
    loss: "sphereface2",
    torch: false,
    warmup: 0,
    steps: 1,
    runBench: (args) => {
      seen.push(args);
      return Promise.resolve(
        args.includes("--backend=cpu")
          ? { ok: false, last: "", stderr: "boom\n" }
          : { ok: true, last: JSON.stringify({ stepSeconds: 0.5, peakRssMB: 100, loadAverage: 1 }), stderr: "" },
      );
    },
  });
  assert.ok(!seen[0].includes("--backend=cpu") && seen[1].includes("--backend=cpu"));
  assert.equal(rows[0].kitSeconds, 0.5);
  assert.equal(rows[1].kitSeconds, null);
  assert.match(rows[1].note, /kit failed: boom/);
  const table = sweepTable(rows);
  assert.match(table, /\| 8 \| 100 \| 0\.5000 \| — \|/);
  assert.equal(table.split("\n").length, 4);
});

Deno.test("head sweep: --append merges rows into an earlier sweep.json, replacing the same point", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const row = (batch: number, classes: number, kitSeconds: number) => ({
      batch,
      classes,
      backend: "wasm + fused head",
      kitSeconds,
      kitPeakRssMB: 1,
      torchSeconds: null,
      torchPeakRssMB: null,
      ratio: null,
      blas: null,
      loadAverage: null,
      note: "",
    });
    await Deno.writeTextFile(
      `${dir}/sweep.json`,
      JSON.stringify({ command: "first", rows: [row(256, 1000, 1), row(256, 10000, 2)] }),
    );
    const merged = await mergeSweep(`${dir}/sweep.json`, [row(256, 10000, 3), row(256, 1000000, 9)]);
    assert.deepEqual(merged.rows.map((r) => [r.classes, r.kitSeconds]), [[1000, 1], [10000, 3], [1000000, 9]]);
    assert.deepEqual(merged.commands, ["first"]);
    assert.deepEqual((await mergeSweep(`${dir}/absent.json`, [row(64, 10, 1)])).rows.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
