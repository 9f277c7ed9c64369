/**
 * `deno task gpu-pack [--out results/sf2-gpu-check.tar.xz] [--level 9]`: packs the GPU check for a bare Linux
 * x86-64 machine with a GPU: this Deno binary, the kit modules `gpu-check` imports, the PyTorch twin's scripts and a
 * Deno cache with only the npm packages the step loads (tfjs, its WebGPU backend, zod…) and a Vulkan loader,
 * xz-compressed (35 MiB; the limit is 64 MiB). On the GPU machine (Linux x86-64, glibc; the GPU's driver with its
 * Vulkan part; python3 with torch+CUDA for the twin; nothing else, no network):
 *
 *   tar -xJf sf2-gpu-check.tar.xz && sf2-gpu-check/run.sh [--steps 10] [--batch 64] [--python PYTHON]
 *
 * run.sh runs `deno run -A --cached-only tasks/gpu_check.ts` offline (its flags pass through; the twin uses
 * `--python`, else the first python3 on PATH) and prints the kit on WebGPU and PyTorch on CUDA; last line JSON.
 * This task's last line of stdout is JSON: `{"out", "bytes", "uncompressedBytes", "files", "packages", "deno"}`.
 * @module
 */
import { z } from "zod";
import { buildGpuPack, PACK_LIMIT_BYTES } from "../lib/bench/gpu_pack.ts";
import { parseFlags, runTask, UsageError } from "../lib/cli/flags.ts";

const Flags = z.strictObject({
  out: z.string().min(1).default("results/sf2-gpu-check.tar.xz"),
  level: z.coerce.number().int().min(0).max(9).default(9),
});

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "gpu-pack", { paths: ["out"] });
  if (positionals.length) throw new UsageError(`gpu-pack: unexpected argument ${positionals[0]}`);
  const dir = flags.out.replace(/\/[^/]*$/, "");
  if (dir !== flags.out) await Deno.mkdir(dir, { recursive: true });
  const result = await buildGpuPack({ out: flags.out, level: flags.level });
  const mib = (result.bytes / 2 ** 20).toFixed(1);
  console.error(
    `gpu-pack: ${result.out}: ${mib} MiB (${(result.uncompressedBytes / 2 ** 20).toFixed(1)} MiB unpacked)` +
      (result.bytes >= PACK_LIMIT_BYTES ? ` — OVER the ${PACK_LIMIT_BYTES / 2 ** 20} MiB limit` : ""),
  );
  console.log(JSON.stringify(result));
  return result.bytes >= PACK_LIMIT_BYTES ? 1 : 0;
});
