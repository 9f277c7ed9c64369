import assert from "node:assert/strict";
import { VERDICTS } from "../../lib/experiments/claims.ts";
import { distinctCells, type Family, loadExperiments, loadProfile } from "../../lib/experiments/spec.ts";
import { lastLine, runDeno } from "../shared.ts";

/**
 * Small settings shared by the notebooks (each ignores the keys it does not use; 04's start with `parallel`, 05–08's
 * with `experiments`: they retrain their families on the smoke grid).
 */
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
  experimentsSource: "retrain",
  experimentsProfile: "smoke",
  pipelineConfig: "configs/train/grid-smoke-synthetic-sfnet4.json",
  pipelineSteps: 40,
};

/** Jobs of the smoke grid restricted to some families: (distinct cells + the random-init control) × seeds × datasets. */
async function smokeRecords(families: Family[]): Promise<number> {
  const profile = await loadProfile("smoke");
  const cells = distinctCells(await loadExperiments(undefined, families)).length;
  return (cells + 1) * profile.seeds.length * profile.datasets.length;
}

Deno.test("deno task notebooks: all notebooks execute headless; results folders and key numbers", async () => {
  const root = await Deno.makeTempDir();
  try {
    const out = `${root}/notebooks`;
    // The grid's default work folder is under DEFAULT_CACHE_DIR, which does not follow SF2_CACHE_DIR: keep the runs
    // in the temporary folder (shared by 05–08, so cells common to several families train once).
    const params = { ...SMALL, experimentsWorkDir: `${root}/cache/experiments-smoke` };
    const r = await runDeno(
      ["tasks/notebooks.ts", "--out", out, "--params", JSON.stringify(params)],
      { SF2_CACHE_DIR: `${root}/cache` },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(lastLine(r.stdout));
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.notebooks.length, 9);
    const read = async (name: string) => {
      for (const f of [`${name}.ipynb`, `${name}.html`, "key_numbers.json"]) await Deno.stat(`${out}/${name}/${f}`);
      return JSON.parse(await Deno.readTextFile(`${out}/${name}/key_numbers.json`));
    };

    // Every notebook's HTML export holds its figures (PNG, never a bare SVG output nbconvert would drop) and its
    // maths typeset by KaTeX with the fonts inlined; no formula left as TeX, no MathJax.
    for (const nb of summary.notebooks) {
      assert.equal(nb.math.errors, 0, `${nb.name}: KaTeX errors`);
      const html = await Deno.readTextFile(`${out}/${nb.name}/${nb.name}.html`);
      const executed = JSON.parse(await Deno.readTextFile(`${out}/${nb.name}/${nb.name}.ipynb`));
      const outputs = executed.cells.flatMap((c: { outputs?: { data?: Record<string, unknown> }[] }) =>
        c.outputs ?? []
      );
      assert.ok(!outputs.some((o: { data?: Record<string, unknown> }) => o.data?.["image/svg+xml"]), nb.name);
      const figures = outputs.filter((o: { data?: Record<string, unknown> }) => o.data?.["image/png"]).length;
      const imgs = (html.match(/<img src="data:image\/png;base64,/g) ?? []).length;
      assert.ok(imgs >= figures && imgs > 0, `${nb.name}: ${imgs} images in the HTML, ${figures} figure outputs`);
      assert.ok(nb.math.rendered > 0 && (html.match(/class="katex"/g) ?? []).length >= nb.math.rendered, nb.name);
      assert.ok(html.includes("data:font/woff2;base64,") && !/mathjax/i.test(html), nb.name);
    }

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

    // 04b: the 15-line loss equals the kit's head; a live run on the kit's synthetic faces (smoke scale: the numbers are
    // only checked to be accuracies) with its random-init control on View 1 and View 2.
    const k4b = await read("04b_face_pipeline");
    assert.equal(k4b.steps, SMALL.pipelineSteps);
    assert.ok(k4b.lossCheck.absDiff < 1e-4 * Math.max(1, Math.abs(k4b.lossCheck.kit)), JSON.stringify(k4b.lossCheck));
    assert.ok(Number.isFinite(k4b.firstLoss) && Number.isFinite(k4b.lastLoss) && k4b.b0 > 0);
    for (const view of [k4b.view1.trained, k4b.view1.control, k4b.view2.trained, k4b.view2.control]) {
      for (const v of Object.values(view)) assert.ok(typeof v === "number" && v >= 0 && v <= 100, JSON.stringify(k4b));
    }

    // 05–08: each retrains its families on the smoke grid (one seed: every verdict is allowed, none is beyond a spread).
    const smoke = await loadProfile("smoke");
    const datasets = smoke.datasets.map((d) => d.name);
    const experiments = Object.fromEntries((await loadExperiments()).map((e) => [e.family, e]));
    const isAccuracy = (v: unknown) => typeof v === "number" && v >= 0 && v <= 100;
    const checkExperimentNotebook = async (name: string, families: Family[]) => {
      const k = await read(name);
      assert.equal(k.profile, "smoke", name);
      assert.equal(k.records, await smokeRecords(families), `${name}: records`);
      assert.deepEqual(k.seeds, smoke.seeds, name);
      assert.deepEqual(Object.keys(k.verdicts).sort(), [...families].sort(), `${name}: verdict families`);
      for (const family of families) {
        assert.deepEqual(Object.keys(k.verdicts[family]).sort(), [...datasets].sort(), `${name}: ${family} datasets`);
        for (const v of Object.values(k.verdicts[family])) {
          assert.ok((VERDICTS as readonly unknown[]).includes(v), `${name}: ${family}: verdict ${v}`);
        }
      }
      for (const d of datasets) assert.ok(isAccuracy(k.control[d]), `${name}: control on ${d}: ${k.control[d]}`);
      return k;
    };
    /** Every row of the family has a primary-metric mean on every dataset. */
    const checkRowMeans = (means: Record<string, Record<string, unknown>>, family: Family) => {
      for (const d of datasets) {
        assert.deepEqual(Object.keys(means[d]).sort(), experiments[family].rows.map((r) => r.label).sort(), family);
        for (const [label, v] of Object.entries(means[d])) assert.ok(isAccuracy(v), `${family} ${label}: ${v}`);
      }
    };

    const k5 = await checkExperimentNotebook("05_ablations", ["lambda", "t"]);
    checkRowMeans(k5.lambdaMeans, "lambda");
    checkRowMeans(k5.tMeans, "t");
    for (const d of datasets) {
      assert.ok(experiments.lambda.rows.some((r) => r.x === k5.bestLambda[d]), `best λ ${k5.bestLambda[d]}`);
      assert.ok(experiments.t.rows.some((r) => r.x === k5.bestT[d]), `best t ${k5.bestT[d]}`);
    }

    const k6 = await checkExperimentNotebook("06_loss_comparison", ["comparison"]);
    checkRowMeans(k6.means, "comparison");
    for (const d of datasets) {
      const labels = experiments.comparison.rows.map((r) => r.label);
      assert.deepEqual([...k6.ranking[d]].sort(), [...labels].sort(), "ranking: every loss once");
      const means = k6.ranking[d].map((label: string) => k6.means[d][label]);
      assert.ok(means.every((m: number, i: number) => i === 0 || m <= means[i - 1]), `ranking order: ${means}`);
      assert.equal(k6.sphereface2Rank[d], k6.ranking[d].indexOf("SphereFace2") + 1);
    }

    const k7 = await checkExperimentNotebook("07_margins_and_gradient_forms", ["margins"]);
    checkRowMeans(k7.means, "margins");
    const formRow = (form: string) =>
      experiments.margins.rows.find((r) =>
        r.head.type === "sphereface2" && r.head.variant === "C" && r.head.gradForm === form
      )!.label;
    for (const d of datasets) {
      const { throughG, detached, delta } = k7.gradientForm[d];
      assert.ok(isAccuracy(throughG) && isAccuracy(detached), JSON.stringify(k7.gradientForm));
      assert.equal(throughG, k7.means[d][formRow("through-g")]);
      assert.equal(detached, k7.means[d][formRow("detached")]);
      assert.ok(Math.abs(delta - (throughG - detached)) < 1e-9);
    }

    const k8 = await checkExperimentNotebook("08_label_noise", ["noise"]);
    const ratios = [...new Set(experiments.noise.rows.map((r) => r.noise))].sort((a, b) => a - b);
    assert.deepEqual(k8.ratios, ratios);
    for (const d of datasets) {
      for (const row of experiments.noise.rows) {
        assert.ok(isAccuracy(k8.means[d][row.series!][String(row.noise)]), `${row.label}: ${JSON.stringify(k8.means)}`);
      }
      for (const [series, drop] of Object.entries(k8.drop[d])) {
        const m = k8.means[d][series];
        assert.ok(Math.abs((drop as number) - (m["0"] - m[String(Math.max(...ratios))])) < 1e-9, series);
      }
    }
    // OpenSphere's sec33 law: a fraction ρ of the labels is redrawn over all K classes, ρ(1 − 1/K) actually change.
    assert.equal(k8.labelNoiseLaw.noiseSeed, 10086);
    assert.equal(k8.labelNoiseLaw.rows.length, 2 * ratios.length);
    for (const row of k8.labelNoiseLaw.rows) {
      assert.ok(Math.abs(row.redrawn - row.ratio) < 0.02, JSON.stringify(row));
      assert.ok(Math.abs(row.changed - row.ratio * (1 - 1 / row.K)) < 0.02, JSON.stringify(row));
      assert.ok(row.changed <= row.redrawn, JSON.stringify(row));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task notebooks: an unknown notebook is a usage error listing the available ones", async () => {
  const r = await runDeno(["tasks/notebooks.ts", "nope", "--out", "/nonexistent/never-written"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no notebook "nope"; available: 01_softmax_to_binary, 02_sphereface2_loss/);
});
