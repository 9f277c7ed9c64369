import { expect } from "expect";
import { loadTrainConfig } from "../../lib/train/config.ts";
import { trainAndEvaluate } from "../../lib/train/experiment.ts";
import { REPO, useBackend } from "../shared.ts";

Deno.test("trainAndEvaluate: loss curve and both models evaluated on the same pairs, both protocols", async () => {
  await useBackend("wasm");
  const config = await loadTrainConfig(`${REPO}configs/train/toy-sfnet4-sphereface2.json`, ["--train.steps=60"]);
  const runDir = await Deno.makeTempDir();
  try {
    const r = await trainAndEvaluate(config, { runDir: `${runDir}/run`, quiet: true });
    expect(r.curve.length).toBe(60);
    expect(r.curve[0].step).toBe(1);
    const byModel = (m: string) => r.evaluations.find((e) => e.model === m)!;
    expect(byModel("random init").set).toBe(byModel("trained").set);
    expect(byModel("random init").pairs).toBeGreaterThan(0);
    // Toy identities are random images: held-out classes test the plumbing, not generalisation.
    expect(r.curve.at(-1)!.loss).toBeLessThan(r.curve[0].loss);
    expect(byModel("trained").table.map((t) => t.protocol)).toContain("10-fold (insightface/LFW), folds balanced");
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});
