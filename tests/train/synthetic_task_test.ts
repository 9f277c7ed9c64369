/**
 * The claim the reproduce run rests on: the embedded synthetic dataset is a real task. A random-initialised
 * network (which sees mostly colour and brightness) must be near chance on held-out identities; otherwise "trained
 * beats random init" says nothing. The trained half of the claim (trained far above random init) needs minutes of
 * training and is checked by `deno task reproduce` (its `training.accBestThreshold`).
 */
import { expect } from "expect";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { extractFeatures, pairCosines, verificationTable } from "../../lib/eval/verification.ts";
import { createModel } from "../../lib/models/registry.ts";
import { loadTrainConfig } from "../../lib/train/config.ts";
import { lfwView1Data } from "../../lib/train/lfw_data.ts";
import { deriveSeed } from "../../lib/random/rng.ts";
import { REPO, useBackend } from "../shared.ts";

Deno.test("synthetic task: a random-initialised SFNet-10 is near chance on held-out identities", async () => {
  await useBackend("wasm");
  const root = await Deno.makeTempDir();
  try {
    // 60 identities × 6 images: 18 held-out identities, 135 matched + 135 mismatched View 1 test pairs (enough
    // that the best-threshold ACC, fitted on the list itself, is not inflated far above 50 % by chance).
    await writeSyntheticDataset(`${root}/syn`, { identities: 60, imagesPerIdentity: 6, seed: 11, quiet: true });
    const config = await loadTrainConfig(`${REPO}configs/train/cpu-synthetic-sfnet10-sphereface2.json`);
    const data = await lfwView1Data({
      dir: `${root}/syn`,
      size: config.data.size,
      cacheDir: `${root}/crops`,
      skipIncomplete: false,
      quiet: true,
    });
    const set = data.validation[0];
    expect(set.pairs.length).toBe(270);
    // Two initialisations, so the check is not about one lucky draw.
    for (const seed of [config.seed, config.seed + 1]) {
      const model = createModel(config.model, { seed: deriveSeed(seed, "model") }, "model");
      try {
        const { features, dim } = await extractFeatures((x) => model.forward(x, false), set.images, { flip: true });
        const table = verificationTable(pairCosines(features, dim, set.pairs), set.same, undefined, {
          balanceFolds: true,
        });
        const acc = table.find((r) => r.metric === "ACC" && /best/.test(r.protocol))!.value;
        // A regression guard, not yet the goal: the target is < 65 %, but this small set measures ~71 % today
        // (the default 200-identity set: ~63 % on its 900 View 1 test pairs). The generator before the per-image
        // photometric/background/occluder variation gave ~84 % on the default set.
        expect(acc).toBeLessThan(75);
      } finally {
        model.dispose();
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
