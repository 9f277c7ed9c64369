import { expect } from "expect";
import * as tf from "@tensorflow/tfjs";
import { embedCrop } from "../../lib/eval/embed.ts";
import { verificationThreshold } from "../../lib/losses/sphereface2.ts";
import { loadTrainedModel } from "../../lib/train/restore.ts";
import { trainRun } from "../../lib/train/loop.ts";
import { readRunTensors } from "../../lib/web/site.ts";
import { packWebModel, parseWebModelMeta, restoreWebModel, scoreHistogram } from "../../lib/web/web_model.ts";
import { useBackend } from "../shared.ts";
import { tinyConfig } from "../train/tiny.ts";

Deno.test("web model: a run packed for the page restores to the same backbone (same embeddings), threshold from the bias", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  await trainRun(tinyConfig({ train: { steps: 3, batchSize: 8, lr: 0.05, milestones: [2] } }), {
    outDir: dir,
    quiet: true,
  });
  const before = tf.memory().numTensors;
  const run = await readRunTensors(dir);
  const { meta, weights } = packWebModel(run);
  // model.json survives JSON and validation
  const parsed = parseWebModelMeta(JSON.parse(JSON.stringify(meta)), "model.json");
  expect(parsed.threshold).toBe(verificationThreshold({ r: 40, t: 3 }, run.tensors.get("head/bias")!.data[0]));
  const { model } = restoreWebModel(parsed, weights.buffer as ArrayBuffer);
  const trained = await loadTrainedModel(dir);
  const crop = { width: 16, height: 16, data: Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37) % 256) };
  const a = await embedCrop((x) => model.forward(x, false), crop);
  const b = await embedCrop((x) => trained.model.forward(x, false), crop);
  expect(Array.from(a)).toEqual(Array.from(b));
  model.dispose();
  trained.model.dispose();
  expect(tf.memory().numTensors).toBe(before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("web model: only SphereFace2 runs qualify; a bad model.json names the field", () => {
  const tensors = new Map([["model/w", { shape: [1], data: new Float32Array([1]) }]]);
  expect(() =>
    packWebModel({
      name: "arc",
      step: 1,
      model: tinyConfig().model,
      head: { type: "arcface", s: 64, m: 0.5 } as never,
      tensors,
    })
  ).toThrow(/has no shared bias, so no threshold/);
  expect(() => parseWebModelMeta({ format: "sf2-web-model/1" }, "site/model/model.json")).toThrow(
    /site\/model\/model.json/,
  );
});

Deno.test("scoreHistogram: bins over the scores' own range, counts every score once, ends in the edge bins", () => {
  const h = scoreHistogram([1, 0.99, 0.5], [-1, 0], "test", 4);
  expect(h.edges).toEqual([-1, -0.5, 0, 0.5, 1]);
  expect(h.positive).toEqual([0, 0, 0, 3]);
  expect(h.negative).toEqual([1, 0, 1, 0]);
  const narrow = scoreHistogram([0.99, 0.995], [0.98], "narrow", 2);
  expect(narrow.edges).toEqual([0.98, 0.9875, 0.995]);
  expect(narrow.positive).toEqual([0, 2]);
  expect(narrow.negative).toEqual([1, 0]);
});
