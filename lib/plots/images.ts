/**
 * Images side by side as one figure (a notebook shows faces, crops, landmarks): a row of RGB images, each scaled to one
 * height (nearest neighbour, so a 24-pixel crop stays visibly 24 pixels) with optional coloured marks
 * (landmarks) and a caption under each, displayed like every kit figure ({@link figureBundle}: a PNG).
 *
 * @example
 * ```ts
 * import { imageRow } from "./images.ts";
 * const img = { width: 2, height: 2, data: new Uint8Array(12).fill(200) };
 * await imageRow([{ image: img, caption: "grey" }], { height: 64, title: "a 2×2 image" }); // a notebook cell's value
 * ```
 * @module
 */
import { encodePng, type RgbImage } from "../data/image.ts";
import { figureBundle, JUPYTER_DISPLAY, type MimeBundle } from "../render/display.ts";
import { svgToPng } from "./png.ts";

export interface ImageCell {
  image: RgbImage;
  caption?: string;
  /** Points to mark, in the image's own pixel frame (e.g. five landmarks). */
  points?: ReadonlyArray<readonly [number, number]>;
}

export interface ImageRowOptions {
  /** Display height of every image in CSS pixels (default 112); each image is scaled to it. */
  height?: number;
  title: string;
}

/** A displayable row of images (SVG with embedded PNGs, rasterised once for display). */
export interface ImageRowFigure {
  readonly svg: string;
  [JUPYTER_DISPLAY](): MimeBundle;
}

/** Builds the row; images keep their aspect ratio and are drawn pixelated. */
export async function imageRow(cells: readonly ImageCell[], options: ImageRowOptions): Promise<ImageRowFigure> {
  if (!cells.length) throw new Error("imageRow: no images");
  const h = options.height ?? 112;
  const gap = 12, captionH = 22, titleH = 26;
  let x = gap;
  const parts: string[] = [];
  for (const c of cells) {
    const k = h / c.image.height;
    const w = Math.round(c.image.width * k);
    const href = `data:image/png;base64,${base64(await encodePng(c.image))}`;
    parts.push(
      `<image x="${x}" y="${titleH}" width="${w}" height="${h}" href="${href}" image-rendering="optimizeSpeed" style="image-rendering:pixelated" ` +
        `preserveAspectRatio="none"/>`,
    );
    for (const [px, py] of c.points ?? []) {
      parts.push(`<circle cx="${x + (px + 0.5) * k}" cy="${titleH + (py + 0.5) * k}" r="3" fill="#d62728"/>`);
    }
    if (c.caption) {
      parts.push(`<text x="${x + w / 2}" y="${titleH + h + 16}" text-anchor="middle">${escapeXml(c.caption)}</text>`);
    }
    x += w + gap;
  }
  const width = Math.max(x, 200);
  const height = titleH + h + captionH;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans" font-size="13">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${gap}" y="17" font-weight="bold">${escapeXml(options.title)}</text>${parts.join("")}</svg>`;
  return {
    svg,
    [JUPYTER_DISPLAY]: () => figureBundle(svgToPng(svg, { scale: 2 }), width, options.title),
  };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
