/**
 * One figure object for every consumer: {@link plotFigure} renders Observable Plot options to SVG once
 * (through {@link renderSvg}); a notebook displays it inline (it implements the Jupyter display protocol), a
 * task writes it as `.svg`/`.png` ({@link PlotFigure.write}), and a test compares its SVG with a golden file.
 *
 * @example
 * ```ts
 * import * as Plot from "@observablehq/plot";
 * import { plotFigure } from "./figure.ts";
 * const fig = plotFigure({ heading: "y = x²", marks: [Plot.line([[0, 0], [1, 1], [2, 4]])] });
 * fig;                              // in a notebook cell: shown inline
 * await fig.write("results/x/square"); // square.svg and square.png
 * ```
 * @module
 */
import { FIGURE_PNG_SCALE, figureBundle, JUPYTER_DISPLAY, type MimeBundle, svgSize } from "../render/display.ts";
import { renderSvg, type SvgPlotOptions } from "../render/svg.ts";
import { type PngOptions, svgToPng } from "./png.ts";

/** A rendered figure: its SVG text, a title for alt text, and lazy PNG rendering. */
export class PlotFigure {
  #png?: Uint8Array;

  constructor(readonly svg: string, readonly title = "figure") {
    if (!svg.startsWith("<svg")) throw new Error("PlotFigure: expected the text of an <svg> element");
  }

  /** The PNG of the figure (resvg, DejaVu Sans; cached for the default options). */
  png(options?: PngOptions): Uint8Array {
    if (options) return svgToPng(this.svg, options);
    return this.#png ??= svgToPng(this.svg);
  }

  /** Writes `<base>.svg` and, unless `png: false`, `<base>.png`; returns the paths written. */
  async write(base: string, options: { png?: boolean | PngOptions } = {}): Promise<string[]> {
    const svgPath = `${base}.svg`;
    await Deno.writeTextFile(svgPath, this.svg);
    if (options.png === false) return [svgPath];
    const pngPath = `${base}.png`;
    await Deno.writeFile(
      pngPath,
      options.png === true || options.png === undefined ? this.png() : this.png(options.png),
    );
    return [svgPath, pngPath];
  }

  /**
   * In notebooks a PNG at {@link FIGURE_PNG_SCALE}× shown at the SVG's size ({@link figureBundle}: the form every
   * front end keeps, Jupyter, VS Code, nbconvert's HTML and GitHub alike); the title as text elsewhere.
   */
  [JUPYTER_DISPLAY](): MimeBundle {
    return figureBundle(this.png({ scale: FIGURE_PNG_SCALE }), svgSize(this.svg).width, this.title);
  }
}

/** Renders Plot options (see {@link SvgPlotOptions}: `heading` and `swatches` instead of HTML legends). */
export function plotFigure(options: SvgPlotOptions): PlotFigure {
  return new PlotFigure(renderSvg(options), options.heading);
}
