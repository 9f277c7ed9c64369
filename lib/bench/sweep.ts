/**
 * What the benchmark sweeps share (`bench head-sweep`, lib/bench/head_sweep.ts; `bench train-sweep`,
 * lib/bench/train_sweep.ts): one child process per grid point so that each peak RSS is its own
 * ({@link benchInChild}), the reason a child failed ({@link lastLine}), the progress line per point
 * ({@link rowFigures}), `--append` merging into an earlier sweep.json keyed by the point ({@link mergeSweepFile}), the
 * atomic writing of sweep.json and the figures ({@link writeSweep}), and the line figures themselves
 * ({@link sweepFigure}).
 *
 * @example
 * ```ts
 * import { lastLine, mode } from "./sweep.ts";
 * lastLine("warning\nerror: out of memory\n"); // "error: out of memory"
 * mode([64, 256, 256]); // 256
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import { renderSvg } from "../render/svg.ts";
import { writeTextFileAtomic } from "../fs/write.ts";

/** What a child bench run left: its exit status, its last stdout line (the JSON result) and its stderr. */
export interface ChildResult {
  ok: boolean;
  last: string;
  stderr: string;
}

/** Runs one bench point with these arguments and returns its {@link ChildResult} (tests stub it). */
export type RunBench = (args: string[]) => Promise<ChildResult>;

/** A {@link RunBench} that runs `taskFile SUBCOMMAND ARGS` (the bench task's own path) in a child Deno. */
export function benchInChild(taskFile: string, subcommand: string): RunBench {
  return async (args) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", taskFile, subcommand, ...args],
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const stderr = new TextDecoder().decode(out.stderr);
    return { ok: out.success, last: lines[lines.length - 1] ?? "", stderr };
  };
}

/** The last non-blank line of a text (a failed child's error), at most 200 characters. */
export function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim());
  return (lines[lines.length - 1] ?? "").slice(0, 200);
}

/** The line a sweep prints per point: the kit's and PyTorch's step time and peak RSS ("-": none), and the note. */
export function rowFigures(r: {
  kitSeconds: number | null;
  kitPeakRssMB: number | null;
  torchSeconds: number | null;
  torchPeakRssMB: number | null;
  note: string;
}): string {
  return `kit ${r.kitSeconds?.toFixed(4) ?? "-"} s ${r.kitPeakRssMB?.toFixed(0) ?? "-"} MB; ` +
    `PyTorch ${r.torchSeconds?.toFixed(4) ?? "-"} s ${r.torchPeakRssMB?.toFixed(0) ?? "-"} MB ${r.note}`;
}

/** The most frequent value (the first seen among equals): the axis a sweep's figures are drawn at. */
export function mode<T>(values: readonly T[]): T {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? values[0];
}

/** How a sweep's rows are identified (a row with the same key replaces the earlier one) and ordered. */
export interface RowOrder<R> {
  key: (row: R) => string;
  compare: (a: R, b: R) => number;
}

/**
 * The rows of an earlier sweep.json with `rows` merged in (a row with the same key is replaced), sorted, and the
 * earlier command(s). A missing file gives just `rows`.
 */
export async function mergeSweepFile<R>(
  file: string,
  rows: readonly R[],
  order: RowOrder<R>,
): Promise<{ rows: R[]; commands: string[] }> {
  let old: { command?: string; rows?: R[] } = {};
  try {
    old = JSON.parse(await Deno.readTextFile(file));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw new Error(`${file}: ${err instanceof Error ? err.message : err}`);
  }
  const byKey = new Map((old.rows ?? []).map((r) => [order.key(r), r]));
  for (const r of rows) byKey.set(order.key(r), r);
  return { rows: [...byKey.values()].sort(order.compare), commands: old.command ? [old.command] : [] };
}

/**
 * Writes `dir/sweep.json` (`{command, rows}`) and then the files `render` makes of the rows (figures, report), each
 * atomically. With `append` the rows of an earlier `dir/sweep.json` are kept ({@link mergeSweepFile}) and the
 * commands joined with `&&`. Returns the rows written.
 */
export async function writeSweep<R>(dir: string, rows: readonly R[], command: string, o: {
  append?: boolean;
  order: RowOrder<R>;
  render: (rows: readonly R[], command: string) => Record<string, string>;
}): Promise<R[]> {
  let all = [...rows];
  if (o.append) {
    const merged = await mergeSweepFile(`${dir}/sweep.json`, rows, o.order);
    all = merged.rows;
    command = [...merged.commands, command].join(" && ");
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeTextFileAtomic(`${dir}/sweep.json`, JSON.stringify({ command, rows: all }, null, 2) + "\n");
  for (const [name, text] of Object.entries(o.render(all, command))) await writeTextFileAtomic(`${dir}/${name}`, text);
  return all;
}

/** One point of a {@link sweepFigure}: null and non-positive values (not measured, failed) are left out. */
export interface FigurePoint {
  x: number;
  value: number | null;
  series: string;
  /** Drawn dashed (e.g. PyTorch beside the kit's solid line of the same series and colour). */
  dashed?: boolean;
}

/**
 * A line-and-dot figure of a sweep (log y), one coloured line per series (solid, and dashed for dashed points), as
 * standalone SVG text. `x.ticks` are labelled as the numbers they are; `series` orders the colours.
 */
export function sweepFigure(o: {
  heading: string;
  x: { label: string; type: "log" | "linear"; ticks?: number[] };
  y: string;
  data: readonly FigurePoint[];
  series?: string[];
}): string {
  const data = o.data.filter((d) => d.value !== null && d.value > 0);
  const groups = [data.filter((d) => !d.dashed), data.filter((d) => d.dashed)];
  return renderSvg({
    width: 720,
    height: 320,
    style: "background: white",
    grid: true,
    swatches: "line",
    heading: o.heading,
    x: o.x.ticks ? { ...o.x, tickFormat: (d: number) => String(d) } : o.x,
    y: { label: o.y, type: "log" },
    ...(o.series ? { color: { domain: o.series } } : {}),
    marks: groups.flatMap((g, dashed) =>
      g.length
        ? [
          Plot.line(g, { x: "x", y: "value", stroke: "series", ...(dashed ? { strokeDasharray: "5,3" } : {}) }),
          Plot.dot(g, { x: "x", y: "value", stroke: "series" }),
        ]
        : []
    ),
  });
}
