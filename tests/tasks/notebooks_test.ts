import assert from "node:assert/strict";
import { lastLine, runDeno } from "../shared.ts";

/** Small settings shared by the notebooks (each ignores the keys it does not use; 04's start with `parallel`). */
const SMALL = {
  steps: 80,
  points: 41,
  margins: [0.1, 0.5],
  ts: [3],
  classes: 4,
  backend: "wasm",
  parallelClasses: [300, 1200],
  parallelShards: [1, 2],
  parallelBatch: 32,
  parallelDim: 32,
  parallelWarmup: 1,
  parallelSteps: 1,
};

Deno.test("deno task notebooks: all notebooks execute headless; results folders and key numbers", async () => {
  const root = await Deno.makeTempDir();
  try {
    const out = `${root}/notebooks`;
    const r = await runDeno(
      ["tasks/notebooks.ts", "--out", out, "--params", JSON.stringify(SMALL)],
      { SF2_CACHE_DIR: `${root}/cache` },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(lastLine(r.stdout));
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.notebooks.length, 4);
    const read = async (name: string) => {
      for (const f of [`${name}.ipynb`, `${name}.html`, "key_numbers.json"]) await Deno.stat(`${out}/${name}/${f}`);
      return JSON.parse(await Deno.readTextFile(`${out}/${name}/key_numbers.json`));
    };

    // 01: both heads fit the toy identities; SphereFace2's learned τ separates as well as the best threshold.
    const k1 = await read("01_softmax_to_binary");
    assert.equal(k1.steps, 80);
    assert.ok(k1.sphereface2.trainAccuracy >= 0.95, JSON.stringify(k1));
    assert.ok(k1.sphereface2.threshold > 0 && k1.sphereface2.threshold < 1);
    assert.ok(k1.sphereface2.accuracyAtThreshold >= k1.sphereface2.bestAccuracy - 0.05);
    assert.equal(k1.softmax.coverage, 1, "argmax covers the whole circle");

    // 02: closed-form b₀ (OpenSphere's numbers), stationarity, the tensor loss' ∂L/∂b, the K − 1 ratio.
    const k2 = await read("02_sphereface2_loss");
    assert.ok(Math.abs(k2.b0["VGGFace2 C"] - 5.78457) < 1e-5);
    assert.ok(Math.abs(k2.b0["MS1MV2 C"] - 6.02725) < 1e-5);
    assert.ok(k2.b0MaxDeviationFromOpenSphere < 1e-5);
    assert.ok(k2.stationarityResidualC < 1e-12);
    assert.ok(Math.abs(k2.tensorDLdb.atB0) < 1e-3, `∂L/∂b at b₀: ${k2.tensorDLdb.atB0}`);
    assert.ok(k2.tensorDLdb.atB0minus1 < -0.05 && k2.tensorDLdb.atB0plus1 > 0.05);
    assert.ok(Math.abs(k2.gradientRatioAtCos0 - 8630) < 1e-6);

    // 03: analytic boundaries at b₀ and the simulated sweep: a larger m widens the gap and moves τ up.
    const k3 = await read("03_geometry_and_thresholds");
    const t3 = k3.analytic.find((r: { t: number }) => r.t === 3);
    assert.ok(Math.abs(t3.b0 - 5.78457) < 1e-5);
    assert.ok(t3.targetCos > t3.nonTargetCos && t3.gap > 0.3);
    assert.equal(k3.runs.length, 2);
    const [small, large] = k3.runs;
    assert.ok(large.empiricalGap > small.empiricalGap, JSON.stringify(k3.runs));
    assert.ok(large.threshold > small.threshold);
    assert.ok(large.verifyAtThreshold > 0.8);

    // 04: measured traffic equals the cost model (recomputed here from B and d), 1 vs 3 rounds, unchunked shards at
    // these sizes (the heap budget), and the modelled 8-GPU difference and the quoted anchor's fit.
    const k4 = await read("04_model_parallel");
    const { parallelBatch: B, parallelDim: d } = SMALL;
    assert.equal(k4.measured.runs, 2 * SMALL.parallelClasses.length * SMALL.parallelShards.length);
    assert.deepEqual(k4.measured.roundsPerStep, { sphereface2: 1, arcface: 3 });
    assert.ok(k4.measured.bytesEqualModel && k4.measured.roundsEqualModel, JSON.stringify(k4.measured));
    assert.ok(k4.measured.bytesIndependentOfK);
    for (const r of k4.measured.rows) {
      const perShard = r.family === "sphereface2"
        ? (4 * B * d + 4 * B + 4) + (4 * B * d + 8)
        : 2 * (4 * B * d + 12 * B);
      assert.equal(r.bytesPerStep, r.shards * perShard, JSON.stringify(r));
      assert.equal(r.maxChunksPerShard, 1, JSON.stringify(r));
      assert.ok(r.imagesPerSecond > 0 && r.peakShardMB > 0);
    }
    const m8 = k4.modelled8Gpu;
    assert.deepEqual(m8.collectives, { sphereface2: 4, softmax: 6 });
    const Bg = 8 * m8.perGpuBatch;
    assert.ok(Math.abs(m8.softmaxExtraBytesPerGpu - (7 / 8) * (3 * 2 * Bg * 4 - 2 * 2 * 4)) < 1e-6);
    assert.ok(m8.commDifferenceMs.nvlink > 0 && m8.commDifferenceMs.pcie > m8.commDifferenceMs.nvlink);
    assert.ok(m8.differencePercentOfStep.pcie > 0 && m8.differencePercentOfStep.pcie < 1, JSON.stringify(m8));
    assert.equal(k4.quotedAnchor.quoted55M, 1389);
    assert.ok(k4.quotedAnchor.relativeError < 0.01);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task notebooks: an unknown notebook is a usage error listing the available ones", async () => {
  const r = await runDeno(["tasks/notebooks.ts", "nope", "--out", "/nonexistent/never-written"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no notebook "nope"; available: 01_softmax_to_binary, 02_sphereface2_loss/);
});
