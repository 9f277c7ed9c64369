/**
 * Run-time choice of the TensorFlow.js backend: the one place in the kit that decides where tensors live.
 *
 * Order in `auto` mode (the default):
 * 1. `tensorflow`: native libtensorflow, when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` can be
 *    imported (neither installs on machines without access to Google's download host, so the kit never
 *    depends on them; a user who has them adds them to `deno.json`'s imports and they are picked up here);
 * 2. `wasm`, with the kit's kernel fixes (see `wasm_kernels.ts`), the fastest backend that always installs; its
 *    convolutions run natively in oneDNN through Deno FFI when `libdnnl.so.2` is installed (`native_kernels.ts`;
 *    `SF2_NATIVE=0` turns that off), else in the pure-wasm fixes;
 * 3. `cpu`, pure JavaScript, always present.
 *
 * `webgpu` is never chosen automatically (Deno exposes WebGPU, but on a machine without a GPU the adapter is a
 * slow software rasteriser); ask for it with `SF2_BACKEND=webgpu` or `--backend webgpu`.
 *
 * @example
 * ```ts
 * import { initBackend } from "./select.ts";
 * const choice = await initBackend({ requested: "auto" });
 * console.error(choice.message); // "backend: wasm (…)"
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerHeadKernels } from "./head_kernels.ts";
import { registerNativeKernels } from "./native_kernels.ts";
import { registerWasmKernelFixes } from "./wasm_kernels.ts";
import { webgpuAdapterInfo } from "./webgpu_adapter.ts";
import { registerWebgpuKernelFixes } from "./webgpu_kernels.ts";

export { type WebgpuAdapterInfo, webgpuAdapterInfo } from "./webgpu_adapter.ts";

/** Backends the kit can run on. `tensorflow` is tfjs-node(-gpu)'s native backend. */
export const BACKENDS = ["tensorflow", "wasm", "cpu", "webgpu"] as const;
export type BackendName = typeof BACKENDS[number];
export type BackendRequest = BackendName | "auto";

/** The environment variable that overrides the backend for every task and notebook. */
export const BACKEND_ENV = "SF2_BACKEND";

/** Native packages tried, in order, for the `tensorflow` backend. */
export const NATIVE_PACKAGES = [
  "@tensorflow/tfjs-node-gpu",
  "@tensorflow/tfjs-node",
] as const;

/** Imports a module by specifier; injectable so tests can stub the native packages. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

export interface BackendOptions {
  /** Backend asked for; when absent, `SF2_BACKEND` is read, then `auto`. */
  requested?: BackendRequest;
  /** Replaces dynamic `import()`; tests stub `@tensorflow/tfjs-node(-gpu)` with it. */
  importModule?: ModuleImporter;
  /** Replaces `Deno.env.get` (tests). */
  getEnv?: (name: string) => string | undefined;
}

export interface BackendChoice {
  /** The backend now active in `tf`. */
  name: BackendName;
  /** What was asked for. */
  requested: BackendRequest;
  /** Why this backend, e.g. which native packages were missing. */
  reason: string;
  /** One line for the log, `backend: NAME (REASON)`; every task prints it. */
  message: string;
}

/** Parses a backend name from a flag or env variable; the error names the source and the allowed values. */
export function parseBackendRequest(
  value: string,
  source: string,
): BackendRequest {
  const v = value.trim().toLowerCase();
  if (v === "auto" || (BACKENDS as readonly string[]).includes(v)) {
    return v as BackendRequest;
  }
  throw new Error(
    `${source}: unknown backend "${value}"; allowed: auto, ${BACKENDS.join(", ")}`,
  );
}

const defaultImporter: ModuleImporter = (specifier) => import(specifier);

/** Reads `SF2_BACKEND` without requiring `--allow-env` (an unreadable env is treated as unset). */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

async function tryNative(
  importModule: ModuleImporter,
): Promise<{ ok: boolean; detail: string }> {
  const failures: string[] = [];
  let lastError = "";
  for (const pkg of NATIVE_PACKAGES) {
    try {
      await importModule(pkg);
      if (
        tf.findBackendFactory("tensorflow") !== null &&
        await tf.setBackend("tensorflow")
      ) {
        return { ok: true, detail: `${pkg} loaded` };
      }
      failures.push(`${pkg} imported but registered no 'tensorflow' backend`);
    } catch (err) {
      failures.push(`${pkg} not installed`);
      lastError = firstLine(err);
    }
  }
  if (readEnv("SF2_DEBUG") && lastError) failures.push(`last import error: ${lastError}`);
  return { ok: false, detail: failures.join(", ") };
}

async function tryWasm(
  importModule: ModuleImporter,
): Promise<{ ok: boolean; detail: string }> {
  try {
    await importModule("@tensorflow/tfjs-backend-wasm");
    if (!(await tf.setBackend("wasm"))) {
      return { ok: false, detail: "wasm backend failed to initialise" };
    }
    registerWasmKernelFixes();
    // Native (oneDNN, multithreaded) conv kernels on top when libdnnl is installed; otherwise the pure-wasm fixes.
    const native = registerNativeKernels();
    // The fused SphereFace2 head (oneDNN sgemm + the C helper) likewise, else the unfused tfjs head.
    const head = registerHeadKernels(["wasm"]);
    return {
      ok: true,
      detail: (native.ok
        ? `kernel fixes registered; native convs: ${native.detail}`
        : `kernel fixes registered; pure-wasm convs (${native.detail})`) + `; ${head.detail}`,
    };
  } catch (err) {
    return { ok: false, detail: `wasm unavailable (${firstLine(err)})` };
  }
}

async function tryWebgpu(
  importModule: ModuleImporter,
): Promise<{ ok: boolean; detail: string }> {
  const adapter = await webgpuAdapterInfo();
  if (!adapter.present) return { ok: false, detail: adapter.description };
  try {
    await importModule("@tensorflow/tfjs-backend-webgpu");
    if (await tf.setBackend("webgpu")) {
      registerWebgpuKernelFixes();
      return {
        ok: true,
        detail: adapter.software
          ? `software adapter: ${adapter.description}; a CPU rasteriser, expect CPU-like speed`
          : `adapter: ${adapter.description}`,
      };
    }
    return {
      ok: false,
      detail: "webgpu backend failed to initialise (no adapter?)",
    };
  } catch (err) {
    return { ok: false, detail: `webgpu unavailable (${firstLine(err)})` };
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0].slice(0, 160);
}

/**
 * Chooses, initialises and activates a backend. An explicit request that cannot be met throws (a user who asks
 * for the GPU should not silently get the CPU); `auto` falls back down the order above.
 */
export async function initBackend(
  options: BackendOptions = {},
): Promise<BackendChoice> {
  const importModule = options.importModule ?? defaultImporter;
  // The kit prints its own backend line; PROD silences tfjs's "install tfjs-node" banner on the cpu backend.
  tf.env().set("PROD", true);
  const envValue = (options.getEnv ?? readEnv)(BACKEND_ENV);
  const requested = options.requested ??
    (envValue ? parseBackendRequest(envValue, `environment variable ${BACKEND_ENV}`) : "auto");

  const done = (name: BackendName, reason: string): BackendChoice => ({
    name,
    requested,
    reason,
    message: `backend: ${name} (${reason})`,
  });

  switch (requested) {
    case "tensorflow": {
      const native = await tryNative(importModule);
      if (!native.ok) {
        throw new Error(
          `backend 'tensorflow' requested but unavailable: ${native.detail}. ` +
            `Install it with: deno add npm:@tensorflow/tfjs-node-gpu@4.22.0 && deno install --allow-scripts`,
        );
      }
      return done("tensorflow", `requested; ${native.detail}`);
    }
    case "webgpu": {
      const gpu = await tryWebgpu(importModule);
      if (!gpu.ok) {
        throw new Error(
          `backend 'webgpu' requested but unavailable: ${gpu.detail}`,
        );
      }
      return done("webgpu", `requested; ${gpu.detail}`);
    }
    case "wasm": {
      const wasm = await tryWasm(importModule);
      if (!wasm.ok) {
        throw new Error(
          `backend 'wasm' requested but unavailable: ${wasm.detail}`,
        );
      }
      return done("wasm", `requested; ${wasm.detail}`);
    }
    case "cpu": {
      if (!(await tf.setBackend("cpu"))) {
        throw new Error("backend 'cpu' failed to initialise");
      }
      return done("cpu", "requested");
    }
    case "auto": {
      const native = await tryNative(importModule);
      if (native.ok) return done("tensorflow", `auto; ${native.detail}`);
      const wasm = await tryWasm(importModule);
      if (wasm.ok) {
        return done("wasm", `auto; ${native.detail}; ${wasm.detail}`);
      }
      if (!(await tf.setBackend("cpu"))) {
        throw new Error("no TensorFlow.js backend could be initialised");
      }
      return done("cpu", `auto; ${native.detail}; ${wasm.detail}`);
    }
  }
}
