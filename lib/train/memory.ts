/**
 * Memory estimates made before anything is allocated, so a model or head that cannot fit is refused at once with
 * the number and the limit, instead of growing for minutes and dying in `offset is out of bounds` (the wasm
 * heap) or swapping the machine. The estimates count float32 tensors that must coexist (weights, gradients,
 * momentum, the head's normalised copy and its B×K logits); activations come on top, so they are lower bounds.
 *
 * @example
 * ```ts
 * import { checkMemory, headBenchBytes } from "./memory.ts";
 * const bytes = headBenchBytes({ batch: 256, dim: 512, classes: 10_000 });
 * checkMemory(bytes, "bench head (K=10000)", "wasm"); // fine: about 0.1 GiB
 * ```
 * @module
 */
import type { ModelConfig } from "../models/config.ts";
import { countModelParams } from "../models/registry.ts";

const GiB = 2 ** 30;
/** wasm32 addresses at most 4 GiB, and tfjs-backend-wasm's heap cannot grow past that. */
export const WASM_HEAP_BYTES = 4 * GiB;

/** Not enough memory for what was asked; the message gives the estimate and the limit. */
export class MemoryLimitError extends Error {
  override name = "MemoryLimitError";
}

/** Bytes of one forward + backward of a loss head: W, its normalised copy and gradient (K×d), B×K logits ×6. */
export function headBenchBytes(o: { batch: number; dim: number; classes: number }): number {
  return 4 * (3 * o.classes * o.dim + 6 * o.batch * o.classes + 2 * o.batch * o.dim);
}

/**
 * Bytes of a training run at least: backbone and head weights, gradients and momentum (×3) plus BN buffers,
 * the head's normalised weight copy, and B×K logits (×6 for the loss and its gradient).
 */
export function trainingBytes(
  o: { model: ModelConfig; classes: number; batchSize: number },
): number {
  const p = countModelParams(o.model);
  const head = o.classes * (o.model.featDim + 1);
  const input = o.batchSize * o.model.inputSize * o.model.inputSize * 3;
  return 4 * (3 * p.trainable + p.frozen + p.buffers + 4 * head + 6 * o.batchSize * o.classes + 2 * input);
}

/** The limits that apply on `backend`: the wasm heap (wasm only) and the machine's physical memory. */
export function memoryLimits(backend: string): { bytes: number; what: string }[] {
  const limits: { bytes: number; what: string }[] = [];
  if (backend === "wasm") limits.push({ bytes: WASM_HEAP_BYTES, what: "the wasm backend's 4 GiB heap" });
  try {
    limits.push({ bytes: Deno.systemMemoryInfo().total, what: "this machine's memory" });
  } catch {
    // Not available on this platform: the wasm limit (if any) still applies.
  }
  return limits;
}

/** Formats bytes as GiB with two decimals (`12.50 GiB`). */
export function formatGiB(bytes: number): string {
  return `${(bytes / GiB).toFixed(2)} GiB`;
}

/** Throws a {@link MemoryLimitError} naming `what`, the estimate and the first limit it exceeds. */
export function checkMemory(bytes: number, what: string, backend: string): void {
  for (const limit of memoryLimits(backend)) {
    if (bytes > limit.bytes) {
      throw new MemoryLimitError(
        `${what} needs at least ${formatGiB(bytes)}, more than ${limit.what} (${formatGiB(limit.bytes)}); ` +
          `use fewer classes, a smaller model or batch` +
          (backend === "wasm" ? ", or a backend without the wasm heap limit (--backend tensorflow)" : ""),
      );
    }
  }
}
