import { expect } from "expect";
import { join } from "node:path";
import { trainRun } from "../../lib/train/loop.ts";
import { lfwScoreHistogram } from "../../lib/web/site.ts";
import { lfwPath, lfwTest, useBackend } from "../shared.ts";
import { tinyConfig } from "../train/tiny.ts";

lfwTest({
  name: "lfwScoreHistogram: N matched + N mismatched pairs per fold of pairs.txt, binned",
  async fn() {
    await useBackend("wasm");
    const dir = await Deno.makeTempDir();
    await trainRun(tinyConfig({ train: { steps: 2, batchSize: 8, lr: 0.05, milestones: [1] } }), {
      outDir: join(dir, "run"),
      quiet: true,
    });
    const h = await lfwScoreHistogram(join(dir, "run"), lfwPath(), 1);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(h.positive)).toBe(10);
    expect(sum(h.negative)).toBe(10);
    expect(h.source).toContain("10 matched + 10 mismatched");
    await Deno.remove(dir, { recursive: true });
  },
});
