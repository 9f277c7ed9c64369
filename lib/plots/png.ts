/**
 * SVG → PNG with resvg, reproducibly: only the DejaVu Sans shipped by the npm package `dejavu-fonts-ttf` is
 * loaded (no system fonts), so the same SVG gives the same PNG bytes on every machine. Plot's default
 * `system-ui` family falls back to it. (Without any font resvg silently drops all text.)
 *
 * @example
 * ```ts
 * import { svgToPng } from "./png.ts";
 * const png = svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', { scale: 2 });
 * await Deno.writeFile("figure.png", png);
 * ```
 * @module
 */
import { createRequire } from "node:module";
import { Resvg } from "@resvg/resvg-js";

/** Absolute path of DejaVuSans.ttf from the `dejavu-fonts-ttf` npm package. */
export function fontFile(): string {
  return createRequire(import.meta.url).resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf");
}

export interface PngOptions {
  /** Pixel ratio (default 1: one PNG pixel per SVG unit); 2 for crisp figures on high-DPI screens. */
  scale?: number;
  /** Background colour (default white: transparent PNGs are unreadable in dark viewers). */
  background?: string;
}

/** Rasterises an SVG document. */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const scale = options.scale ?? 1;
  if (!(scale > 0 && scale <= 8)) throw new Error(`svgToPng: scale must be in (0, 8], got ${scale}`);
  const resvg = new Resvg(svg, {
    background: options.background ?? "white",
    fitTo: { mode: "zoom", value: scale },
    font: { loadSystemFonts: false, fontFiles: [fontFile()], defaultFontFamily: "DejaVu Sans" },
  });
  return new Uint8Array(resvg.render().asPng());
}
