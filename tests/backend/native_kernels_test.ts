/**
 * Tests for lib/backend/native_kernels.ts (oneDNN conv kernels through Deno FFI): values against the pure-wasm
 * kernel fixes, fallbacks, registration and leaks. Skipped, with a message, where libdnnl.so.2 is not installed.
 *
 * Run: node_modules/.bin/deno test -A tests/backend/native_kernels_test.ts
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  nativeKernelCounts,
  nativeKernelsRegistered,
  registerNativeKernels,
  unregisterNativeKernels,
} from "../../lib/backend/native_kernels.ts";
import { openOneDnn } from "../../lib/backend/native/onednn_ffi.ts";
import { registerWasmKernelFixes } from "../../lib/backend/wasm_kernels.ts";
import { lcgValues } from "../shared.ts";

tf.env().set("PROD", true);
await tf.setBackend("wasm");
registerWasmKernelFixes();
const available = openOneDnn();
if (!available.ok) console.warn(`native_kernels_test: skipping oneDNN tests: ${available.reason}`);
const ignore = !available.ok;

type Pad = "same" | "valid" | number;
interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  stride: number;
  pad: Pad;
}

/** Forward, dx and dW of sum(conv(x, w) * r) for fixed r, read back. */
function convAndGrads(c: Case): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(lcgValues(c.x.reduce((a, b) => a * b), 1), c.x);
    const w = tf.tensor4d(lcgValues(c.f.reduce((a, b) => a * b), 2), c.f);
    const y = tf.conv2d(x, w, c.stride, c.pad);
    const r = tf.tensor(lcgValues(y.size, 3), y.shape);
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r))
    )([x, w]);
    return [y, gx, gw].map((t) => t.dataSync() as Float32Array);
  });
}

function maxRelError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return e;
}

const CASES: Case[] = [
  { x: [2, 9, 7, 3], f: [3, 3, 3, 5], stride: 1, pad: "same" },
  { x: [2, 9, 7, 3], f: [3, 3, 3, 5], stride: 2, pad: "same" },
  { x: [3, 8, 8, 4], f: [3, 3, 4, 6], stride: 2, pad: "valid" },
  { x: [2, 11, 10, 8], f: [3, 3, 8, 8], stride: 2, pad: 1 }, // SFNet's stage conv, odd side
  { x: [2, 6, 6, 16], f: [3, 3, 16, 16], stride: 1, pad: 1 }, // SFNet's block conv
  { x: [1, 7, 5, 2], f: [1, 1, 2, 3], stride: 1, pad: "valid" },
  { x: [2, 10, 9, 4], f: [5, 3, 4, 2], stride: 3, pad: "same" },
];

Deno.test({
  name: "native conv kernels match the pure-wasm kernels (forward, dx, dW; strides 1-3; pads)",
  ignore,
  fn() {
    for (const c of CASES) {
      unregisterNativeKernels();
      const ref = convAndGrads(c);
      const status = registerNativeKernels({ ignoreEnv: true });
      assert.ok(status.ok, status.ok ? "" : status.detail);
      const before = nativeKernelCounts().native;
      const got = convAndGrads(c);
      assert.ok(nativeKernelCounts().native - before >= 3, `native path not taken for ${JSON.stringify(c)}`);
      ["y", "dx", "dW"].forEach((what, i) => {
        const err = maxRelError(got[i], ref[i]);
        assert.ok(err < 1e-5, `${what} of ${JSON.stringify(c)}: max rel error ${err}`);
      });
    }
    unregisterNativeKernels();
  },
});

Deno.test({
  name: "native conv kernels hand dilated convs to the previous kernel",
  ignore,
  fn() {
    registerNativeKernels({ ignoreEnv: true });
    const before = nativeKernelCounts();
    tf.tidy(() =>
      tf.conv2d(tf.ones([1, 7, 7, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 2]) as tf.Tensor4D, 1, "same", "NHWC", 2)
        .dataSync()
    );
    const after = nativeKernelCounts();
    assert.equal(after.native, before.native);
    assert.equal(after.fallback, before.fallback + 1);
    unregisterNativeKernels();
  },
});

Deno.test({
  name: "register/unregister restores the previous kernels; SF2_NATIVE=0 turns the native kernels off",
  ignore,
  fn() {
    unregisterNativeKernels();
    const fixed = tf.getKernel("Conv2DBackpropFilter", "wasm");
    assert.ok(registerNativeKernels({ ignoreEnv: true }).ok);
    assert.ok(nativeKernelsRegistered());
    assert.notEqual(tf.getKernel("Conv2DBackpropFilter", "wasm"), fixed);
    unregisterNativeKernels();
    assert.equal(tf.getKernel("Conv2DBackpropFilter", "wasm")?.kernelFunc, fixed?.kernelFunc);
    Deno.env.set("SF2_NATIVE", "0");
    try {
      const off = registerNativeKernels();
      assert.equal(off.ok, false);
      assert.match(off.detail, /SF2_NATIVE=0/);
    } finally {
      Deno.env.delete("SF2_NATIVE");
    }
  },
});

Deno.test("a missing oneDNN library gives a reason, not an exception", () => {
  const r = openOneDnn(["/nonexistent/libdnnl.so.2"]);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, /oneDNN not found .*apt-get install libdnnl2/);
});

Deno.test({
  name: "native conv kernels free every wasm buffer (no tensor or heap leak over 50 gradient steps)",
  ignore,
  fn() {
    registerNativeKernels({ ignoreEnv: true });
    const backend = tf.backend() as BackendWasm;
    const x = tf.randomNormal([2, 12, 12, 4]);
    const w = tf.variable(tf.tidy(() => tf.randomNormal([3, 3, 4, 4])));
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() =>
          tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 1)))
        );
        w.assign(tf.sub(w, tf.mul(grads[w.name], 1e-3)));
      });
    step();
    const tensors = tf.memory().numTensors;
    const dataIds = backend.numDataIds();
    for (let i = 0; i < 50; i++) step();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(backend.numDataIds(), dataIds);
    tf.dispose([x, w]);
    unregisterNativeKernels();
  },
});

/** matMul (every transpose pair, batched and broadcast), fused matMul with bias and relu, and their gradients. */
function productsAndSums(): Float32Array[] {
  return tf.tidy(() => {
    const out: tf.Tensor[] = [];
    const t = (shape: number[], seed: number) => tf.tensor(lcgValues(shape.reduce((p, q) => p * q, 1), seed), shape);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      const a = t(ta ? [70, 33] : [33, 70], 11), b = t(tb ? [129, 70] : [70, 129], 12);
      out.push(tf.matMul(a, b, ta, tb));
      const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D, ta, tb), 0.5))
      )([a, b]);
      out.push(ga, gb);
    }
    out.push(tf.matMul(t([3, 20, 40], 13), t([3, 40, 50], 14)));
    out.push(tf.matMul(t([3, 20, 40], 15), t([1, 40, 50], 16)));
    const x = t([64, 300], 17), w = t([300, 90], 18), bias = t([90], 19);
    out.push(tf.fused.matMul({ a: x, b: w, bias, activation: "relu" }));
    out.push(tf.fused.matMul({ a: x, b: w, bias }));
    out.push(tf.sum(t([4, 9, 7, 33], 20), [0, 1, 2]));
    out.push(tf.sum(t([4, 9, 7, 33], 21), [2, 0, 1], true));
    out.push(tf.sum(t([4, 9, 7, 33], 22), [1, 2])); // not leading axes: the previous kernel
    return out.map((v) => v.dataSync() as Float32Array);
  });
}

Deno.test({
  name: "native matMul, fused matMul and leading-axis Sum match the pure-wasm kernels",
  ignore,
  fn() {
    unregisterNativeKernels();
    const ref = productsAndSums();
    assert.ok(registerNativeKernels({ ignoreEnv: true }).ok);
    const before = nativeKernelCounts();
    const got = productsAndSums();
    const after = nativeKernelCounts();
    assert.ok(after.native - before.native >= 16, `native calls ${after.native - before.native}`);
    assert.ok(after.fallback > before.fallback, "the non-leading Sum falls back");
    ref.forEach((r, i) => {
      const err = maxRelError(got[i], r);
      assert.ok(err < 1e-5, `output ${i}: max rel error ${err}`);
    });
    unregisterNativeKernels();
  },
});

Deno.test({
  name: "native FusedConv2D (the eval forward: conv + bias + relu/linear) matches the pure-wasm kernel",
  ignore,
  fn() {
    const run = () =>
      tf.tidy(() =>
        [["relu", 1], ["linear", 2], ["relu", 1]].map(([activation, stride], i) => {
          const x = tf.tensor4d(lcgValues(2 * 9 * 8 * 5, 30 + i), [2, 9, 8, 5]);
          const w = tf.tensor4d(lcgValues(3 * 3 * 5 * 7, 40 + i), [3, 3, 5, 7]);
          const bias = i === 2 ? undefined : tf.tensor1d(lcgValues(7, 50 + i));
          return tf.fused.conv2d({
            x,
            filter: w,
            strides: stride as number,
            pad: 1,
            bias,
            activation: activation as "relu" | "linear",
          }).dataSync() as Float32Array;
        })
      );
    unregisterNativeKernels();
    const ref = run();
    assert.ok(registerNativeKernels({ ignoreEnv: true }).ok);
    const before = nativeKernelCounts().native;
    const got = run();
    assert.equal(nativeKernelCounts().native - before, 3);
    ref.forEach((r, i) => assert.ok(maxRelError(got[i], r) < 1e-5, `case ${i}: ${maxRelError(got[i], r)}`));
    unregisterNativeKernels();
  },
});
