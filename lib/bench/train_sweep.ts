/**
 * How the training step's cost grows with the network: `bench train` (kit and, with `--torch`, its PyTorch twin,
 * interleaved in the same child: `--torch --repeats 1`) over every width × input size, each point in its own process
 * so that its peak RSS is its own. Writes `sweep.json`, `report.md` (a table) and `time-vs-width.svg` /
 * `memory-vs-width.svg` (one colour per input size, kit solid, PyTorch dashed) to the output folder.
 *
 * A point whose child fails is not fatal: with `--torch` it is run again without PyTorch, so a PyTorch failure (out
 * of memory, the reference BLAS refused) keeps the kit's figures and is noted with its reason; a kit failure is
 * noted likewise.
 *
 * @example
 * ```ts
 * import { trainSweepPoints } from "./train_sweep.ts";
 * trainSweepPoints({ widths: [0.25, 0.5, 1], sizes: [56, 112] }).length; // 6
 * ```
 * @module
 */
import { type Align, fixed, markdownTable } from "../render/markdown.ts";
import {
  type ChildResult,
  lastLine,
  mergeSweepFile,
  mode,
  type RowOrder,
  type RunBench,
  sweepFigure,
  writeSweep,
} from "./sweep.ts";

/** One grid point: the SFNet width multiplier and the input side in pixels. */
export interface TrainSweepPoint {
  width: number;
  size: number;
}

/** Every size × width, sizes outer (one figure line after the other), without duplicates. */
export function trainSweepPoints(o: { widths: readonly number[]; sizes: readonly number[] }): TrainSweepPoint[] {
  const out: TrainSweepPoint[] = [];
  const seen = new Set<string>();
  for (const size of o.sizes) {
    for (const width of o.widths) {
      const key = `${width}@${size}`;
      if (!seen.has(key)) (seen.add(key), out.push({ width, size }));
    }
  }
  return out;
}

/** A measured point (null: not run or failed, the reason in `note`). */
export interface TrainSweepRow extends TrainSweepPoint {
  model: string;
  batch: number;
  classes: number;
  params: number | null;
  /** The kit's backend as the child reported it (`backend`). */
  backend: string | null;
  kitSeconds: number | null;
  kitImagesPerSecond: number | null;
  kitPeakRssMB: number | null;
  torchSeconds: number | null;
  torchImagesPerSecond: number | null;
  torchPeakRssMB: number | null;
  /** PyTorch's step time over the kit's (`speedVsPytorch`): above 1, the kit is faster. */
  ratio: number | null;
  blas: string | null;
  loadAverage: number | null;
  note: string;
}

export interface TrainSweepOptions {
  points: readonly TrainSweepPoint[];
  /** `sfnet4` … `sfnet64`. */
  model: string;
  batch: number;
  classes: number;
  torch: boolean;
  warmup: number;
  steps: number;
  /** Runs `bench train` with these arguments in its own process: `benchInChild(taskFile, "train")` (tests stub it). */
  runBench: RunBench;
  onRow?: (row: TrainSweepRow) => void;
}

/** The `bench train` arguments of one point (with `torch`: the twin interleaved once). */
export function trainPointArgs(o: Omit<TrainSweepOptions, "points" | "runBench">, p: TrainSweepPoint): string[] {
  return [
    `--model=${o.model}`,
    `--width=${p.width}`,
    `--size=${p.size}`,
    `--batch=${o.batch}`,
    `--classes=${o.classes}`,
    `--warmup=${o.warmup}`,
    `--steps=${o.steps}`,
    ...(o.torch ? ["--torch", "--repeats=1"] : []),
  ];
}

/** Runs every point, returning one row per point in order. */
export async function runTrainSweep(o: TrainSweepOptions): Promise<TrainSweepRow[]> {
  const rows: TrainSweepRow[] = [];
  for (const p of o.points) {
    let child = await o.runBench(trainPointArgs(o, p));
    let torchFailure: string | null = null;
    if (!child.ok && o.torch) {
      // Either side failed: the kit alone says which, and keeps the kit's figures when it was PyTorch.
      const kitOnly = await o.runBench(trainPointArgs({ ...o, torch: false }, p));
      if (kitOnly.ok) torchFailure = lastLine(child.stderr) || "no error message";
      child = kitOnly;
    }
    const row = trainSweepRow(o, p, child, o.torch && torchFailure === null);
    if (torchFailure !== null) row.note += `PyTorch failed: ${torchFailure}. `;
    o.onRow?.(row);
    rows.push(row);
  }
  return rows;
}

/**
 * The row of one point from its child's result. The last stdout line of `bench train` is JSON with the kit's
 * `stepSeconds`, `imagesPerSecond`, `peakRssMB`, `loadAverage`, `params`, `backend`, and with `--torch` a `pytorch`
 * object (`stepSeconds`, `imagesPerSecond`, `peakRssMB`, `blas.kind`) and `speedVsPytorch`; with `torchWanted` a
 * missing `pytorch` object is noted.
 */
export function trainSweepRow(
  o: Pick<TrainSweepOptions, "model" | "batch" | "classes">,
  p: TrainSweepPoint,
  child: ChildResult,
  torchWanted: boolean,
): TrainSweepRow {
  const row: TrainSweepRow = {
    model: o.model,
    width: p.width,
    size: p.size,
    batch: o.batch,
    classes: o.classes,
    params: null,
    backend: null,
    kitSeconds: null,
    kitImagesPerSecond: null,
    kitPeakRssMB: null,
    torchSeconds: null,
    torchImagesPerSecond: null,
    torchPeakRssMB: null,
    ratio: null,
    blas: null,
    loadAverage: null,
    note: "",
  };
  if (!child.ok) {
    row.note = `kit failed: ${lastLine(child.stderr) || "no error message"}. `;
    return row;
  }
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(child.last);
  } catch {
    row.note = `kit: unreadable result line: ${child.last.slice(0, 100)}. `;
    return row;
  }
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  row.params = num(r.params);
  row.backend = typeof r.backend === "string" ? r.backend : null;
  row.kitSeconds = num(r.stepSeconds);
  row.kitImagesPerSecond = num(r.imagesPerSecond);
  row.kitPeakRssMB = num(r.peakRssMB);
  row.loadAverage = num(r.loadAverage);
  if (row.kitSeconds === null) row.note += "kit: no stepSeconds in its result. ";
  const t = r.pytorch as Record<string, unknown> | undefined;
  if (t && typeof t === "object") {
    row.torchSeconds = num(t.stepSeconds);
    row.torchImagesPerSecond = num(t.imagesPerSecond);
    row.torchPeakRssMB = num(t.peakRssMB);
    row.blas = (t.blas as { kind?: string } | undefined)?.kind ?? "unknown";
    row.ratio = num(r.speedVsPytorch) ??
      (row.torchSeconds !== null && row.kitSeconds ? row.torchSeconds / row.kitSeconds : null);
    if (typeof t.blasWarning === "string") row.note += `${t.blasWarning.slice(0, 120)}. `;
  } else if (torchWanted) {
    row.note += "PyTorch: no figures in the result. ";
  }
  return row;
}

/** A train-sweep row is its configuration; rows sorted by model, B, K, size, then width. */
const TRAIN_ROWS: RowOrder<TrainSweepRow> = {
  key: (r) => `${r.model}|${r.batch}|${r.classes}|${r.size}|${r.width}`,
  compare: (a, b) =>
    a.model.localeCompare(b.model, "en", { numeric: true }) || a.batch - b.batch || a.classes - b.classes ||
    a.size - b.size || a.width - b.width,
};

/**
 * The rows of an earlier sweep.json with `rows` merged in (the same model, B, K, size and width replaced), sorted,
 * and the earlier command(s). A missing file gives just `rows`.
 */
export function mergeTrainSweep(
  file: string,
  rows: readonly TrainSweepRow[],
): Promise<{ rows: TrainSweepRow[]; commands: string[] }> {
  return mergeSweepFile(file, rows, TRAIN_ROWS);
}

const seconds = (v: number | null) => fixed(v, v !== null && v < 0.1 ? 4 : 3);

/** The markdown table of a train sweep. */
export function trainSweepTable(rows: readonly TrainSweepRow[]): string {
  return markdownTable(
    [
      "model",
      "width",
      "size",
      "B",
      "K",
      "kit s/step",
      "PyTorch s/step",
      "PyTorch / kit",
      "kit img/s",
      "PyTorch img/s",
      "kit peak RSS MB",
      "PyTorch peak RSS MB",
      "BLAS",
      "load",
      "note",
    ],
    rows.map((r) => [
      r.model,
      r.width,
      r.size,
      r.batch,
      r.classes.toLocaleString("en"),
      seconds(r.kitSeconds),
      seconds(r.torchSeconds),
      r.ratio === null ? null : `${r.ratio.toFixed(2)}×`,
      fixed(r.kitImagesPerSecond, 1),
      fixed(r.torchImagesPerSecond, 1),
      fixed(r.kitPeakRssMB, 0),
      fixed(r.torchPeakRssMB, 0),
      r.blas,
      fixed(r.loadAverage, 1),
      r.note.trim(),
    ]),
    ["left", ...Array<Align>(11).fill("right"), "left", "right", "left"],
  );
}

/**
 * Writes sweep.json, time-vs-width.svg, memory-vs-width.svg and report.md into `dir` (each atomically); with
 * `append`, merged into the rows of an earlier sweep.json there ({@link mergeTrainSweep}). Returns the rows written.
 */
export function writeTrainSweep(
  dir: string,
  rows: readonly TrainSweepRow[],
  command: string,
  append = false,
): Promise<TrainSweepRow[]> {
  return writeSweep(dir, rows, command, { append, order: TRAIN_ROWS, render: trainSweepFiles });
}

function trainSweepFiles(rows: readonly TrainSweepRow[], command: string): Record<string, string> {
  // The figures show the most common model, B and K (an --append of another configuration stays in the table).
  const config = (r: TrainSweepRow) => `${r.model}, B = ${r.batch}, K = ${r.classes.toLocaleString("en")}`;
  const shown = mode(rows.map(config));
  const drawn = rows.filter((r) => config(r) === shown);
  const widths = [...new Set(drawn.map((r) => r.width))].sort((a, b) => a - b);
  const sizes = [...new Set(drawn.map((r) => r.size))].sort((a, b) => a - b);
  const figure = (pick: (r: TrainSweepRow, torch: boolean) => number | null, label: string) =>
    sweepFigure({
      heading: `${label} vs width (${shown}): kit solid, PyTorch dashed`,
      x: { label: "width multiplier", type: "log", ticks: widths },
      y: label,
      data: drawn.flatMap((r) => [
        { x: r.width, value: pick(r, false), series: `${r.size} px` },
        { x: r.width, value: pick(r, true), series: `${r.size} px`, dashed: true },
      ]),
      series: sizes.map((s) => `${s} px`),
    });
  return {
    "time-vs-width.svg": figure((r, t) => (t ? r.torchSeconds : r.kitSeconds), "seconds per step"),
    "memory-vs-width.svg": figure((r, t) => (t ? r.torchPeakRssMB : r.kitPeakRssMB), "peak RSS, MB"),
    "report.md": `# Training step against width and input size\n\nCommand: \`${command}\`\n\n` +
      "Kit and PyTorch (dashed) per input size; PyTorch / kit is PyTorch's step time over the kit's.\n\n" +
      `${trainSweepTable(rows)}\n![time vs width](time-vs-width.svg) ![memory vs width](memory-vs-width.svg)\n`,
  };
}
