/**
 * Guards for the PyTorch twins of the benchmarks (`bench … --torch`): a comparison against PyTorch on Debian's
 * reference BLAS (libblas3, several times slower than OpenBLAS) is not a benchmark, so it is refused unless asked
 * for, and then marked in the JSON and on stderr. The twins report the BLAS they loaded
 * (tasks/reference/torch_env.py: `blas.kind`, `blas.libraries`, `threads`, `config`). {@link interleaveWithTorch} runs a
 * kit bench and its twin alternately and summarises both, the one comparison loop of `bench head|train|embed`.
 *
 * @example
 * ```ts
 * import { checkTorchBlas } from "./torch_twin.ts";
 * checkTorchBlas({ blas: { kind: "openblas", libraries: [] } }, false); // null: fine
 * ```
 * @module
 */
import { median } from "./timing.ts";

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

/** What every kit bench run reports and {@link interleaveWithTorch} summarises. */
export interface StepFigures {
  stepSeconds: number;
  imagesPerSecond: number;
  peakRssMB: number;
}

/**
 * Runs the kit's bench and its PyTorch twin alternately `repeats` times (kit, twin, kit, twin, …: both see the same
 * machine load) and summarises: the medians of the step times, the peak RSS over runs, the ratio `speedVsPytorch`
 * (PyTorch's median step over the kit's) and one entry per pair with its own ratio and the load average. Without a
 * twin the kit runs once. Progress lines go to stderr; the result is the last kit run's fields with the summary on top.
 */
export async function interleaveWithTorch<K extends StepFigures>(o: {
  repeats: number;
  batch: number;
  kit: () => Promise<K>;
  torch?: () => Promise<Record<string, unknown>>;
}): Promise<Record<string, unknown>> {
  const kit: K[] = [];
  const torch: Record<string, unknown>[] = [];
  const pairs: Record<string, number | null>[] = [];
  const digits = (s: number) => s.toFixed(s < 0.1 ? 4 : 3);
  for (let i = 0; i < (o.torch ? o.repeats : 1); i++) {
    const k = await o.kit();
    kit.push(k);
    console.error(`  kit     ${k.imagesPerSecond.toFixed(1)} img/s (${digits(k.stepSeconds)} s/step)`);
    if (!o.torch) continue;
    const t = await o.torch();
    torch.push(t);
    const ts = t.stepSeconds as number;
    console.error(`  pytorch ${(t.imagesPerSecond as number).toFixed(1)} img/s (${digits(ts)} s/step)`);
    pairs.push({
      kitSeconds: k.stepSeconds,
      pytorchSeconds: ts,
      ratio: ts / k.stepSeconds,
      loadAverage: loadAverage(),
    });
  }
  const stepSeconds = median(kit.map((r) => r.stepSeconds));
  const result: Record<string, unknown> = {
    ...(kit[kit.length - 1] as StepFigures & Record<string, unknown>),
    stepSeconds,
    imagesPerSecond: o.batch / stepSeconds,
    peakRssMB: Math.max(...kit.map((r) => r.peakRssMB)),
    loadAverage: loadAverage(),
  };
  if (o.torch) {
    const ts = median(torch.map((t) => t.stepSeconds as number));
    const { config, ...twin } = torch[torch.length - 1];
    result.pytorch = {
      ...twin,
      stepSeconds: ts,
      imagesPerSecond: o.batch / ts,
      minStepSeconds: Math.min(...torch.map((t) => t.minStepSeconds as number)),
      peakRssMB: Math.max(...torch.map((t) => t.peakRssMB as number)),
      config,
    };
    result.speedVsPytorch = ts / stepSeconds;
    result.repeats = torch.length;
    result.pairs = pairs;
  }
  return result;
}
