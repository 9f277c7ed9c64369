/// <reference lib="dom" />
/**
 * `index.html`'s script (bundled by `deno task web build`): two photos (file pickers, or `?a=URL&b=URL` relative to
 * the site) → {@link verifyPair} with face-api loaded from `models/face-api/` and the kit model from `model/` →
 * both aligned crops, cosine, threshold, verdict, and the pair on the model's LFW score histogram when the build
 * had one. When done it sets `<output id="result" data-cosine data-threshold data-same>`; on failure `data-error`.
 * `?backend=webgpu|webgl|wasm|cpu` forces a backend.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as faceapi from "@vladmandic/face-api/dist/face-api.esm-nobundle.js";
import * as Plot from "@observablehq/plot";
import type { RgbImage } from "../data/image.ts";
import { describeFace, type FaceApiModule } from "../eval/peer_faceapi.ts";
import { chooseBrowserBackend } from "./browser_backend.ts";
import { verifyPair } from "./verify.ts";
import { parseWebModelMeta, restoreWebModel, type WebModelMeta } from "./web_model.ts";

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const params = new URLSearchParams(location.search);

/** Decodes an image to RGB bytes without colour management (the bytes sharp gives in Deno). */
async function decode(blob: Blob): Promise<RgbImage> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const data = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { width: bitmap.width, height: bitmap.height, data };
}

function drawRgb(canvas: HTMLCanvasElement, img: RgbImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext("2d")!;
  const out = ctx.createImageData(img.width, img.height);
  for (let i = 0, j = 0; j < img.data.length; i += 4, j += 3) {
    out.data[i] = img.data[j];
    out.data[i + 1] = img.data[j + 1];
    out.data[i + 2] = img.data[j + 2];
    out.data[i + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
}

function status(text: string): void {
  $("#status").textContent = text;
}

async function loadModel(): Promise<{ meta: WebModelMeta; weights: ArrayBuffer } | null> {
  const res = await fetch("model/model.json");
  if (!res.ok) return null;
  const meta = parseWebModelMeta(await res.json(), "model/model.json");
  const w = await fetch("model/weights.bin");
  if (!w.ok) throw new Error(`model/weights.bin: HTTP ${w.status}`);
  return { meta, weights: await w.arrayBuffer() };
}

function histogram(meta: WebModelMeta, cos: number): Element | null {
  const h = meta.histogram;
  if (!h) return null;
  const lo = h.edges[0], hi = h.edges[h.edges.length - 1];
  const inside = meta.threshold >= Math.min(lo, cos) && meta.threshold <= Math.max(hi, cos);
  const rows = h.positive.flatMap((p, i) => [
    { x1: h.edges[i], x2: h.edges[i + 1], n: p, pairs: "same person" },
    { x1: h.edges[i], x2: h.edges[i + 1], n: h.negative[i], pairs: "different people" },
  ]);
  return Plot.plot({
    width: 560,
    height: 220,
    color: { legend: true },
    // The scores' own range (and this pair): a threshold far outside it is named in the caption instead of
    // squeezing every bar into one pixel.
    x: { label: "cosine", domain: [Math.min(lo, cos), Math.max(hi, cos)] },
    y: { label: "pairs" },
    marks: [
      // y1/y2 rather than y: the two kinds overlap, they are not stacked.
      Plot.rectY(rows, { x1: "x1", x2: "x2", y1: 0, y2: "n", fill: "pairs", fillOpacity: 0.5 }),
      Plot.ruleX(inside ? [meta.threshold] : [], { stroke: "black", strokeDasharray: "4,3" }),
      Plot.ruleX([cos], { stroke: "crimson", strokeWidth: 2 }),
      Plot.text([{ x: cos, label: "this pair" }], { x: "x", frameAnchor: "top", text: "label", dy: -4 }),
    ],
    caption: `${h.source}; red: this pair; ` +
      (inside
        ? "dashed: the threshold"
        : `the threshold cos* = ${meta.threshold.toFixed(4)} lies ${meta.threshold < lo ? "below" : "above"} every ` +
          `LFW pair's cosine (all in [${lo.toFixed(4)}, ${hi.toFixed(4)}])`),
  });
}

async function main(): Promise<void> {
  const result = $("#result");
  try {
    const backend = await chooseBrowserBackend(params.get("backend"));
    $("#backend").textContent = backend.message;
    status("loading models…");
    const packed = await loadModel();
    if (!packed) {
      status("this build has no model: build the site with `deno task web build --model RUN_DIR`");
      result.setAttribute("data-error", "no model");
      return;
    }
    const { meta } = packed;
    const { model } = restoreWebModel(meta, packed.weights);
    const api = faceapi as unknown as FaceApiModule;
    await api.nets.tinyFaceDetector.loadFromUri("models/face-api");
    await api.nets.faceLandmark68Net.loadFromUri("models/face-api");
    await api.nets.faceRecognitionNet.loadFromUri("models/face-api");
    $("#model").textContent =
      `model: ${meta.name}@${meta.step} — SphereFace2-${meta.head.variant}, r ${meta.head.r}, t ${meta.head.t}, ` +
      `bias b ${meta.head.bias.toFixed(4)} → threshold cos* = ${meta.threshold.toFixed(4)}`;
    const deps = { describe: (img: RgbImage) => describeFace(api, img), model, meta };
    const images: (RgbImage | null)[] = [null, null];

    const run = async () => {
      if (!images[0] || !images[1]) return;
      status("verifying…");
      result.removeAttribute("data-error");
      try {
        const r = await verifyPair(deps, images[0], images[1]);
        drawRgb($("#crop-a"), r.faces[0].crop);
        drawRgb($("#crop-b"), r.faces[1].crop);
        result.textContent = `cosine ${r.cosine.toFixed(4)} ${r.same ? ">" : "≤"} threshold ${
          r.threshold.toFixed(4)
        }: ${r.same ? "same person" : "different people"}`;
        result.setAttribute("data-cosine", String(r.cosine));
        result.setAttribute("data-threshold", String(r.threshold));
        result.setAttribute("data-same", String(r.same));
        const chart = histogram(meta, r.cosine);
        $("#histogram").replaceChildren(...(chart ? [chart] : []));
        if (!chart) $("#histogram").textContent = "no LFW score histogram in this build (web build --lfw-pairs N)";
        status(`done (${tf.getBackend()})`);
      } catch (err) {
        result.setAttribute("data-error", (err as Error).message);
        result.textContent = (err as Error).message;
        status("failed");
      }
    };
    const show = (i: number, blob: Blob) => {
      const img = $<HTMLImageElement>(i === 0 ? "#photo-a" : "#photo-b");
      img.src = URL.createObjectURL(blob);
    };
    for (const [i, id] of [[0, "#file-a"], [1, "#file-b"]] as const) {
      $<HTMLInputElement>(id).addEventListener("change", async (ev) => {
        const file = (ev.target as HTMLInputElement).files?.[0];
        if (!file) return;
        show(i, file);
        images[i] = await decode(file);
        await run();
      });
    }
    const urls = [params.get("a"), params.get("b")];
    if (urls[0] && urls[1]) {
      for (const i of [0, 1]) {
        const url = new URL(urls[i]!, location.href).href;
        const res = await fetch(url);
        if (!res.ok) throw new Error(`${urls[i]}: HTTP ${res.status}`);
        const blob = await res.blob();
        show(i, blob);
        images[i] = await decode(blob);
      }
      await run();
    } else {
      status("choose two photos");
    }
  } catch (err) {
    result.setAttribute("data-error", (err as Error).message);
    status(`error: ${(err as Error).message}`);
  }
}

main();
