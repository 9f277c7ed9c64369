/**
 * The WebGPU adapter as `navigator.gpu` reports it, in Deno and in browsers (no Deno API: the web page uses it too).
 *
 * @example
 * ```ts
 * import { webgpuAdapterInfo } from "./webgpu_adapter.ts";
 * const a = await webgpuAdapterInfo(); // { present: true, software: true, description: "llvmpipe (LLVM 15.0.6, 256 bits)" }
 * ```
 * @module
 */

/** What the WebGPU adapter says about itself; `software` when it is a CPU rasteriser (Mesa llvmpipe, SwiftShader). */
export interface WebgpuAdapterInfo {
  present: boolean;
  software: boolean;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)", or why there is no adapter. */
  description: string;
}

/** Software adapters name themselves like this when `isFallbackAdapter` is not set. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|software|mesa/i;

/**
 * Asks `navigator.gpu` for its default adapter and describes it (works in Deno and in browsers). A software adapter
 * is recognised by `isFallbackAdapter` (on the adapter or, newer, on `adapter.info`) or by its name.
 */
export async function webgpuAdapterInfo(): Promise<WebgpuAdapterInfo> {
  type Info = {
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
    isFallbackAdapter?: boolean;
  };
  type Adapter = { info?: Info; isFallbackAdapter?: boolean };
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<Adapter | null> } } | undefined)?.gpu;
  if (!gpu) return { present: false, software: false, description: "navigator.gpu is not available in this runtime" };
  let adapter: Adapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (err) {
    return { present: false, software: false, description: `requestAdapter failed (${String(err).split("\n")[0]})` };
  }
  if (!adapter) return { present: false, software: false, description: "no WebGPU adapter" };
  const info = adapter.info ?? {};
  // Vulkan reports Mesa's drivers by the vendor id 0x10005 (65541) rather than a name.
  const vendor = info.vendor === "65541" || info.vendor === "0x10005" ? "mesa" : info.vendor;
  const description = [vendor, info.architecture, info.device, info.description]
    .filter((s) => s && s !== "0").join(" ") || "(unnamed adapter)";
  const software = adapter.isFallbackAdapter === true || info.isFallbackAdapter === true ||
    SOFTWARE_ADAPTER.test(description);
  return { present: true, software, description };
}
