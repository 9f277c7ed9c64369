import assert from "node:assert/strict";
import { lastLine, runDeno } from "../shared.ts";

/** Small settings shared by the three notebooks (each ignores the keys it does not use). */
const SMALL = { steps: 80, points: 41, margins: [0.1, 0.5], ts: [3], classes: 4, backend: "wasm" };

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
    assert.equal(summary.notebooks.length, 3);
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
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task notebooks: an unknown notebook is a usage error listing the available ones", async () => {
  const r = await runDeno(["tasks/notebooks.ts", "nope", "--out", "/nonexistent/never-written"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no notebook "nope"; available: 01_softmax_to_binary, 02_sphereface2_loss/);
});
