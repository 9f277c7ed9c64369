/**
 * `deno task bench head [--loss sphereface2] [--batch 256] [--dim 512] [--classes 10000] [--warmup 2] [--steps 5]
 * [--backend NAME] [--torch]`: forward + backward of a loss head; the last line of stdout is JSON with
 * `stepSeconds` and `imagesPerSecond`. `--torch` also runs the same step in PyTorch
 * (tasks/reference/bench_head_torch.py, Debian's python3-torch) and adds its figures and the ratio.
 * @module
 */
import { z } from "zod";
import { benchHead } from "../lib/bench/head.ts";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { HEAD_TYPES } from "../lib/losses/config.ts";

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
  if (what !== "head") {
    throw new UsageError(`bench: unknown benchmark "${what ?? ""}"; available: head`);
  }
  const { flags, positionals } = parseFlags(rest, HeadFlags, "bench head");
  if (positionals.length) throw new UsageError(`bench head: unexpected argument ${positionals[0]}`);
  await startBackend(flags.backend);
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
