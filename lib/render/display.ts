/**
 * Rich display for notebooks without touching `Deno.jupyter`: values that carry a
 * `[Symbol.for("Jupyter.display")]()` method returning a MIME bundle are rendered by the Deno kernel when they
 * are a cell's value or passed to `Deno.jupyter.display`, and are plain objects everywhere else (tasks, tests),
 * where `Deno.jupyter` would throw.
 *
 * Notebooks report their key numbers with {@link keyNumbers}: a display whose bundle holds the numbers under a
 * dedicated MIME type ({@link KEY_NUMBERS_MIME}), which the headless runner extracts from the executed notebook
 * ({@link extractKeyNumbers}) and the tests check. An explicit display, not a cell's incidental last value.
 *
 * @example
 * ```ts
 * import { keyNumbers, table } from "./display.ts";
 * table([{ setting: "C", b0: 5.784568 }], { digits: 4 }); // renders as an HTML table in a notebook
 * keyNumbers({ b0: 5.784568 }); // the final cell of a notebook
 * ```
 * @module
 */
import { markdownTable } from "./markdown.ts";

/** The symbol the Deno kernel looks for on a displayed value. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/** A Jupyter MIME bundle: MIME type → content (text, or JSON for `+json` types). */
export type MimeBundle = Record<string, unknown>;

/** Anything the Deno kernel can display richly. */
export interface Displayable {
  [JUPYTER_DISPLAY](): MimeBundle;
}

/** Whether a value implements the display protocol. */
export function isDisplayable(value: unknown): value is Displayable {
  return typeof value === "object" && value !== null &&
    typeof (value as Partial<Displayable>)[JUPYTER_DISPLAY] === "function";
}

/** Wraps a bundle (or a function computing it lazily) as a displayable value. */
export function displayable(bundle: MimeBundle | (() => MimeBundle)): Displayable {
  return { [JUPYTER_DISPLAY]: typeof bundle === "function" ? bundle : () => bundle };
}

/** Markdown text, shown rendered in a notebook (and as-is in `text/plain`). */
export function markdown(text: string): Displayable {
  return displayable({ "text/markdown": text, "text/plain": text });
}

export interface TableOptions {
  /** Columns to show, in order; default the keys of the first row. */
  columns?: readonly string[];
  /** Decimal places of non-integer numbers (default 4). */
  digits?: number;
  /** Optional caption shown above the table. */
  caption?: string;
}

/**
 * A table of rows (objects; cells: numbers, text, booleans, null; anything else as JSON) as HTML (what Jupyter shows), Markdown (what nbconvert's Markdown export keeps) and plain
 * text. Numbers are printed with `digits` decimals; null/undefined as "–".
 */
export function table<R extends object>(
  rows: readonly R[],
  options: TableOptions = {},
): Displayable & { markdown: string } {
  const records = rows as readonly Record<string, unknown>[];
  const columns = options.columns ?? (records.length ? Object.keys(records[0]) : []);
  const digits = options.digits ?? 4;
  const format = (v: unknown): string => {
    if (v === null || v === undefined) return "–";
    if (typeof v === "number") return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : v.toFixed(digits);
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  };
  const cells = records.map((r) => columns.map((c) => format(r[c])));
  const numeric = columns.map((c) =>
    records.length > 0 && records.every((r) => typeof r[c] === "number" || r[c] == null)
  );
  const md = (options.caption ? `**${options.caption}**\n\n` : "") +
    markdownTable(columns, cells, numeric.map((n) => (n ? "right" : "left")));
  const th = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = cells.map((row) =>
    `<tr>${
      row.map((v, i) => `<td style="text-align:${numeric[i] ? "right" : "left"}">${escapeHtml(v)}</td>`).join("")
    }</tr>`
  ).join("\n");
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : "";
  const html = `<table>${caption}<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
  return { markdown: md, [JUPYTER_DISPLAY]: () => ({ "text/html": html, "text/markdown": md, "text/plain": md }) };
}

// ---------------------------------------------------------------------------------------------------------
// Figures

/** Pixel ratio of the PNG a figure is displayed as: crisp on high-DPI screens, shown at its SVG size. */
export const FIGURE_PNG_SCALE = 2;

/** The size an SVG declares on its root element (`width`/`height` attributes, else its `viewBox`). */
export function svgSize(svg: string): { width: number; height: number } {
  const root = svg.slice(0, svg.indexOf(">") + 1);
  const attr = (name: string) => Number(new RegExp(`\\s${name}="([\\d.]+)`).exec(root)?.[1]);
  let width = attr("width"), height = attr("height");
  if (!(width > 0 && height > 0)) {
    const box = /viewBox="[\d.\-]+[ ,]+[\d.\-]+[ ,]+([\d.]+)[ ,]+([\d.]+)"/.exec(root);
    width = Number(box?.[1]);
    height = Number(box?.[2]);
  }
  if (!(width > 0 && height > 0)) {
    throw new Error("svgSize: the <svg> element declares neither width/height nor viewBox");
  }
  return { width, height };
}

/**
 * An `<img>` holding a PNG as a data URI, shown at `width` CSS pixels: the HTML form of a figure, which every front
 * end keeps (nbconvert's HTML export drops bare `image/svg+xml` outputs; inline `<svg>` inside HTML is stripped by
 * GitHub's sanitiser).
 */
export function pngImgHtml(png: Uint8Array, width: number, alt: string): string {
  return `<img src="data:image/png;base64,${base64(png)}" width="${Math.round(width)}" alt="${escapeHtml(alt)}">`;
}

/**
 * The one way the kit displays a figure in a notebook: a PNG, as `image/png` (what GitHub's viewer and VS Code
 * render) and as an `<img>` in `text/html` sized to the figure (what Jupyter and nbconvert's HTML show, at the
 * figure's own size although the PNG is rendered at {@link FIGURE_PNG_SCALE}×), with the title as plain text.
 * No `image/svg+xml`: nbconvert's HTML export shows it as an empty box.
 */
export function figureBundle(png: Uint8Array, width: number, title: string): MimeBundle {
  return {
    "text/html": pngImgHtml(png, width, title),
    "image/png": base64(png),
    "text/plain": `[figure: ${title}]`,
  };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// ---------------------------------------------------------------------------------------------------------
// Key numbers

/** The MIME type under which a notebook emits the numbers its tests check. */
export const KEY_NUMBERS_MIME = "application/vnd.sf2.key-numbers+json";

/** A JSON value: what key numbers may contain. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * The display of a notebook's key numbers: JSON under {@link KEY_NUMBERS_MIME} for the runner and tests, and an
 * empty text, so that a reader does not wade through them. Non-finite numbers are rejected (JSON would turn them
 * into null silently).
 */
export function keyNumbers(values: { [key: string]: Json }): Displayable {
  const bad = nonFinitePaths(values, "");
  if (bad.length) throw new Error(`keyNumbers: non-finite values at ${bad.join(", ")}`);
  // Nothing for people to read: the numbers are for the tests (the tables and figures above show them); the empty
  // text keeps front ends from printing the JSON of an unknown MIME type.
  return displayable({ [KEY_NUMBERS_MIME]: values, "text/plain": "" });
}

function nonFinitePaths(value: Json, path: string): string[] {
  if (typeof value === "number") return Number.isFinite(value) ? [] : [path || "(root)"];
  if (Array.isArray(value)) return value.flatMap((v, i) => nonFinitePaths(v, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => nonFinitePaths(v, path ? `${path}.${k}` : k));
  }
  return [];
}

/** The parts of a saved notebook (nbformat 4) that {@link extractKeyNumbers} reads. */
export interface NotebookJson {
  cells: Array<{ cell_type: string; outputs?: Array<{ output_type: string; data?: MimeBundle }> }>;
}

/**
 * The key numbers an executed notebook emitted: the last output carrying {@link KEY_NUMBERS_MIME}, or null when
 * there is none. (nbformat may store a JSON MIME value as a string; both forms are accepted.)
 */
export function extractKeyNumbers(notebook: NotebookJson): { [key: string]: Json } | null {
  let found: { [key: string]: Json } | null = null;
  for (const cell of notebook.cells) {
    if (cell.cell_type !== "code") continue;
    for (const output of cell.outputs ?? []) {
      const value = output.data?.[KEY_NUMBERS_MIME];
      if (value === undefined) continue;
      found = (typeof value === "string" ? JSON.parse(value) : value) as { [key: string]: Json };
    }
  }
  return found;
}
