/**
 * `deno task bench train [--model sfnet20] [--width 0.25] [--size 56] [--batch 64] [--classes 1000] [--warmup 3]
 * [--steps 20] [--backend NAME] [--torch] [--torch-threads 2] [--repeats 1] [--allow-reference-blas]`: full training steps (see train.ts).
 * The last line of stdout is JSON with `imagesPerSecond`, `stepSeconds`, `backend`, `workers`, `peakRssMB`.
 * `--torch` also runs the same step in PyTorch (tasks/reference/bench_train_torch.py, Debian's python3-torch);
 * with `--repeats N` the kit and PyTorch alternate N times (interleaved, so machine load hits both alike) and
 * the medians over repeats are reported with the ratio `speedVsPytorch`. A twin on Debian's reference BLAS is
 * refused (`--allow-reference-blas` runs it, marked `blasWarning`).
 *
 * Kept out of tasks/bench.ts so the task file only dispatches.
 * @module
 */
import { z } from "zod";
import { backendFlag, parseFlags, startBackend, UsageError } from "../cli/flags.ts";
import { benchEmbed, benchTrain } from "./train.ts";
import { checkTorchBlas, interleaveWithTorch, type StepFigures } from "./torch_twin.ts";
import { SFNET_BLOCKS } from "../models/config.ts";

const count = (dflt: number, max: number) => z.coerce.number().int().min(1).max(max).default(dflt);

export const TrainFlags = z.strictObject({
  backend: backendFlag,
  model: z.string().default("sfnet20").transform((v, ctx) => {
    const m = /^sfnet(\d+)$/i.exec(v.trim());
    if (!m || !(Number(m[1]) in SFNET_BLOCKS)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown model "${v}"; allowed: sfnet4, sfnet10, sfnet20, sfnet36, sfnet64`,
      });
      return z.NEVER;
    }
    return Number(m[1]);
  }),
  width: z.coerce.number().positive().max(4).default(0.25),
  size: z.coerce.number().int().min(16).max(512).default(56),
  batch: count(64, 4096),
  classes: z.coerce.number().int().min(2).max(10_000_000).default(1000),
  warmup: z.coerce.number().int().min(0).max(1000).default(3),
  steps: count(20, 100_000),
  repeats: count(1, 100),
  seed: z.coerce.number().int().default(0),
  torch: z.union([z.boolean(), z.string()]).optional().transform((v) => v === true || v === "true"),
  torchThreads: count(2, 256),
  torchDevice: z.enum(["cpu", "cuda"]).default("cpu"),
  /** Accept a PyTorch twin on Debian's reference BLAS (marked loudly in the JSON); refused by default. */
  allowReferenceBlas: z.union([z.boolean(), z.string()]).optional().transform((v) => v === true || v === "true"),
  python: z.string().default("/usr/bin/python3"),
});
export type TrainFlagValues = z.output<typeof TrainFlags>;

/** Runs the PyTorch twin once and returns its JSON line. */
export async function runTorchTrain(
  f: TrainFlagValues,
  mode: "train" | "embed" = "train",
): Promise<Record<string, unknown>> {
  const script = new URL("../../tasks/reference/bench_train_torch.py", import.meta.url).pathname;
  const args = [
    script,
    `--depth=${f.model}`,
    `--width=${f.width}`,
    `--size=${f.size}`,
    `--batch=${f.batch}`,
    `--classes=${f.classes}`,
    `--warmup=${f.warmup}`,
    `--steps=${f.steps}`,
    `--threads=${f.torchThreads}`,
    `--device=${f.torchDevice}`,
    `--mode=${mode}`,
  ];
  const out = await new Deno.Command(f.python, { args, stderr: "inherit" }).output();
  if (!out.success) throw new Error(`PyTorch reference failed (${f.python} ${args.join(" ")})`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** Parses argv (after `train`), runs the benchmark, returns the result object printed as the last JSON line. */
export async function runTrainBench(
  argv: readonly string[],
  mode: "train" | "embed" = "train",
): Promise<Record<string, unknown>> {
  const { flags, positionals } = parseFlags(argv, TrainFlags, `bench ${mode}`);
  if (positionals.length) throw new UsageError(`bench ${mode}: unexpected argument ${positionals[0]}`);
  const choice = await startBackend(flags.backend);
  console.error(
    `bench ${mode}: sfnet${flags.model} width ${flags.width} ${flags.size}px, B=${flags.batch} K=${flags.classes}, ` +
      `${flags.warmup} warm-up + ${flags.steps} timed steps` +
      (flags.torch ? `, ${flags.repeats}× interleaved with PyTorch` : ""),
  );
  const result = await interleaveWithTorch({
    repeats: flags.repeats,
    batch: flags.batch,
    kit: (): Promise<StepFigures> =>
      mode === "train" ? benchTrain({ ...flags, depth: flags.model }) : benchEmbed({ ...flags, depth: flags.model }),
    torch: flags.torch
      ? async () => {
        const t = await runTorchTrain(flags, mode);
        const warning = checkTorchBlas(t, flags.allowReferenceBlas);
        if (warning) {
          console.error(warning);
          t.blasWarning = warning;
        }
        return t;
      }
      : undefined,
  });
  result.backendDetail = choice.reason;
  return result;
}
