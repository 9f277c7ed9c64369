/**
 * `deno task bench head [--loss sphereface2] [--batch 256] [--dim 512] [--classes 10000] [--warmup 2] [--steps 5]
 * [--backend NAME] [--torch] [--repeats N] [--allow-reference-blas] [--shards N]`: forward + backward of a loss head;
 * the last line of stdout is JSON with `stepSeconds` and `imagesPerSecond`. `--torch` also runs the same step in
 * PyTorch (tasks/reference/bench_head_torch.py, Debian's python3-torch; SphereFace2, ArcFace, CosFace), `--repeats N`
 * alternating kit and PyTorch, and adds its figures (BLAS, threads), the ratio and the per-pair ratios. A PyTorch on
 * the reference BLAS is refused. `--backend cpu` runs the fused head on the cpu backend's arrays (for K = 10⁶).
 * `--shards N` splits the classifier over N worker shards (lib/parallel; N = 1 also goes through the workers) and
 * adds bytes and rounds per step and the peak memory per shard; without it the head runs in-process.
 *
 * `deno task bench head-scaling [--loss sphereface2,arcface] [--classes 100000] [--shards 1,2] [--out DIR] …`: the
 * sharded benchmark over every loss × shard count, written with figures, JSON and a report to results/parallel/.
 *
 * `deno task bench head-sweep [--classes 1000,…,1000000] [--batch 64,256,1024] [--torch] [--out DIR]`: head time and peak
 * RSS against K (at B 256) and B (at K 10,000), one process per point, table and figures in DIR (lib/bench/head_sweep.ts).
 *
 * `deno task bench train-sweep [--model sfnet20] [--width 0.25,0.5,1] [--size 56,112] [--batch 64] [--classes 1000]
 * [--warmup 1] [--steps 3] [--torch] [--out results/train-sweep] [--append]`: the training step's time and peak RSS
 * against width and input size, every width × size in its own `bench train` process (`--torch`: PyTorch interleaved
 * once per point); table and figures in OUT (lib/bench/train_sweep.ts). `--append` (both sweeps) merges into the rows
 * of OUT/sweep.json.
 *
 * `deno task bench train [--model sfnet20] [--width 0.25] [--size 56] [--batch 64] [--classes 1000] [--torch]
 * [--repeats N]`: full SGD training steps (lib/bench/train_task.ts); `--torch` runs PyTorch interleaved.
 * `deno task bench embed` (same flags): embedding extraction as `deno task eval` does it (eval forward, flip-fused),
 * against PyTorch inference (`torch.no_grad`, eval mode) with `--torch`.
 * @module
 */
import { z } from "zod";
import { benchHead } from "../lib/bench/head.ts";
import { runTrainBench, TrainFlags } from "../lib/bench/train_task.ts";
import { benchShardedHead } from "../lib/bench/head_parallel.ts";
import { scalingReport, writeScalingReport } from "../lib/report/scaling_report.ts";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { HEAD_TYPES } from "../lib/losses/config.ts";
import { checkMemory, headBenchBytes } from "../lib/train/memory.ts";
import { registerHeadKernels } from "../lib/backend/head_kernels.ts";
import { runHeadSweep, sweepPoints, writeHeadSweep } from "../lib/bench/head_sweep.ts";
import { runTrainSweep, trainSweepPoints, writeTrainSweep } from "../lib/bench/train_sweep.ts";
import { benchInChild, rowFigures } from "../lib/bench/sweep.ts";
import { checkTorchBlas, interleaveWithTorch } from "../lib/bench/torch_twin.ts";

const count = (dflt: number, max: number) => z.coerce.number().int().min(1).max(max).default(dflt);
/** A switch: bare `--torch`, or `--torch=true|false`. */
const toggle = z.union([z.boolean(), z.string()]).optional().transform((v) => v === true || v === "true");

const HeadFlags = z.strictObject({
  backend: backendFlag,
  loss: z.enum(HEAD_TYPES).default("sphereface2"),
  batch: count(256, 65536),
  dim: count(512, 65536),
  classes: z.coerce.number().int().min(2).max(10_000_000).default(10_000),
  warmup: z.coerce.number().int().min(0).max(1000).default(2),
  steps: count(5, 100_000),
  seed: z.coerce.number().int().default(0),
  torch: toggle,
  torchThreads: count(2, 256),
  python: z.string().default("/usr/bin/python3"),
  /** With --torch: kit and PyTorch alternate this many times (interleaved); medians and per-pair ratios reported. */
  repeats: count(1, 100),
  /** Accept a PyTorch twin on Debian's reference BLAS (marked loudly in the JSON); refused by default. */
  allowReferenceBlas: toggle,
  /** Model-parallel shards (worker per shard); absent: the in-process head. */
  shards: z.coerce.number().int().min(1).max(64).optional(),
});

/** A comma-separated list of numbers in [min, max], e.g. `--shards 1,2,4` (integers) or `--width 0.25,0.5`. */
const numberList = (dflt: string, min: number, max: number, integers = true) =>
  z.string().default(dflt).transform((v, ctx) => {
    const values = String(v).split(",").map((x) => Number(x.trim()));
    if (values.some((x) => !Number.isFinite(x) || (integers && !Number.isInteger(x)) || x < min || x > max)) {
      const what = integers ? "integers" : "numbers";
      ctx.addIssue({ code: "custom", message: `expected ${what} in [${min}, ${max}] separated by commas, got ${v}` });
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
  classes: numberList("100000", 2, 10_000_000),
  shards: numberList("1,2", 1, 64),
  batch: count(256, 65536),
  dim: count(512, 65536),
  warmup: z.coerce.number().int().min(0).max(1000).default(1),
  steps: count(3, 100_000),
  out: z.string().default("results/parallel"),
});

const SweepFlags = z.strictObject({
  loss: z.enum(["sphereface2", "arcface", "cosface"]).default("sphereface2"),
  classes: numberList("1000,10000,100000,1000000", 2, 10_000_000),
  batch: numberList("64,256,1024", 1, 65536),
  batchForK: count(256, 65536),
  classesForB: z.coerce.number().int().min(2).max(10_000_000).default(10_000),
  dim: count(512, 65536),
  torch: toggle,
  warmup: z.coerce.number().int().min(0).max(1000).default(1),
  steps: count(3, 100_000),
  out: z.string().default("results/head-sweep"),
  /** Merge into the rows already in OUT/sweep.json (same B and K replaced), e.g. to add K = 10⁶ in a second run. */
  append: toggle,
});

const TrainSweepFlags = z.strictObject({
  model: TrainFlags.shape.model,
  width: numberList("0.25,0.5,1", 0.01, 4, false),
  size: numberList("56,112", 16, 512),
  batch: TrainFlags.shape.batch,
  classes: TrainFlags.shape.classes,
  torch: toggle,
  warmup: z.coerce.number().int().min(0).max(1000).default(1),
  steps: count(3, 100_000),
  out: z.string().default("results/train-sweep"),
  /** Merge into the rows already in OUT/sweep.json (the same model, B, K, size and width replaced). */
  append: toggle,
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
    `--loss=${flags.loss}`,
  ];
  const out = await new Deno.Command(flags.python, { args, stderr: "inherit" }).output();
  if (!out.success) throw new Error(`PyTorch reference failed (${flags.python} ${args.join(" ")})`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const twin = JSON.parse(lines[lines.length - 1]);
  const warning = checkTorchBlas(twin, flags.allowReferenceBlas);
  if (warning) {
    console.error(warning);
    twin.blasWarning = warning;
  }
  return twin;
}

/** Losses with a PyTorch twin in tasks/reference/bench_head_torch.py. */
const TORCH_HEADS = ["sphereface2", "arcface", "cosface"];

await runTask(async () => {
  const [what, ...rest] = Deno.args;
  if (what === "train" || what === "embed") {
    console.log(JSON.stringify(await runTrainBench(rest, what)));
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
  if (what === "head-sweep") {
    const { flags, positionals } = parseFlags(rest, SweepFlags, "bench head-sweep");
    if (positionals.length) throw new UsageError(`bench head-sweep: unexpected argument ${positionals[0]}`);
    const points = sweepPoints({
      classes: flags.classes,
      batches: flags.batch,
      batchForK: flags.batchForK,
      classesForB: flags.classesForB,
    });
    console.error(
      `bench head-sweep: ${points.length} points, each in its own process${flags.torch ? ", with PyTorch" : ""}`,
    );
    const rows = await runHeadSweep({
      ...flags,
      points,
      runBench: benchInChild(new URL(import.meta.url).pathname, "head"),
      onRow: (r) => console.error(`  B=${r.batch} K=${r.classes}: ${rowFigures(r)}`),
    });
    await writeHeadSweep(flags.out, rows, `deno task bench head-sweep ${rest.join(" ")}`.trim(), flags.append);
    console.error(`wrote ${flags.out}/report.md`);
    console.log(JSON.stringify({ bench: "head-sweep", out: flags.out, rows }));
    return;
  }
  if (what === "train-sweep") {
    const { flags, positionals } = parseFlags(rest, TrainSweepFlags, "bench train-sweep", { paths: ["out"] });
    if (positionals.length) throw new UsageError(`bench train-sweep: unexpected argument ${positionals[0]}`);
    const points = trainSweepPoints({ widths: flags.width, sizes: flags.size });
    console.error(
      `bench train-sweep: sfnet${flags.model}, ${points.length} points, each in its own process` +
        (flags.torch ? ", with PyTorch" : ""),
    );
    const rows = await runTrainSweep({
      model: `sfnet${flags.model}`,
      batch: flags.batch,
      classes: flags.classes,
      torch: flags.torch,
      warmup: flags.warmup,
      steps: flags.steps,
      points,
      runBench: benchInChild(new URL(import.meta.url).pathname, "train"),
      onRow: (r) => console.error(`  width ${r.width} ${r.size}px: ${rowFigures(r)}`),
    });
    await writeTrainSweep(flags.out, rows, `deno task bench train-sweep ${rest.join(" ")}`.trim(), flags.append);
    console.error(`wrote ${flags.out}/report.md`);
    console.log(JSON.stringify({ bench: "train-sweep", out: flags.out, rows }));
    return;
  }
  if (what !== "head") {
    throw new UsageError(
      `bench: unknown benchmark "${what ?? ""}"; available: head, head-sweep, head-scaling, train, train-sweep, embed`,
    );
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
  const choice = await startBackend(flags.backend);
  // Refused before anything is allocated (10M classes would otherwise grow for minutes before failing).
  checkMemory(
    headBenchBytes(flags),
    `bench head (K=${flags.classes}, d=${flags.dim}, B=${flags.batch})`,
    choice.name,
  );
  let backendDetail = choice.reason;
  if (choice.name === "cpu") {
    // K = 10⁶ does not fit wasm's 4 GiB heap (W and dW are 2 GB each): the cpu backend's arrays with the fused head.
    const fused = registerHeadKernels(["cpu"]);
    backendDetail += `; ${fused.detail}`;
    console.error(`bench head: cpu backend with ${fused.detail}`);
  }
  if (flags.torch && !TORCH_HEADS.includes(flags.loss)) {
    throw new UsageError(`bench head: --torch has twins for ${TORCH_HEADS.join(", ")}, not ${flags.loss}`);
  }
  console.error(
    `bench head: ${flags.loss} B=${flags.batch} d=${flags.dim} K=${flags.classes}, ` +
      `${flags.warmup} warm-up + ${flags.steps} timed steps` +
      (flags.torch ? `, ${flags.repeats}× interleaved with PyTorch` : ""),
  );
  const result = await interleaveWithTorch({
    repeats: flags.repeats,
    batch: flags.batch,
    kit: () => benchHead(flags),
    torch: flags.torch ? () => runTorch(flags) : undefined,
  });
  result.backendDetail = backendDetail;
  console.log(JSON.stringify(result));
});
