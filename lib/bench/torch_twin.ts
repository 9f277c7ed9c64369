/**
 * Guards for the PyTorch twins of the benchmarks (`bench … --torch`): a comparison against PyTorch on Debian's
 * reference BLAS (libblas3, several times slower than OpenBLAS) is not a benchmark, so it is refused unless asked
 * for, and then marked in the JSON and on stderr. The twins report the BLAS they loaded
 * (tasks/reference/torch_env.py: `blas.kind`, `blas.libraries`, `threads`, `config`).
 *
 * @example
 * ```ts
 * import { checkTorchBlas } from "./torch_twin.ts";
 * checkTorchBlas({ blas: { kind: "openblas", libraries: [] } }, false); // null: fine
 * ```
 * @module
 */

/** Thrown when the twin ran on the reference BLAS and `--allow-reference-blas` was not given. */
export class ReferenceBlasError extends Error {}

/**
 * Returns null when PyTorch ran on an optimised BLAS, a warning string when it ran on the reference BLAS (or an
 * unknown one) and that was allowed; throws {@link ReferenceBlasError} for the reference BLAS otherwise.
 */
export function checkTorchBlas(twin: Record<string, unknown>, allowReference: boolean): string | null {
  const blas = twin.blas as { kind?: string; libraries?: string[] } | undefined;
  const kind = blas?.kind ?? "unknown";
  if (kind === "openblas" || kind === "mkl" || kind === "blis") return null;
  const what = `PyTorch ran on ${kind === "reference" ? "the REFERENCE BLAS" : "an unidentified BLAS"} ` +
    `(${(blas?.libraries ?? []).join(", ") || "no BLAS library found in /proc/self/maps"})`;
  const fix = "install OpenBLAS (apt-get install libopenblas0-pthread; update-alternatives --display " +
    "libblas.so.3-x86_64-linux-gnu shows the choice)";
  if (kind === "reference" && !allowReference) {
    throw new ReferenceBlasError(
      `bench --torch: ${what}: not a fair comparison; ${fix}, or pass --allow-reference-blas`,
    );
  }
  return `WARNING: ${what}; ${fix}`;
}

/** The 1-minute load average (Linux), so every figure carries the machine's load; null where unreadable. */
export function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}
