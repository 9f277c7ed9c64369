/**
 * Tests for lib/backend/fused_ops.ts and the wasm `Identity` fix: the fused training ops give the same bytes as the
 * tfjs ops they replace (forward, every gradient, the SGD update), on wasm with the native kernels and the C helper
 * where they are present (the helper's kernels are then checked to have run) and through the tfjs-op fallback
 * otherwise; no tensor leaks.
 *
 * Run: node_modules/.bin/deno test -A tests/backend/fused_ops_test.ts
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { conv2dRelu, RELU_GRAD_KERNEL, reluGradient, SGD_KERNEL, sgdStepFused } from "../../lib/backend/fused_ops.ts";
import { registerNativeKernels } from "../../lib/backend/native_kernels.ts";
import { sharedHelper } from "../../lib/backend/native/sf2_fused.ts";
import { registerWasmKernelFixes } from "../../lib/backend/wasm_kernels.ts";
import { Sgd } from "../../lib/train/sgd.ts";
import { lcgValues } from "../shared.ts";

tf.env().set("PROD", true);
await tf.setBackend("wasm");
registerWasmKernelFixes();
const native = registerNativeKernels();
const helper = native.ok && sharedHelper() !== null;
if (!helper) console.warn(`fused_ops_test: C-helper kernels absent (${native.detail}); testing the tfjs-op fallback`);

/** Signed values with some exact zeros and -0 (the ReLU mask and the sign of zero products are part of the bytes). */
function values(n: number, seed: number): Float32Array {
  const v = lcgValues(n, seed);
  for (let i = 0; i < n; i += 7) v[i] = i % 14 === 0 ? 0 : -0;
  return v;
}

const bytes = (t: tf.Tensor) => new Uint8Array((t.dataSync() as Float32Array).slice().buffer);

Deno.test("fused ops: the helper's kernels are registered on wasm exactly when the C helper is built", () => {
  assert.equal(tf.getKernel(RELU_GRAD_KERNEL, "wasm") !== undefined, helper);
  assert.equal(tf.getKernel(SGD_KERNEL, "wasm") !== undefined, helper);
});

Deno.test("reluGradient: the bytes of tfjs's dy·step(y), -0 included", () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const n = 3 * 70_000; // above the helper's threading threshold
    const dy = tf.tensor1d(values(n, 1));
    const y = tf.relu(tf.tensor1d(values(n, 2)));
    assert.deepEqual(bytes(reluGradient(dy, y)), bytes(tf.mul(dy, tf.step(y))));
  });
  assert.equal(tf.memory().numTensors, before);
});

for (
  const c of [
    { x: [2, 9, 7, 3], f: [3, 3, 3, 5], stride: 1, pad: 1, bias: true },
    { x: [2, 9, 7, 3], f: [3, 3, 3, 5], stride: 2, pad: 1, bias: true },
    { x: [4, 16, 16, 8], f: [3, 3, 8, 16], stride: 1, pad: 1, bias: false },
  ] as const
) {
  Deno.test(`conv2dRelu ${JSON.stringify(c)}: forward and the three gradients are the unfused ops' bytes`, () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
      const x = tf.tensor4d(values(size(c.x), 3), [...c.x] as [number, number, number, number]);
      const w = tf.tensor4d(lcgValues(size(c.f), 4), [...c.f] as [number, number, number, number]);
      const b = tf.tensor1d(lcgValues(c.f[3], 5));
      // The unfused reference: what tfjs runs for fused.conv2d with a ReLU while a gradient is recorded.
      const unfused = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) => {
        const z = tf.conv2d(xs as tf.Tensor4D, ws as tf.Tensor4D, c.stride, c.pad);
        return tf.relu(c.bias ? tf.add(z, bs) : z);
      };
      const fused = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) =>
        conv2dRelu(xs as tf.Tensor4D, ws as tf.Tensor4D, c.bias ? bs : undefined, c.stride, c.pad);
      assert.deepEqual(bytes(fused(x, w, b)), bytes(unfused(x, w, b)), "forward");
      const r = tf.tensor(values(fused(x, w, b).size, 6), fused(x, w, b).shape);
      const grads = (f: (a: tf.Tensor, q: tf.Tensor, s: tf.Tensor) => tf.Tensor) =>
        c.bias
          ? tf.grads((a, q, s) => tf.sum(tf.mul(f(a, q, s), r)))([x, w, b])
          : [...tf.grads((a, q) => tf.sum(tf.mul(f(a, q, b), r)))([x, w]), tf.zeros([1])];
      const [gx, gw, gb] = grads(fused);
      const [rx, rw, rb] = grads(unfused);
      assert.deepEqual(bytes(gx), bytes(rx), "dx");
      assert.deepEqual(bytes(gw), bytes(rw), "dW");
      assert.deepEqual(bytes(gb), bytes(rb), "db");
    });
    assert.equal(tf.memory().numTensors, before);
  });
}

Deno.test("conv2dRelu on wasm (native + helper) against the cpu backend: forward and the three gradients", async () => {
  const shapes = {
    x: [2, 11, 9, 4] as [number, number, number, number],
    f: [3, 3, 4, 6] as [number, number, number, number],
  };
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const xv = values(size(shapes.x), 21), wv = lcgValues(size(shapes.f), 22), bv = lcgValues(6, 23);
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor4d(xv, shapes.x), w = tf.tensor4d(wv, shapes.f), b = tf.tensor1d(bv);
      const f = (a: tf.Tensor, q: tf.Tensor, s: tf.Tensor) => conv2dRelu(a as tf.Tensor4D, q as tf.Tensor4D, s, 2, 1);
      const y = f(x, w, b);
      const r = tf.tensor(lcgValues(y.size, 24), y.shape);
      const grads = tf.grads((a, q, s) => tf.sum(tf.mul(f(a, q, s), r)))([x, w, b]);
      return [y, ...grads].map((t) => t.dataSync().slice() as Float32Array);
    });
  const onWasm = run();
  await tf.setBackend("cpu");
  let onCpu: Float32Array[];
  try {
    onCpu = run();
  } finally {
    await tf.setBackend("wasm");
  }
  ["y", "dx", "dW", "db"].forEach((name, i) => {
    let e = 0;
    for (let j = 0; j < onCpu[i].length; j++) {
      e = Math.max(e, Math.abs(onWasm[i][j] - onCpu[i][j]) / (1 + Math.abs(onCpu[i][j])));
    }
    assert.ok(e < 1e-5, `${name}: max relative error ${e}`);
  });
});

Deno.test("Sgd: the fused update's bytes equal the six tfjs ops', with and without decay and gradient scale", () => {
  for (
    const o of [
      { momentum: 0.9, weightDecay: 5e-4, gradScale: 1, lr: 0.1 },
      { momentum: 0.9, weightDecay: 0, gradScale: 0.37, lr: 0.013 },
    ]
  ) {
    const n = 150_001;
    const w0 = values(n, 7), g0 = values(n, 8), b0 = lcgValues(n, 9);
    const run = (fused: boolean) => {
      const [wInit, bInit, g] = [tf.tensor1d(w0), tf.tensor1d(b0), tf.tensor1d(g0)];
      const w = tf.variable(wInit);
      const sgd = new Sgd([w], { momentum: o.momentum, weightDecay: o.weightDecay });
      sgd.buffers[0].assign(bInit);
      tf.dispose([wInit, bInit]);
      if (fused) {
        sgd.step([g], o.lr, o.gradScale);
      } else {
        // The rule as tfjs ops (lib/train/sgd.ts without the kernel).
        tf.tidy(() => {
          const gs = o.gradScale === 1 ? g : tf.mul(g, o.gradScale);
          const d = o.weightDecay ? tf.add(gs, tf.mul(w, o.weightDecay)) : gs;
          const v = tf.add(tf.mul(sgd.buffers[0], o.momentum), d);
          sgd.buffers[0].assign(v);
          w.assign(tf.sub(w, tf.mul(v, o.lr)));
        });
      }
      const out = [bytes(w), bytes(sgd.buffers[0])];
      g.dispose();
      sgd.dispose();
      w.dispose();
      return out;
    };
    const before = tf.memory().numTensors;
    const [fw, fb] = run(true);
    const [uw, ub] = run(false);
    assert.deepEqual(fb, ub, `buffer ${JSON.stringify(o)}`);
    assert.deepEqual(fw, uw, `weights ${JSON.stringify(o)}`);
    assert.equal(tf.memory().numTensors, before);
  }
  if (helper) {
    const r = tf.tidy(() =>
      sgdStepFused(tf.ones([3]), tf.ones([3]), tf.zeros([3]), {
        lr: 0.5,
        momentum: 0.9,
        weightDecay: 0,
        gradScale: 1,
      })!.map((t) => Array.from(t.dataSync()))
    );
    assert.deepEqual(r, [[0.5, 0.5, 0.5], [1, 1, 1]]);
  }
});

Deno.test("native Add: same-shape float32 adds equal wasm's bytes; broadcasts and int32 go to wasm's kernel", () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const n = 3 * 70_001;
    const a = tf.tensor1d(values(n, 11)), b = tf.tensor1d(values(n, 12));
    const expected = new Float32Array(n);
    const av = a.dataSync(), bv = b.dataSync();
    for (let i = 0; i < n; i++) expected[i] = av[i] + bv[i];
    assert.deepEqual(bytes(tf.add(a, b)), new Uint8Array(expected.buffer));
    assert.deepEqual(Array.from(tf.add(tf.ones([70_000, 2]), tf.tensor1d([1, 2])).dataSync().slice(0, 4)), [
      2,
      3,
      2,
      3,
    ]);
    assert.deepEqual(
      Array.from(tf.add(tf.ones([70_000], "int32"), tf.ones([70_000], "int32")).dataSync().slice(0, 2)),
      [
        2,
        2,
      ],
    );
  });
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("native Reverse: the horizontal flip of an NHWC batch is the flipped copy; other axes go to wasm", () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const [n, h, w, c] = [3, 40, 37, 5];
    const x = tf.tensor4d(values(n * h * w * c, 13), [n, h, w, c]);
    const xv = x.dataSync(), want = new Float32Array(xv.length);
    for (let r = 0; r < n * h; r++) {
      for (let j = 0; j < w; j++) {
        for (let k = 0; k < c; k++) want[(r * w + j) * c + k] = xv[(r * w + (w - 1 - j)) * c + k];
      }
    }
    assert.deepEqual(bytes(tf.reverse(x, 2)), new Uint8Array(want.buffer));
    const small = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    assert.deepEqual(Array.from(tf.reverse(small, 1).dataSync()), [3, 4, 1, 2]);
    assert.deepEqual(Array.from(tf.reverse(small, [1, 2]).dataSync()), [4, 3, 2, 1]);
  });
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("wasm Identity: a clone shares the data (no copy) and outlives its original", () => {
  const before = tf.memory();
  const a = tf.tensor1d(lcgValues(1 << 16, 10));
  const expected = a.dataSync().slice();
  const b = tf.clone(a);
  assert.equal(b.dataId, a.dataId, "the clone has the original's buffer");
  a.dispose();
  assert.deepEqual(b.dataSync(), expected);
  b.dispose();
  assert.equal(tf.memory().numTensors, before.numTensors);
});
