/**
 * GPU check: runs the `bench train` step on the GPU path and the same step in PyTorch on the same machine's GPU,
 * and prints both (last line JSON).
 *
 *   node_modules/.bin/deno run -A tasks/gpu_check.ts [--model sfnet20] [--width 0.25] [--size 56] [--batch 64]
 *     [--classes 1000] [--steps 10] [--allow-software]
 *
 * GPU path: `tensorflow` (tfjs-node-gpu) when it is installed, else WebGPU in Deno. A machine without a hardware
 * GPU fails with a clear message (exit 3): Deno's WebGPU then offers at best a software adapter (Mesa llvmpipe,
 * `isFallbackAdapter`), which `--allow-software` accepts to test the script itself. PyTorch runs with
 * `--device cuda` when `torch.cuda.is_available()`, else the check says so and reports the kit alone.
 * @module
 */
import { z } from "zod";
import * as tf from "@tensorflow/tfjs";
import { initBackend, webgpuAdapterInfo } from "../lib/backend/select.ts";
import { benchTrain } from "../lib/bench/train.ts";
import { runTorchTrain, TrainFlags } from "../lib/bench/train_task.ts";
import { parseFlags, runTask, UsageError } from "../lib/cli/flags.ts";

const Flags = TrainFlags.omit({ backend: true, torch: true, torchDevice: true, repeats: true }).extend({
  allowSoftware: z.union([z.boolean(), z.string()]).optional().transform((v) => v === true || v === "true"),
});

async function torchHasCuda(python: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", "import torch; print(torch.cuda.is_available())"],
      stderr: "null",
    }).output();
    return out.success && new TextDecoder().decode(out.stdout).trim() === "True";
  } catch {
    return false;
  }
}

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "gpu_check");
  if (positionals.length) throw new UsageError(`gpu_check: unexpected argument ${positionals[0]}`);
  let choice;
  try {
    choice = await initBackend({ requested: "tensorflow" });
  } catch {
    const adapter = await webgpuAdapterInfo();
    if (!adapter.present || (adapter.software && !flags.allowSoftware)) {
      console.error(
        `gpu_check: no GPU path on this machine: tfjs-node-gpu is not installed and WebGPU has ` +
          (adapter.present
            ? `only a software adapter (${adapter.description})`
            : `no adapter (${adapter.description})`) +
          `. Run on a machine with a GPU, or pass --allow-software to exercise the script on the software adapter.`,
      );
      Deno.exit(3);
    }
    choice = await initBackend({ requested: "webgpu" });
    console.error(`gpu_check: WebGPU adapter: ${adapter.description}${adapter.software ? " (software)" : ""}`);
  }
  console.error(choice.message);
  const kit = await benchTrain({ ...flags, depth: flags.model });
  console.error(`gpu_check: kit (${tf.getBackend()}): ${kit.imagesPerSecond.toFixed(1)} img/s`);
  const cuda = await torchHasCuda(flags.python);
  let pytorch: Record<string, unknown> | string;
  if (cuda) {
    pytorch = await runTorchTrain({ ...flags, torch: true, torchDevice: "cuda", repeats: 1, backend: undefined });
    console.error(`gpu_check: PyTorch (cuda): ${(pytorch.imagesPerSecond as number).toFixed(1)} img/s`);
  } else {
    pytorch = "torch.cuda.is_available() is False on this machine: PyTorch GPU step not run";
    console.error(`gpu_check: ${pytorch}`);
  }
  console.log(JSON.stringify({
    check: "gpu",
    kit,
    pytorch,
    speedVsPytorch: typeof pytorch === "string" ? null : kit.imagesPerSecond / (pytorch.imagesPerSecond as number),
  }));
});
