/**
 * The page's TensorFlow.js backend: the first that initialises of webgpu → webgl → wasm → cpu (or the one named by
 * `?backend=` in the page's URL), with the kit's WebGPU kernel fixes. Shown on the page; no Deno API.
 *
 * @example
 * ```ts
 * import { chooseBrowserBackend } from "./browser_backend.ts";
 * const b = await chooseBrowserBackend(new URLSearchParams(location.search).get("backend"));
 * document.querySelector("#backend")!.textContent = b.message;
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { webgpuAdapterInfo } from "../backend/webgpu_adapter.ts";
import { registerWebgpuKernelFixes } from "../backend/webgpu_kernels.ts";

export const BROWSER_BACKENDS = ["webgpu", "webgl", "wasm", "cpu"] as const;
export type BrowserBackend = typeof BROWSER_BACKENDS[number];

export interface BrowserBackendChoice {
  name: BrowserBackend;
  /** e.g. "backend: webgpu (software adapter: …)" or "backend: webgl (webgpu: no WebGPU adapter)". */
  message: string;
}

/** Tries the backends in order; `requested` (one of {@link BROWSER_BACKENDS}) tries only that one. */
export async function chooseBrowserBackend(
  requested?: string | null,
  wasmDir = new URL("wasm/", globalThis.location?.href ?? "file:///").href,
): Promise<BrowserBackendChoice> {
  tf.env().set("PROD", true);
  setWasmPaths(wasmDir);
  if (requested && !(BROWSER_BACKENDS as readonly string[]).includes(requested)) {
    throw new Error(`?backend=${requested}: allowed ${BROWSER_BACKENDS.join(", ")}`);
  }
  const order = requested ? [requested as BrowserBackend] : BROWSER_BACKENDS;
  const skipped: string[] = [];
  for (const name of order) {
    let detail = "";
    if (name === "webgpu") {
      const adapter = await webgpuAdapterInfo();
      if (!adapter.present) {
        skipped.push(`webgpu: ${adapter.description}`);
        continue;
      }
      detail = adapter.software ? `software adapter: ${adapter.description}` : `adapter: ${adapter.description}`;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        if (name === "webgpu") registerWebgpuKernelFixes();
        const why = [requested ? "requested" : "", detail, ...skipped].filter(Boolean).join("; ");
        return { name, message: `backend: ${name}${why ? ` (${why})` : ""}` };
      }
      skipped.push(`${name}: failed to initialise`);
    } catch (err) {
      skipped.push(`${name}: ${String(err).split("\n")[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised (${skipped.join("; ")})`);
}
