/**
 * importCheckpoint → a run folder that loadTrainedModel reads, with the source's preprocessing recorded and applied
 * by the embedding path eval and embed share; a failed import leaves an existing folder as it was.
 */
import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { readImage } from "../../lib/data/image.ts";
import { importCheckpoint } from "../../lib/interop/import.ts";
import { embedCrop } from "../../lib/eval/embed.ts";
import { loadTrainedModel } from "../../lib/train/restore.ts";
import { useBackend } from "../shared.ts";

const GOLDEN = new URL("../golden/", import.meta.url).pathname;
const golden = JSON.parse(await Deno.readTextFile(`${GOLDEN}backbones.json`));
const legacy = golden.cases.find((c: { checkpoint_format: string }) => c.checkpoint_format === "legacy");

Deno.test("import: a legacy insightface checkpoint -> run folder; its recorded preprocessing is what embeds", async () => {
  await useBackend("cpu");
  const tmp = await Deno.makeTempDir();
  try {
    const r = await importCheckpoint(`${GOLDEN}${legacy.checkpoint}`, { source: "insightface", out: `${tmp}/run` });
    expect(r).toMatchObject({ source: "insightface", format: "legacy", head: null });
    expect(r.config).toMatchObject(legacy.kit_equivalent);
    const run = JSON.parse(await Deno.readTextFile(`${tmp}/run/run.json`));
    expect(run.imported).toMatchObject({ source: "insightface", format: "legacy", keyPrefix: "", backboneAt: [] });
    expect(run.preprocess.source).toMatch(/insightface/);
    const crops = await Promise.all(legacy.images.map((p: string) => readImage(`${GOLDEN}${p}`)));
    const embedAll = async () => {
      const trained = await loadTrainedModel(`${tmp}/run`);
      try {
        expect(trained.config).toBeNull();
        expect(trained.name).toBe(r.name);
        const before = tf.memory().numTensors;
        const rows = [];
        for (const crop of crops) {
          rows.push(
            ...await embedCrop((x) => trained.model.forward(x, false), crop, {
              preprocess: trained.preprocess,
              flip: false,
              normalise: false,
            }),
          );
        }
        expect(tf.memory().numTensors).toBe(before);
        return rows;
      } finally {
        trained.model.dispose();
      }
    };
    const within = (rows: number[]) =>
      (legacy.embedding.flat() as number[]).every((v, i) =>
        Math.abs(rows[i] - v) <= legacy.tolerance.abs + legacy.tolerance.rel * Math.abs(v)
      );
    expect(within(await embedAll())).toBe(true);
    // The same folder told that the model takes BGR: embeddings move far outside the tolerance.
    await Deno.writeTextFile(
      `${tmp}/run/run.json`,
      JSON.stringify({ ...run, preprocess: { ...run.preprocess, channelOrder: "BGR" } }),
    );
    expect(within(await embedAll())).toBe(false);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("import: a failed import over an existing run folder leaves it as it was", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const file = `${GOLDEN}${golden.cases[0].checkpoint}`;
    await importCheckpoint(file, { source: "opensphere", out: `${tmp}/run` });
    const before = await Deno.readFile(`${tmp}/run/checkpoint.sf2`);
    await expect(importCheckpoint(file, { source: "opensphere", out: `${tmp}/run`, model: { featDim: 64 } }))
      .rejects.toThrow(
        /does not fit SFNet-4.*wrong shape 2: fc\.weight \[32,3136\] \(expected \[64,3136\]\), fc\.bias/,
      );
    expect(await Deno.readFile(`${tmp}/run/checkpoint.sf2`)).toEqual(before);
    expect([...Deno.readDirSync(tmp)].map((e) => e.name)).toEqual(["run"]);
    await expect(importCheckpoint(file, { source: "insightface", out: `${tmp}/run2` })).rejects.toThrow(
      /insightface checkpoints are IResNets; this one maps to SFNet-4/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
