/**
 * `deno task bench head [--loss sphereface2] [--batch 256] [--dim 512] [--classes 10000] [--warmup 2] [--steps 5]
 * [--backend NAME] [--torch] [--shards N]`: forward + backward of a loss head; the last line of stdout is JSON with
 * `stepSeconds` and `imagesPerSecond`. `--torch` also runs the same step in PyTorch
 * (tasks/reference/bench_head_torch.py, Debian's python3-torch) and adds its figures and the ratio.
 * `--shards N` splits the classifier over N worker shards (lib/parallel; N = 1 also goes through the workers) and
 * adds bytes and rounds per step and the peak memory per shard; without it the head runs in-process.
 *
 * `deno task bench head-scaling [--loss sphereface2,arcface] [--classes 100000] [--shards 1,2] [--out DIR] …`: the
 * sharded benchmark over every loss × shard count, written with figures, JSON and a report to results/parallel/.
 *
 * `deno task bench train [--model sfnet20] [--width 0.25] [--size 56] [--batch 64] [--classes 1000] [--torch]
 * [--repeats N]`: full SGD training steps (lib/bench/train_task.ts); `--torch` runs PyTorch interleaved.
 * @module
 */
import { z } from "zod";
import { benchHead } from "../lib/bench/head.ts";
import { runTrainBench } from "../lib/bench/train_task.ts";
import { benchShardedHead } from "../lib/bench/head_parallel.ts";
import { scalingReport, writeScalingReport } from "../lib/report/scaling_report.ts";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { HEAD_TYPES } from "../lib/losses/config.ts";
import { checkMemory, headBenchBytes } from "../lib/train/memory.ts";

const count = (dflt: number, max: number) => z.coerce.number().int().min(1).max(max).default(dflt);

const HeadFlags = z.strictObject({
  backend: backendFlag,
  loss: z.enum(HEAD_TYPES).default("sphereface2"),
  batch: count(256, 65536),
  dim: count(512, 65536),
  classes: z.coerce.number().int().min(2).max(10_000_000).default(10_000),
  warmup: z.coerce.number().int().min(0).max(1000).default(2),
  steps: count(5, 100_000),
  seed: z.coerce.number().int().default(0),
  torch: z.union([z.boolean(), z.string()]).optional().transform((v) => v === true || v === "true"),
  torchThreads: count(2, 256),
  python: z.string().default("/usr/bin/python3"),
  /** Model-parallel shards (worker per shard); absent: the in-process head. */
  shards: z.coerce.number().int().min(1).max(64).optional(),
});

/** A comma-separated list of integers, e.g. `--shards 1,2,4`. */
const intList = (dflt: string, min: number, max: number) =>
  z.string().default(dflt).transform((v, ctx) => {
    const values = String(v).split(",").map((x) => Number(x.trim()));
    if (values.some((x) => !Number.isInteger(x) || x < min || x > max)) {
      ctx.addIssue({ code: "custom", message: `expected integers in [${min}, ${max}] separated by commas, got ${v}` });
      return z.NEVER;
    }
    return values;
  });

const ScalingFlags = z.strictObject({
  backend: z.enum(["wasm", "cpu"]).default("wasm"),
  loss: z.string().default("sphereface2,arcface").transform((v, ctx) => {
    const names = v.split(",").map((x) => x.trim());
    const bad = names.find((n) => n === "softmax" || !(HEAD_TYPES as readonly string[]).includes(n));
    if (bad !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `unknown or unsupported loss "${bad}" (sharded: sphereface2 and margin heads)`,
      });
      return z.NEVER;
    }
    return names as (typeof HEAD_TYPES)[number][];
  }),
  classes: intList("100000", 2, 10_000_000),
  shards: intList("1,2", 1, 64),
  batch: count(256, 65536),
  dim: count(512, 65536),
  warmup: z.coerce.number().int().min(0).max(1000).default(1),
  steps: count(3, 100_000),
  out: z.string().default("results/parallel"),
});

async function runTorch(flags: z.output<typeof HeadFlags>): Promise<Record<string, unknown>> {
  const script = new URL("./reference/bench_head_torch.py", import.meta.url).pathname;
  const args = [
    script,
    `--batch=${flags.batch}`,
    `--dim=${flags.dim}`,
    `--classes=${flags.classes}`,
    `--warmup=${flags.warmup}`,
    `--steps=${flags.steps}`,
    `--threads=${flags.torchThreads}`,
  ];
  const out = await new Deno.Command(flags.python, { args, stderr: "inherit" }).output();
  if (!out.success) throw new Error(`PyTorch reference failed (${flags.python} ${args.join(" ")})`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

await runTask(async () => {
  const [what, ...rest] = Deno.args;
  if (what === "train") {
    console.log(JSON.stringify(await runTrainBench(rest)));
    return;
  }
  if (what === "head-scaling") {
    const { flags, positionals } = parseFlags(rest, ScalingFlags, "bench head-scaling", { paths: ["out"] });
    if (positionals.length) throw new UsageError(`bench head-scaling: unexpected argument ${positionals[0]}`);
    console.error(`backend: ${flags.backend} (one per shard worker)`);
    const data = await scalingReport({
      ...flags,
      losses: flags.loss,
      onResult: (r) =>
        console.error(
          `${r.loss} K=${r.classes} shards=${r.shards}: ${r.imagesPerSecond.toFixed(1)} images/s, ` +
            `${r.bytesPerStep} B/step, ${r.roundsPerStep} rounds, heap ${r.peakShardMB.toFixed(0)} MB/shard`,
        ),
    });
    await writeScalingReport(flags.out, data);
    console.error(`wrote ${flags.out}/report.md`);
    console.log(JSON.stringify({ bench: "head-scaling", out: flags.out, measured: data.measured }));
    return;
  }
  if (what !== "head") {
    throw new UsageError(`bench: unknown benchmark "${what ?? ""}"; available: head, head-scaling, train`);
  }
  const { flags, positionals } = parseFlags(rest, HeadFlags, "bench head");
  if (positionals.length) throw new UsageError(`bench head: unexpected argument ${positionals[0]}`);
  if (flags.shards !== undefined) {
    if (flags.torch) throw new UsageError("bench head: --torch and --shards cannot be combined");
    if (flags.shards > flags.classes) throw new UsageError(`bench head: --shards ${flags.shards} exceeds --classes`);
    const backend = flags.backend ?? "wasm";
    if (backend !== "wasm" && backend !== "cpu") {
      throw new UsageError(`bench head: --shards runs each shard on wasm or cpu, not ${backend}`);
    }
    console.error(`backend: ${backend} (one per shard worker)`);
    console.error(
      `bench head: ${flags.loss} B=${flags.batch} d=${flags.dim} K=${flags.classes} over ${flags.shards} shard(s), ` +
        `${flags.warmup} warm-up + ${flags.steps} timed steps`,
    );
    const { shards, ...rest } = flags;
    console.log(JSON.stringify(await benchShardedHead({ ...rest, shards, backend })));
    return;
  }
  const backend = await startBackend(flags.backend);
  // Refused before anything is allocated (10M classes would otherwise grow for minutes before failing).
  checkMemory(
    headBenchBytes(flags),
    `bench head (K=${flags.classes}, d=${flags.dim}, B=${flags.batch})`,
    backend.name,
  );
  console.error(
    `bench head: ${flags.loss} B=${flags.batch} d=${flags.dim} K=${flags.classes}, ` +
      `${flags.warmup} warm-up + ${flags.steps} timed steps`,
  );
  const result: Record<string, unknown> = { ...(await benchHead(flags)) };
  if (flags.torch) {
    const torch = await runTorch(flags);
    result.pytorch = torch;
    result.speedVsPytorch = (result.imagesPerSecond as number) / (torch.imagesPerSecond as number);
  }
  console.log(JSON.stringify(result));
});
