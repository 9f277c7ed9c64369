/**
 * The WebGPU path in Deno, on whatever adapter the machine has (CI: Mesa's software adapter, llvmpipe, from
 * mesa-vulkan-drivers / libgl1-mesa-dri). Every test is ignored, with the reason printed once, when Deno finds
 * no WebGPU adapter.
 */
import { expect } from "expect";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { initBackend, webgpuAdapterInfo } from "../../lib/backend/select.ts";
import { loadGoldenFile, verifyFile } from "../../lib/losses/golden.ts";
import { createHead } from "../../lib/losses/registry.ts";
import { createModel } from "../../lib/models/registry.ts";
import { lastLine, lcgValues, REPO, runDeno } from "../shared.ts";
import { tinyConfig, tinyRaw } from "../train/tiny.ts";

const adapter = await webgpuAdapterInfo();
const ignore = !adapter.present;
if (ignore) {
  console.error(
    `webgpu tests skipped: ${adapter.description} (install Mesa's software Vulkan/GL drivers, e.g. ` +
      `apt-get install mesa-vulkan-drivers, to run them without a GPU)`,
  );
}

async function use(name: "cpu" | "webgpu"): Promise<void> {
  if (name === "webgpu") await initBackend({ requested: "webgpu" });
  else await tf.setBackend("cpu");
}

Deno.test({
  name: "webgpu: the backend line names the adapter and says when it is software",
  ignore,
  async fn() {
    const choice = await initBackend({ requested: "webgpu" });
    expect(choice.name).toBe("webgpu");
    expect(choice.message).toContain(adapter.description);
    if (adapter.software) expect(choice.message).toContain("software adapter");
    else expect(choice.message).not.toContain("software adapter");
  },
});

Deno.test({
  name: "webgpu: addN over many inputs and acos are exact enough (the kit's kernel fixes), no leaks",
  ignore,
  async fn() {
    await use("webgpu");
    const before = tf.memory().numTensors;
    const xs = Array.from({ length: 13 }, (_, i) => tf.scalar(i + 1));
    const sum = tf.addN(xs);
    expect((await sum.data())[0]).toBe(91);
    const values = Float32Array.from({ length: 4001 }, (_, i) => -1 + i / 2000);
    const x = tf.tensor1d(values);
    const theta = tf.acos(x);
    const got = await theta.data();
    let worst = 0;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(got[i] - Math.acos(values[i])));
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([...xs, sum, x, theta]);
    expect(tf.memory().numTensors).toBe(before);
  },
});

Deno.test({
  name: "webgpu: verify-heads golden vectors, 19/19 (tests/golden/heads.json)",
  ignore,
  async fn() {
    await use("webgpu");
    const golden = await loadGoldenFile(`${REPO}tests/golden/heads.json`);
    const { results, failed } = await verifyFile(golden);
    expect(results.filter((r) => !r.line.startsWith("PASS")).map((r) => r.line)).toEqual([]);
    expect(failed).toBe(0);
    expect(results.length).toBe(golden.cases.length);
  },
});

/** Loss and every trainable's gradient of one SphereFace2 training step of the tiny model, as plain arrays. */
async function stepGradients(backend: "cpu" | "webgpu"): Promise<{ loss: number; grads: Float32Array[] }> {
  await use(backend);
  const before = tf.memory().numTensors;
  const config = tinyConfig();
  const model = createModel(config.model, { seed: 11 }, "model");
  const head = createHead(config.head, { featDim: config.model.featDim, numClasses: 6, seed: 12 }, "head");
  const images = tf.tensor4d(lcgValues(8 * 16 * 16 * 3, 5), [8, 16, 16, 3]);
  const labels = tf.tensor1d([0, 1, 2, 3, 4, 5, 0, 1], "int32");
  const variables = [...model.trainables(), ...head.trainables()] as tf.Variable[];
  head.prepare();
  const { value, grads } = tf.variableGrads(() => head.loss(model.forward(images, true), labels), variables);
  const loss = (await value.data())[0];
  const out: Float32Array[] = [];
  for (const v of variables) out.push((await grads[v.name].data()) as Float32Array);
  tf.dispose([value, images, labels, ...Object.values(grads)]);
  model.discardBatchStats();
  head.dispose();
  model.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return { loss, grads: out };
}

Deno.test({
  name: "webgpu: a training step's loss and gradients equal the cpu backend's",
  ignore,
  async fn() {
    const cpu = await stepGradients("cpu");
    const gpu = await stepGradients("webgpu");
    expect(gpu.loss).toBeCloseTo(cpu.loss, 4);
    expect(gpu.grads.length).toBe(cpu.grads.length);
    cpu.grads.forEach((g, i) => {
      let scale = 0, worst = 0;
      for (let j = 0; j < g.length; j++) {
        scale = Math.max(scale, Math.abs(g[j]));
        worst = Math.max(worst, Math.abs(g[j] - gpu.grads[i][j]));
      }
      // float32 on both sides, different summation orders: relative to the tensor's largest entry
      expect({ i, relative: worst / Math.max(scale, 1e-12) < 1e-4 }).toEqual({ i, relative: true });
    });
  },
});

Deno.test({
  name: "webgpu: `deno task train … --backend webgpu` completes and logs the cpu backend's losses",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    const config = `${dir}/tiny.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify(tinyRaw({ train: { steps: 4, batchSize: 8, lr: 0.05, milestones: [3] } })),
    );
    const losses: number[][] = [];
    for (const backend of ["webgpu", "cpu"]) {
      const out = `${dir}/${backend}`;
      const r = await runDeno(["tasks/train.ts", config, "--out", out, "--backend", backend, "--quiet"]);
      expect({ code: r.code, stderr: r.code ? r.stderr : "" }).toEqual({ code: 0, stderr: "" });
      if (backend === "webgpu") {
        expect(r.stderr).toContain("backend: webgpu");
        if (adapter.software) expect(r.stderr).toContain("software adapter");
      }
      expect(JSON.parse(lastLine(r.stdout)).steps).toBe(4);
      const log = (await Deno.readTextFile(`${out}/log.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
      losses.push(log.filter((x) => x.type === "step").map((x) => x.loss));
    }
    expect(losses[0].length).toBe(4);
    losses[0].forEach((l, i) => expect(l).toBeCloseTo(losses[1][i], 3));
    await Deno.remove(dir, { recursive: true });
  },
});
