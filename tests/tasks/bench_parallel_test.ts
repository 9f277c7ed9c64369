import { expect } from "expect";
import { starTraffic } from "../../lib/parallel/cost_model.ts";
import { lastLine, runDeno } from "../shared.ts";

const SMALL = ["--batch=8", "--dim=16", "--classes=101", "--warmup=1", "--steps=2"];

for (const [loss, family] of [["sphereface2", "sphereface2"], ["arcface", "softmax"]] as const) {
  Deno.test(`bench head --shards runs ${loss} through the workers and reports traffic and memory`, async () => {
    for (const shards of [1, 2]) {
      const { code, stdout, stderr } = await runDeno([
        "tasks/bench.ts",
        "head",
        `--loss=${loss}`,
        ...SMALL,
        `--shards=${shards}`,
      ]);
      expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
      const r = JSON.parse(lastLine(stdout));
      expect(r).toMatchObject({ bench: "head", loss, batch: 8, dim: 16, classes: 101, shards, backend: "wasm" });
      expect(r.localClasses.reduce((a: number, b: number) => a + b, 0)).toBe(101);
      expect(r.imagesPerSecond).toBeCloseTo(8 / r.stepSeconds, 6);
      const model = starTraffic(family, { shards, batch: 8, dim: 16, classes: 101 });
      expect(r.bytesPerStep).toBe(model.bytesDown + model.bytesUp);
      expect(r.roundsPerStep).toBe(model.rounds);
      expect(r.modelBytesPerStep).toBe(r.bytesPerStep);
      expect(r.shardHeapMB.length).toBe(shards);
      expect(r.peakShardMB).toBeGreaterThan(0);
    }
  });
}

Deno.test("bench head --shards rejects --torch and more shards than classes", async () => {
  const torch = await runDeno(["tasks/bench.ts", "head", "--shards=2", "--torch"]);
  expect(torch.code).toBe(2);
  expect(torch.stderr).toMatch(/--torch and --shards cannot be combined/);
  const many = await runDeno(["tasks/bench.ts", "head", "--classes=3", "--shards=4"]);
  expect(many.code).toBe(2);
  expect(many.stderr).toMatch(/--shards 4 exceeds --classes/);
});

Deno.test("bench head-scaling writes figures, JSON and a labelled report", async () => {
  const out = await Deno.makeTempDir({ prefix: "sf2-scaling-" });
  try {
    const dir = `${out}/parallel`;
    const { code, stderr, stdout } = await runDeno([
      "tasks/bench.ts",
      "head-scaling",
      "--loss=sphereface2,cosface",
      "--classes=64,200",
      "--shards=1,2",
      "--batch=4",
      "--dim=8",
      "--warmup=0",
      "--steps=1",
      `--out=${dir}`,
    ]);
    expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(lastLine(stdout)).measured.length).toBe(8);
    const report = await Deno.readTextFile(`${dir}/report.md`);
    for (const label of ["MEASURED", "MODELLED", "QUOTED"]) expect(report).toContain(label);
    expect(report).toContain("4824"); // the quoted model-parallel row at 125k identities
    const data = JSON.parse(await Deno.readTextFile(`${dir}/data.json`));
    expect(data.memory.map((m: { loss: string }) => m.loss)).toEqual(["sphereface2", "cosface"]);
    for (const f of ["scaling", "traffic", "extrapolation", "anchor"]) {
      expect(await Deno.readTextFile(`${dir}/figures/${f}.svg`)).toMatch(
        /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
      );
    }
    const bad = await runDeno(["tasks/bench.ts", "head-scaling", "--loss=softmax"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unsupported loss "softmax"/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
