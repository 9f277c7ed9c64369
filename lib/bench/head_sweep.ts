/**
 * How the head's cost grows: `bench head` (kit and, with `--torch`, PyTorch, interleaved) over a grid of class counts
 * K at one batch and of batch sizes B at one K, each point in its own process so that its peak RSS is its own. Writes
 * `sweep.json`, `report.md` (a table) and `time-vs-k.svg`, `time-vs-b.svg`, `memory-vs-k.svg`, `memory-vs-b.svg`
 * (log-log figures) to the output folder; the plumbing shared with `bench train-sweep` is in sweep.ts.
 *
 * K = 10⁶ does not fit wasm's 4 GiB heap (W and dW are 2 GB each), so points whose W exceeds `wasmLimitBytes` run on
 * the cpu backend's arrays with the same fused kernel. A PyTorch point that fails (out of memory) is recorded as such.
 *
 * @example
 * ```ts
 * import { sweepPoints } from "./head_sweep.ts";
 * sweepPoints({ classes: [1000, 10000], batches: [64, 256], batchForK: 256, classesForB: 10000 }).length; // 3
 * ```
 * @module
 */
import { lastLine, mergeSweepFile, mode, type RowOrder, type RunBench, sweepFigure, writeSweep } from "./sweep.ts";

/** One grid point. */
export interface SweepPoint {
  batch: number;
  classes: number;
}

/** The K axis at `batchForK` and the B axis at `classesForB`, without duplicates, in order. */
export function sweepPoints(o: {
  classes: number[];
  batches: number[];
  batchForK: number;
  classesForB: number;
}): SweepPoint[] {
  const out: SweepPoint[] = [];
  const seen = new Set<string>();
  const add = (p: SweepPoint) => {
    const k = `${p.batch}x${p.classes}`;
    if (!seen.has(k)) (seen.add(k), out.push(p));
  };
  for (const classes of o.classes) add({ batch: o.batchForK, classes });
  for (const batch of o.batches) add({ batch, classes: o.classesForB });
  return out;
}

/** A measured point: the kit's and PyTorch's step time and peak RSS (null: not run or failed, with the reason). */
export interface SweepRow extends SweepPoint {
  backend: string;
  kitSeconds: number | null;
  kitPeakRssMB: number | null;
  torchSeconds: number | null;
  torchPeakRssMB: number | null;
  ratio: number | null;
  blas: string | null;
  loadAverage: number | null;
  note: string;
}

export interface SweepOptions {
  points: SweepPoint[];
  dim: number;
  loss: string;
  torch: boolean;
  warmup: number;
  steps: number;
  /** W bytes above which the point runs on the cpu backend (default 1.5 GB). */
  wasmLimitBytes?: number;
  /**
   * Runs `bench head` with these arguments, one point per process so that each peak RSS is its own, and returns its
   * last stdout line: `benchInChild(taskFile, "head")` (sweep.ts; tests stub it).
   */
  runBench: RunBench;
  onRow?: (row: SweepRow) => void;
}

/** Runs every point (kit, then PyTorch in the same child when `torch`), returning one row per point. */
export async function runHeadSweep(o: SweepOptions): Promise<SweepRow[]> {
  const run = o.runBench;
  const rows: SweepRow[] = [];
  for (const p of o.points) {
    const big = 4 * o.dim * p.classes > (o.wasmLimitBytes ?? 1.5e9);
    const args = [
      `--loss=${o.loss}`,
      `--batch=${p.batch}`,
      `--dim=${o.dim}`,
      `--classes=${p.classes}`,
      `--warmup=${o.warmup}`,
      `--steps=${o.steps}`,
      ...(big ? ["--backend=cpu"] : []),
    ];
    const row: SweepRow = {
      ...p,
      backend: big ? "cpu + fused head" : "wasm + fused head",
      kitSeconds: null,
      kitPeakRssMB: null,
      torchSeconds: null,
      torchPeakRssMB: null,
      ratio: null,
      blas: null,
      loadAverage: null,
      note: "",
    };
    const kit = await run(args);
    if (kit.ok) {
      const r = JSON.parse(kit.last);
      row.kitSeconds = r.stepSeconds;
      row.kitPeakRssMB = r.peakRssMB;
      row.loadAverage = r.loadAverage ?? null;
    } else {
      row.note += `kit failed: ${lastLine(kit.stderr)}. `;
    }
    if (o.torch) {
      const torch = await runTorchTwin(o, p);
      if (torch.ok) {
        row.torchSeconds = torch.stepSeconds;
        row.torchPeakRssMB = torch.peakRssMB;
        row.blas = torch.blas;
        if (row.kitSeconds) row.ratio = torch.stepSeconds / row.kitSeconds;
      } else {
        row.note += `PyTorch failed: ${torch.reason}. `;
      }
    }
    o.onRow?.(row);
    rows.push(row);
  }
  return rows;
}

/** PyTorch's twin run directly (not through the kit's process, so the kit's memory does not add to it). */
async function runTorchTwin(
  o: SweepOptions,
  p: SweepPoint,
): Promise<{ ok: true; stepSeconds: number; peakRssMB: number; blas: string } | { ok: false; reason: string }> {
  const script = new URL("../../tasks/reference/bench_head_torch.py", import.meta.url).pathname;
  const args = [
    script,
    `--batch=${p.batch}`,
    `--dim=${o.dim}`,
    `--classes=${p.classes}`,
    `--warmup=${o.warmup}`,
    `--steps=${o.steps}`,
    `--loss=${o.loss}`,
  ];
  try {
    const out = await new Deno.Command("/usr/bin/python3", { args, stderr: "piped" }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    if (!out.success) {
      const killed = out.signal === "SIGKILL" || out.code === 137;
      return { ok: false, reason: killed ? "killed (out of memory)" : lastLine(stderr) };
    }
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const r = JSON.parse(lines[lines.length - 1]);
    return { ok: true, stepSeconds: r.stepSeconds, peakRssMB: r.peakRssMB, blas: r.blas?.kind ?? "unknown" };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

const fmt = (v: number | null, digits: number) => (v === null ? "—" : v.toFixed(digits));

/** The markdown table of a sweep. */
export function sweepTable(rows: readonly SweepRow[]): string {
  const head = "| B | K | kit s/step | PyTorch s/step | PyTorch / kit | kit peak RSS MB | PyTorch peak RSS MB | kit " +
    "backend | load | note |\n|---:|---:|---:|---:|---:|---:|---:|---|---:|---|";
  const body = rows.map((r) =>
    `| ${r.batch} | ${r.classes.toLocaleString("en")} | ${fmt(r.kitSeconds, 4)} | ${fmt(r.torchSeconds, 4)} | ` +
    `${r.ratio === null ? "—" : r.ratio.toFixed(2) + "×"} | ${fmt(r.kitPeakRssMB, 0)} | ${
      fmt(r.torchPeakRssMB, 0)
    } | ` +
    `${r.backend} | ${fmt(r.loadAverage, 1)} | ${r.note.trim()} |`
  );
  return [head, ...body].join("\n");
}

/** A head-sweep point is its B and K; rows sorted by B, then K. */
const HEAD_ROWS: RowOrder<SweepRow> = {
  key: (r) => `${r.batch}x${r.classes}`,
  compare: (a, b) => a.batch - b.batch || a.classes - b.classes,
};

/**
 * The rows of an earlier sweep.json with `rows` merged in (a point with the same B and K is replaced), sorted by B
 * then K, and the earlier command(s). A missing file gives just `rows`.
 */
export function mergeSweep(file: string, rows: readonly SweepRow[]): Promise<{ rows: SweepRow[]; commands: string[] }> {
  return mergeSweepFile(file, rows, HEAD_ROWS);
}

/**
 * Writes sweep.json, the four figures and report.md into `dir` (each atomically); with `append`, merged into the rows
 * of an earlier sweep.json there ({@link mergeSweep}). Returns the rows written.
 */
export function writeHeadSweep(
  dir: string,
  rows: readonly SweepRow[],
  command: string,
  append = false,
): Promise<SweepRow[]> {
  return writeSweep(dir, rows, command, { append, order: HEAD_ROWS, render: headSweepFiles });
}

function headSweepFiles(rows: readonly SweepRow[], command: string): Record<string, string> {
  const series = (axis: "classes" | "batch", fixed: (r: SweepRow) => boolean, pick: "Seconds" | "PeakRssMB") =>
    rows.filter(fixed).flatMap((r) => [
      { x: r[axis], value: pick === "Seconds" ? r.kitSeconds : r.kitPeakRssMB, series: "kit (fused head)" },
      { x: r[axis], value: pick === "Seconds" ? r.torchSeconds : r.torchPeakRssMB, series: "PyTorch" },
    ]);
  const batchForK = mode(rows.map((r) => r.batch));
  const classesForB = mode(rows.map((r) => r.classes));
  const figure = (pick: "Seconds" | "PeakRssMB", label: string) => [
    sweepFigure({
      heading: `${label} vs classes K (B = ${batchForK}, d = 512)`,
      x: { label: "classes K", type: "log" },
      y: label,
      data: series("classes", (r) => r.batch === batchForK, pick),
    }),
    sweepFigure({
      heading: `${label} vs batch B (K = ${classesForB.toLocaleString("en")})`,
      x: { label: "batch B", type: "log" },
      y: label,
      data: series("batch", (r) => r.classes === classesForB, pick),
    }),
  ];
  const [timeK, timeB] = figure("Seconds", "seconds per step");
  const [memK, memB] = figure("PeakRssMB", "peak RSS, MB");
  return {
    "time-vs-k.svg": timeK,
    "time-vs-b.svg": timeB,
    "memory-vs-k.svg": memK,
    "memory-vs-b.svg": memB,
    "report.md": `# Head cost against K and B\n\nCommand: \`${command}\`\n\n${sweepTable(rows)}\n\n` +
      "![time vs K](time-vs-k.svg) ![time vs B](time-vs-b.svg)\n\n![memory vs K](memory-vs-k.svg) " +
      "![memory vs B](memory-vs-b.svg)\n",
  };
}
