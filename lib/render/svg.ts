/**
 * Headless Observable Plot: {@link renderSvg} turns Plot options into a standalone SVG file's text, with linkedom
 * standing in for the browser DOM, so tasks can write figures without a browser.
 *
 * Plot wraps its SVG in an HTML `<figure>` whenever there is a `title`, `subtitle`, `caption` or a legend, and
 * its ordinal legends ("swatches") are HTML. Neither survives as an `.svg` file (nor through an SVG rasteriser),
 * so this module always asks Plot for a bare SVG (`figure: false`), rejects those options, and instead draws a
 * `heading` and colour `swatches` itself, inside the SVG, above the plot. The result is always one `<svg>`
 * element with `xmlns` set.
 *
 * Output is deterministic: Plot numbers clip paths, patterns and markers with process-wide counters, so the same
 * chart rendered twice would differ; those ids are renumbered per SVG (and can be given a prefix, which keeps
 * them unique when several SVGs are inlined in one HTML page).
 *
 * @example
 * ```ts
 * import * as Plot from "@observablehq/plot";
 * import { renderSvg } from "./svg.ts";
 * const rows = [{ x: 0, y: 1, s: "a" }, { x: 1, y: 2, s: "a" }, { x: 0, y: 2, s: "b" }, { x: 1, y: 0, s: "b" }];
 * const svg = renderSvg({
 *   heading: "Two lines",
 *   swatches: true,
 *   x: { label: "cos θ" },
 *   marks: [Plot.line(rows, { x: "x", y: "y", stroke: "s" })],
 * });
 * await Deno.writeTextFile("lines.svg", svg);
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";

const SVG_NS = "http://www.w3.org/2000/svg";

/** Plot options for {@link renderSvg}: Plot's own, minus those that would produce HTML, plus SVG-side titles. */
export interface SvgPlotOptions
  extends Omit<Plot.PlotOptions, "document" | "figure" | "title" | "subtitle" | "caption"> {
  /** A heading drawn inside the SVG, above the plot (Plot's `title` would make an HTML figure). */
  heading?: string;
  /**
   * Swatches of the ordinal colour scale drawn inside the SVG, above the plot (Plot's own legend is HTML).
   * `true` draws squares; `"line"` draws short strokes, which suit line charts.
   */
  swatches?: boolean | "square" | "line";
  /** Prefix of the renumbered clip-path/pattern/marker ids; default `"plot"`. */
  idPrefix?: string;
}

/**
 * The minimal DOM surface this module uses. The kit type-checks without the DOM lib, so linkedom's and Plot's
 * DOM types are opaque here; these describe exactly what is called.
 */
interface DomNode {
  readonly tagName: string;
  readonly childNodes: ArrayLike<DomNode>;
  textContent: string | null;
  readonly outerHTML: string;
  setAttribute(name: string, value: string): void;
  getAttribute(name: string): string | null;
  appendChild(child: DomNode): DomNode;
  insertBefore(child: DomNode, before: DomNode | null): DomNode;
}
interface DomDocument {
  createElementNS(namespace: string, name: string): DomNode;
}
/** Plot's return value: the SVG element plus `scale(name)`. */
interface PlotSvg extends DomNode {
  scale(name: string): { type: string; domain: unknown[]; range?: unknown[] } | undefined;
}

// Layout of the header (px); Plot's default font is 10px system-ui.
/** Text size of every figure (Plot's default is 10 px, small once a figure is scaled to a notebook's width). */
const FONT_SIZE = 12;
const HEADING_SIZE = 14;
const PAD = 8;
const ROW = 16;
const SWATCH = 10;
const LINE_SWATCH = 16;
/** Approximate advance width of one character at 10px: the header is laid out without font metrics. */
const CHAR_WIDTH = 6;

/** Scale options whose `legend` would produce HTML (or a figure) in Plot. */
const LEGEND_SCALES = ["color", "opacity", "symbol", "r", "length"] as const;

/**
 * Scales given explicit integer ticks (shards, t, seeds) are labelled as integers ("1", "2"), not with the decimals
 * the scale's default format would give them ("1.0", "2.0"), unless the options set a format.
 */
function integerTicks<T extends Record<string, unknown>>(options: T): T {
  const out: Record<string, unknown> = { ...options };
  for (const key of ["x", "y", "fx", "fy"]) {
    const scale = out[key] as { ticks?: unknown; tickFormat?: unknown } | undefined;
    if (!scale || scale.tickFormat !== undefined || !Array.isArray(scale.ticks)) continue;
    if (scale.ticks.every((t) => typeof t === "number" && Number.isInteger(t))) {
      out[key] = { ...scale, tickFormat: "d" };
    }
  }
  return out as T;
}

/**
 * Renders a Plot chart to the text of a standalone SVG file (UTF-8, `xmlns` set, no XML declaration needed).
 * Throws when given options that make Plot produce HTML (`title`, `subtitle`, `caption`, a scale `legend`):
 * use `heading` and `swatches` instead.
 */
export function renderSvg(options: SvgPlotOptions): string {
  rejectHtmlOptions(options);
  const { heading, swatches, idPrefix = "plot", style, ...plotOptions } = options;
  const { document } = parseHTML("<!doctype html><html><body></body></html>") as unknown as {
    document: DomDocument;
  };
  // linkedom's `style` property is read-only, so Plot's string form fails there; set it as an attribute instead.
  const plotStyle = typeof style === "string" ? undefined : style;
  const svg = Plot.plot({
    ...integerTicks(plotOptions),
    style: plotStyle,
    figure: false,
    document: document as never,
  }) as unknown as PlotSvg;
  if (svg.tagName.toLowerCase() !== "svg") {
    throw new Error(`renderSvg: Plot returned <${svg.tagName.toLowerCase()}>, expected <svg>`);
  }
  svg.setAttribute("xmlns", SVG_NS);
  svg.setAttribute("font-size", String(FONT_SIZE));
  if (typeof style === "string") svg.setAttribute("style", style);
  if (heading !== undefined || swatches) {
    addHeader(document, svg, heading, swatches ? swatchEntries(svg) : [], swatches);
  }
  return renumberIds(svg.outerHTML, idPrefix);
}

function rejectHtmlOptions(options: SvgPlotOptions): void {
  const raw = options as Record<string, unknown>;
  for (const key of ["title", "subtitle", "caption", "figure"]) {
    if (raw[key] !== undefined) {
      throw new Error(`renderSvg: option "${key}" makes Plot return HTML; use "heading" (and the report's caption)`);
    }
  }
  for (const key of LEGEND_SCALES) {
    const scale = raw[key] as { legend?: unknown } | undefined;
    if (scale && typeof scale === "object" && scale.legend) {
      throw new Error(`renderSvg: ${key}.legend makes Plot return HTML; use "swatches: true" for an in-SVG legend`);
    }
  }
}

interface Swatch {
  label: string;
  color: string;
}

/** Domain and colours of the ordinal colour scale, in domain order. */
function swatchEntries(svg: PlotSvg): Swatch[] {
  const scale = svg.scale("color");
  if (!scale || scale.type !== "ordinal" || !scale.range) {
    throw new Error(`renderSvg: swatches need an ordinal color scale, got ${scale ? scale.type : "none"}`);
  }
  const range = scale.range;
  return scale.domain.map((d, i) => ({ label: String(d), color: String(range[i % range.length]) }));
}

/**
 * Makes room above the plot (taller viewBox, plot moved down) and draws the heading and swatches there. The
 * plot's children move into a translated group rather than a nested <svg>, because Plot's stylesheet sets
 * `height: auto` on its class, which would resize a nested viewport.
 */
function addHeader(
  document: DomDocument,
  svg: PlotSvg,
  heading: string | undefined,
  entries: Swatch[],
  style: SvgPlotOptions["swatches"],
): void {
  const width = Number(svg.getAttribute("width"));
  const height = Number(svg.getAttribute("height"));
  const el = (name: string, attrs: Record<string, string | number>, text?: string) => {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const header = el("g", { "aria-label": "header", "text-anchor": "start" });
  let y = PAD;
  if (heading !== undefined) {
    header.appendChild(
      el("text", { x: PAD, y, dy: "0.8em", "font-size": HEADING_SIZE, "font-weight": "bold" }, heading),
    );
    y += HEADING_SIZE + 8;
  }
  if (entries.length) {
    const swatchWidth = style === "line" ? LINE_SWATCH : SWATCH;
    let x = PAD;
    for (const { label, color } of entries) {
      const entryWidth = swatchWidth + 5 + label.length * CHAR_WIDTH + 14;
      if (x > PAD && x + entryWidth > width - PAD) {
        x = PAD;
        y += ROW;
      }
      const mid = y + ROW / 2;
      header.appendChild(
        style === "line"
          ? el("line", { x1: x, x2: x + LINE_SWATCH, y1: mid, y2: mid, stroke: color, "stroke-width": 2 })
          : el("rect", { x, y: mid - SWATCH / 2, width: SWATCH, height: SWATCH, fill: color }),
      );
      header.appendChild(el("text", { x: x + swatchWidth + 5, y: mid, dy: "0.32em", "font-size": FONT_SIZE }, label));
      x += entryWidth;
    }
    y += ROW;
  }
  const offset = y + 4;

  const body = el("g", { transform: `translate(0,${offset})` });
  for (const child of Array.from(svg.childNodes)) {
    if (child.tagName?.toLowerCase() !== "style") body.appendChild(child);
  }
  svg.appendChild(header);
  svg.appendChild(body);
  svg.setAttribute("height", String(height + offset));
  svg.setAttribute("viewBox", `0 0 ${width} ${height + offset}`);
}

/** Renames Plot's counter-based ids (`plot-clip-17`) to per-SVG ones (`PREFIX-clip-1`), references included. */
function renumberIds(text: string, prefix: string): string {
  const names = new Map<string, string>();
  const counts = new Map<string, number>();
  return text.replace(/\bplot-(clip|pattern|marker)-(\d+)\b/g, (whole, kind: string) => {
    let name = names.get(whole);
    if (name === undefined) {
      const n = (counts.get(kind) ?? 0) + 1;
      counts.set(kind, n);
      name = `${prefix}-${kind}-${n}`;
      names.set(whole, name);
    }
    return name;
  });
}
