import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { initBackend, type ModuleImporter, parseBackendRequest } from "../../lib/backend/select.ts";

/** A stand-in for `@tensorflow/tfjs-node(-gpu)`: importing it registers a 'tensorflow' backend, as the real one does. */
function stubImporter(available: string[]): { importer: ModuleImporter; calls: string[] } {
  const calls: string[] = [];
  const importer: ModuleImporter = (specifier) => {
    calls.push(specifier);
    if (!available.includes(specifier)) {
      return Promise.reject(new Error(`Import "${specifier}" not a dependency`));
    }
    if (specifier.startsWith("@tensorflow/tfjs-node")) {
      tf.registerBackend("tensorflow", () => new tf.MathBackendCPU(), 0);
      return Promise.resolve({});
    }
    return import(specifier); // the real wasm/webgpu backend packages
  };
  return { importer, calls };
}

function withoutTensorflowBackend() {
  if (tf.findBackendFactory("tensorflow")) tf.removeBackend("tensorflow");
}

const noEnv = () => undefined;

Deno.test("auto picks tensorflow when tfjs-node-gpu imports", async () => {
  withoutTensorflowBackend();
  const { importer, calls } = stubImporter(["@tensorflow/tfjs-node-gpu"]);
  const choice = await initBackend({ importModule: importer, getEnv: noEnv });
  expect(choice.name).toBe("tensorflow");
  expect(tf.getBackend()).toBe("tensorflow");
  expect(choice.message).toMatch(/^backend: tensorflow \(auto; @tensorflow\/tfjs-node-gpu loaded\)/);
  expect(calls).toEqual(["@tensorflow/tfjs-node-gpu"]);
  withoutTensorflowBackend();
});

Deno.test("auto falls back to tfjs-node (CPU build) when only it is installed", async () => {
  withoutTensorflowBackend();
  const { importer, calls } = stubImporter(["@tensorflow/tfjs-node"]);
  const choice = await initBackend({ importModule: importer, getEnv: noEnv });
  expect(choice.name).toBe("tensorflow");
  expect(calls).toEqual(["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]);
  withoutTensorflowBackend();
});

Deno.test("auto falls back to wasm (with kernel fixes) when no native package is installed", async () => {
  withoutTensorflowBackend();
  const { importer } = stubImporter(["@tensorflow/tfjs-backend-wasm"]);
  const choice = await initBackend({ importModule: importer, getEnv: noEnv });
  expect(choice.name).toBe("wasm");
  expect(tf.getBackend()).toBe("wasm");
  expect(choice.reason).toMatch(/tfjs-node-gpu not installed, @tensorflow\/tfjs-node not installed/);
  expect(choice.reason).toMatch(/kernel fixes registered/);
  // The fix the wasm backend most needs for training convolutions is in place.
  expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBeDefined();
});

Deno.test("auto falls back to cpu when wasm cannot load either", async () => {
  const { importer } = stubImporter([]);
  const choice = await initBackend({ importModule: importer, getEnv: noEnv });
  expect(choice.name).toBe("cpu");
  expect(choice.reason).toMatch(/wasm unavailable/);
});

Deno.test("SF2_BACKEND overrides auto; an explicit request overrides SF2_BACKEND", async () => {
  const { importer } = stubImporter(["@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-node-gpu"]);
  withoutTensorflowBackend();
  const fromEnv = await initBackend({ importModule: importer, getEnv: (n) => n === "SF2_BACKEND" ? "cpu" : undefined });
  expect(fromEnv.name).toBe("cpu");
  const explicit = await initBackend({ requested: "wasm", importModule: importer, getEnv: () => "cpu" });
  expect(explicit.name).toBe("wasm");
  withoutTensorflowBackend();
});

Deno.test("an explicit request that cannot be met is an error, never a silent fallback", async () => {
  withoutTensorflowBackend();
  const { importer } = stubImporter([]);
  await expect(initBackend({ requested: "tensorflow", importModule: importer, getEnv: noEnv })).rejects.toThrow(
    /backend 'tensorflow' requested but unavailable: .*tfjs-node-gpu not installed.*deno add npm:@tensorflow\/tfjs-node-gpu/,
  );
  await expect(initBackend({ requested: "webgpu", importModule: importer, getEnv: noEnv })).rejects.toThrow(
    /backend 'webgpu' requested but unavailable/,
  );
  await expect(initBackend({ requested: "wasm", importModule: importer, getEnv: noEnv })).rejects.toThrow(
    /backend 'wasm' requested but unavailable/,
  );
});

Deno.test("backend names are validated with the source named", async () => {
  expect(parseBackendRequest(" WASM ", "--backend")).toBe("wasm");
  expect(() => parseBackendRequest("gpu", "--backend")).toThrow(
    '--backend: unknown backend "gpu"; allowed: auto, tensorflow, wasm, cpu, webgpu',
  );
  await expect(initBackend({ getEnv: () => "tpu" })).rejects.toThrow(
    /environment variable SF2_BACKEND: unknown backend "tpu"/,
  );
});
