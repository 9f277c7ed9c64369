/**
 * Tests for lib/backend/wasm_kernels.ts: the wasm kernel fixes are compared
 * against the cpu backend (registered by "@tensorflow/tfjs").
 *
 * Run: npx deno test -A tests/backend/wasm_kernels_test.ts
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  registerWasmKernelFixes,
  unregisterWasmKernelFixes,
  wasmKernelFixesRegistered,
} from "../../lib/backend/wasm_kernels.ts";
import { lcgValues } from "../shared.ts";

// ---------------------------------------------------------------------------
// Helpers

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface Result {
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/** Runs `f` on a backend and reads its outputs back (disposing them). */
async function onBackend(
  name: "cpu" | "wasm",
  f: () => tf.Tensor[],
): Promise<Result[]> {
  await tf.setBackend(name);
  await tf.ready();
  const outs = tf.tidy(f);
  const results = outs.map((t) => ({
    shape: t.shape,
    values: t.dataSync() as Float32Array | Int32Array | Uint8Array,
  }));
  tf.dispose(outs);
  return results;
}

/** Runs `f` on cpu and wasm, asserts equal shapes and close values. */
async function compareWithCpu(
  label: string,
  f: () => tf.Tensor[],
  relTol = 1e-4,
): Promise<void> {
  const ref = await onBackend("cpu", f);
  const got = await onBackend("wasm", f);
  assert.equal(got.length, ref.length, `${label}: output count`);
  for (let k = 0; k < ref.length; k++) {
    assert.deepEqual(got[k].shape, ref[k].shape, `${label}[${k}]: shape`);
    let scale = 1;
    let maxErr = 0;
    for (let i = 0; i < ref[k].values.length; i++) {
      scale = Math.max(scale, Math.abs(ref[k].values[i]));
      maxErr = Math.max(
        maxErr,
        Math.abs(ref[k].values[i] - got[k].values[i]),
      );
    }
    assert.ok(
      maxErr <= relTol * scale,
      `${label}[${k}]: max abs error ${maxErr} > ${relTol} * ${scale}`,
    );
  }
}

/** Runs the Conv2DBackpropFilter kernel (the op is not exported by tfjs). */
function backpropFilter(
  x: tf.Tensor,
  dy: tf.Tensor,
  filterShape: [number, number, number, number],
  strides: number,
  pad: "same" | "valid",
  dataFormat: "NHWC" | "NCHW" = "NHWC",
): tf.Tensor {
  if (x.rank === 3) x = tf.expandDims(x, 0);
  if (dy.rank === 3) dy = tf.expandDims(dy, 0);
  const attrs = { strides, pad, dataFormat, filterShape };
  return tf.engine().runKernel(
    "Conv2DBackpropFilter",
    { x, dy },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

function wasmBackend(): BackendWasm {
  return tf.findBackend("wasm") as BackendWasm;
}

await tf.setBackend("wasm");
await tf.ready();
registerWasmKernelFixes();

// ---------------------------------------------------------------------------
// Conv2D gradients

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;

interface ConvCase {
  b: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  fh: number;
  fw: number;
  stride: number | [number, number];
  pad: Pad;
}

function convGrads(c: ConvCase, seed: number): () => tf.Tensor[] {
  const xShape = [c.b, c.h, c.w, c.ci];
  const wShape = [c.fh, c.fw, c.ci, c.co];
  const xv = lcgValues(size(xShape), seed);
  const wv = lcgValues(size(wShape), seed + 1);
  return () => {
    const x = tf.tensor4d(xv, xShape as [number, number, number, number]);
    const w = tf.tensor4d(wv, wShape as [number, number, number, number]);
    const y0 = tf.conv2d(x, w, c.stride, c.pad);
    // A non-uniform dy: weight the outputs by fixed random values.
    const r = tf.tensor(lcgValues(y0.size, seed + 2), y0.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.mul(
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad),
          r,
        ),
      )
    );
    return [y0, ...g([x, w])];
  };
}

const convCases: ConvCase[] = [];
{
  let i = 0;
  for (const stride of [1, 2]) {
    for (const pad of ["same", "valid"] as const) {
      for (const [h, w] of [[7, 9], [8, 8], [9, 6]]) {
        convCases.push({
          b: 3,
          h,
          w,
          ci: 2 + (i % 4),
          co: 3 + (i % 2),
          fh: 3,
          fw: 3,
          stride,
          pad,
        });
        i++;
      }
    }
  }
  // Other filter sizes, mixed strides, numeric and explicit padding.
  convCases.push(
    { b: 3, h: 7, w: 9, ci: 3, co: 4, fh: 1, fw: 1, stride: 2, pad: "same" },
    { b: 3, h: 7, w: 9, ci: 2, co: 3, fh: 2, fw: 2, stride: 2, pad: "same" },
    { b: 3, h: 7, w: 9, ci: 5, co: 3, fh: 5, fw: 3, stride: 2, pad: "same" },
    // (The native wasm forward Conv2D itself crashes with "memory access out
    // of bounds" for strides [2, 1] with a numeric pad, so that is not used.)
    { b: 3, h: 7, w: 9, ci: 4, co: 4, fh: 3, fw: 3, stride: [2, 1], pad: "same" },
    { b: 3, h: 9, w: 7, ci: 3, co: 4, fh: 3, fw: 3, stride: [1, 2], pad: "valid" },
    { b: 3, h: 7, w: 9, ci: 4, co: 3, fh: 3, fw: 3, stride: 2, pad: 1 },
    { b: 3, h: 7, w: 9, ci: 2, co: 4, fh: 3, fw: 3, stride: 1, pad: 2 },
    { b: 3, h: 7, w: 9, ci: 2, co: 3, fh: 3, fw: 3, stride: 2, pad: 0 },
    {
      b: 3,
      h: 7,
      w: 9,
      ci: 3,
      co: 3,
      fh: 3,
      fw: 3,
      stride: 2,
      pad: [[0, 0], [2, 0], [0, 3], [0, 0]],
    },
    {
      b: 3,
      h: 7,
      w: 9,
      ci: 3,
      co: 4,
      fh: 3,
      fw: 3,
      stride: 1,
      pad: [[0, 0], [4, 1], [1, 4], [0, 0]],
    },
  );
}

Deno.test("conv2d gradients (dx, dW) match cpu", async () => {
  registerWasmKernelFixes();
  for (const [i, c] of convCases.entries()) {
    await compareWithCpu(
      `conv ${JSON.stringify(c)}`,
      convGrads(c, 100 + 10 * i),
    );
  }
});

Deno.test("conv2DBackpropFilter / Input ops directly, incl. 3D", async () => {
  registerWasmKernelFixes();
  const xv = lcgValues(7 * 9 * 3, 7);
  const dyv = lcgValues(4 * 5 * 2, 8);
  const wv = lcgValues(3 * 3 * 3 * 2, 9);
  await compareWithCpu("backprop ops", () => {
    const x = tf.tensor3d(xv, [7, 9, 3]);
    const dy = tf.tensor3d(dyv, [4, 5, 2]);
    const w = tf.tensor4d(wv, [3, 3, 3, 2]);
    return [
      tf.conv2dTranspose(dy, w, [7, 9, 3], 2, "same"),
      tf.conv2dTranspose(tf.expandDims(dy, 0), w, [1, 7, 9, 3], 2, "same"),
      backpropFilter(x, dy, [3, 3, 3, 2], 2, "same"),
      // NCHW: dW transposes to NHWC, dx is left to the native kernel.
      backpropFilter(
        tf.transpose(tf.expandDims(x, 0), [0, 3, 1, 2]),
        tf.transpose(tf.expandDims(dy, 0), [0, 3, 1, 2]),
        [3, 3, 3, 2],
        2,
        "same",
        "NCHW",
      ),
      tf.engine().runKernel(
        "Conv2DBackpropInput",
        { dy: tf.transpose(tf.expandDims(dy, 0), [0, 3, 1, 2]), filter: w },
        {
          strides: 2,
          pad: "same",
          dataFormat: "NCHW",
          inputShape: [1, 3, 7, 9],
        } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor,
    ];
  });
});

// ---------------------------------------------------------------------------
// matMul

Deno.test("matMul: all transpose combinations, 2D and batched 3D", async () => {
  registerWasmKernelFixes();
  const m = 5, k = 7, n = 6, batch = 3;
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const aShape2 = ta ? [k, m] : [m, k];
      const bShape2 = tb ? [n, k] : [k, n];
      const av = lcgValues(batch * m * k, 11);
      const bv = lcgValues(batch * k * n, 12);
      await compareWithCpu(`matMul ta=${ta} tb=${tb}`, () => {
        const a2 = tf.tensor(av.subarray(0, m * k), aShape2);
        const b2 = tf.tensor(bv.subarray(0, k * n), bShape2);
        const a3 = tf.tensor(av, [batch, ...aShape2]);
        const b3 = tf.tensor(bv, [batch, ...bShape2]);
        // Vector-shaped operands (a dimension of 1) take the reshape path.
        const row = tf.tensor(av.subarray(0, k), ta ? [k, 1] : [1, k]);
        const col = tf.tensor(bv.subarray(0, k), tb ? [1, k] : [k, 1]);
        const bias = tf.tensor1d(lcgValues(n, 13));
        return [
          tf.matMul(a2, b2, ta, tb),
          tf.matMul(a3, b3, ta, tb),
          tf.matMul(row, col, ta, tb),
          tf.matMul(row, b2, ta, tb),
          tf.fused.matMul({
            a: a3,
            b: b3,
            transposeA: ta,
            transposeB: tb,
            bias,
            activation: "relu",
          }),
          tf.fused.matMul({ a: a2, b: b2, transposeA: ta, transposeB: tb, bias }),
          tf.fused.matMul({
            a: a3,
            b: b3,
            transposeA: ta,
            transposeB: tb,
            activation: "elu",
          }),
          tf.fused.matMul({
            a: a3,
            b: b3,
            transposeA: ta,
            transposeB: tb,
            bias,
            activation: "leakyrelu",
            leakyreluAlpha: 0.1,
          }),
          tf.fused.matMul({
            a: a3,
            b: b3,
            transposeA: ta,
            transposeB: tb,
            bias,
            activation: "prelu",
            preluActivationWeights: tf.tensor1d(lcgValues(n, 14)),
          }),
        ];
      });
    }
  }
});

Deno.test("matMul: shapes where the swapped form (B^T A^T)^T is used", async () => {
  registerWasmKernelFixes();
  const av = lcgValues(3 * 50 * 40, 15);
  const bv = lcgValues(3 * 50 * 40, 16);
  await compareWithCpu("matMul swapped", () => {
    const t = (v: Float32Array, shape: number[]) => tf.tensor(v.subarray(0, size(shape)), shape);
    return [
      // transposeA with a large A and small B, C.
      tf.matMul(t(av, [50, 40]), t(bv, [50, 2]), true, false),
      // transposeB with a large B and small A, C.
      tf.matMul(t(av, [2, 50]), t(bv, [40, 50]), false, true),
      // Both flags: only C is transposed.
      tf.matMul(t(av, [50, 40]), t(bv, [30, 50]), true, true),
      // Batched, and batch-broadcast.
      tf.matMul(t(av, [3, 50, 40]), t(bv, [3, 50, 2]), true, false),
      tf.matMul(t(av, [3, 2, 50]), t(bv, [1, 40, 50]), false, true),
      tf.matMul(t(av, [1, 50, 40]), t(bv, [3, 30, 50]), true, true),
    ];
  });
});

Deno.test("matMul gradients match cpu", async () => {
  registerWasmKernelFixes();
  const av = lcgValues(2 * 4 * 6, 21);
  const bv = lcgValues(2 * 6 * 3, 22);
  await compareWithCpu("matMul grads", () => {
    const a = tf.tensor3d(av, [2, 4, 6]);
    const b = tf.tensor3d(bv, [2, 6, 3]);
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D)))
    );
    return g([a, b]);
  });
});

Deno.test("matMul with a 1-row operand that shares its data with another shape (batch-1 gradients)", async () => {
  registerWasmKernelFixes();
  // Regression: a zero-copy reshape as the "transpose" of a 1-wide matrix made the native kernel read garbage,
  // which broke dL/dW for batch size 1 (golden cases sf2c_v0_b1, cosface_main_s64_m0.35_b1).
  await compareWithCpu("1-row matMul", () => {
    const x = tf.reshape(tf.tensor1d([1, 2, 3, 4]), [1, 4]);
    const dy = tf.tensor2d([[1, 2, 3]]);
    const w = tf.tensor2d(lcgValues(12, 5), [4, 3]);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D))([x, w], dy);
    return [tf.matMul(x, dy, true, false), tf.matMul(dy, x, true, false), ...grads];
  });
});

// ---------------------------------------------------------------------------
// gather gradient / UnsortedSegmentSum

Deno.test("gather gradients and unsortedSegmentSum match cpu", async () => {
  registerWasmKernelFixes();
  const pv = lcgValues(10 * 4 * 3, 31);
  const idx = [3, 1, 3, 0, 9, 3, 7];
  await compareWithCpu("gather grads", () => {
    const p2 = tf.tensor2d(pv.subarray(0, 40), [10, 4]);
    const p3 = tf.tensor3d(pv, [10, 4, 3]);
    const ids = tf.tensor1d(idx, "int32");
    const ids2d = tf.tensor2d([1, 0, 3, 1, 1, 2], [2, 3], "int32");
    const weigh = (t: tf.Tensor, seed: number) => tf.sum(tf.mul(t, tf.tensor(lcgValues(t.size, seed), t.shape)));
    const g0 = tf.grad((p: tf.Tensor) => weigh(tf.gather(p, ids, 0), 1))(p2);
    const g1 = tf.grad((p: tf.Tensor) => weigh(tf.gather(p, ids2d, 1), 2))(
      p3,
    );
    const g2 = tf.grad((p: tf.Tensor) => weigh(tf.gather(p, ids, 0), 3))(p3);
    return [g0, g1, g2];
  });
  await compareWithCpu("unsortedSegmentSum", () => {
    const xf = tf.tensor3d(pv.subarray(0, 5 * 2 * 3), [5, 2, 3]);
    const xi = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 2], "int32");
    const seg = tf.tensor1d([2, 0, 2, 5, -1], "int32"); // 5, -1: dropped
    const si = tf.unsortedSegmentSum(xi, seg, 4);
    // TF keeps x's dtype; tfjs's cpu kernel returns float32 here.
    if (tf.getBackend() === "wasm") assert.equal(si.dtype, "int32");
    return [tf.unsortedSegmentSum(xf, seg, 4), tf.cast(si, "float32")];
  }, 0);
});

// ---------------------------------------------------------------------------
// Leaks, registration

Deno.test("no leaked tensors or wasm data ids after gradients", async () => {
  registerWasmKernelFixes();
  await tf.setBackend("wasm");
  const backend = wasmBackend();
  const step = () => {
    const x = tf.tensor4d(lcgValues(3 * 7 * 9 * 3, 41), [3, 7, 9, 3]);
    const w = tf.tensor4d(lcgValues(3 * 3 * 3 * 4, 42), [3, 3, 3, 4]);
    const w2 = tf.tensor4d(lcgValues(4 * 32, 46), [1, 1, 4, 32]);
    const fc = tf.tensor2d(lcgValues(32 * 5, 43), [32, 5]);
    const emb = tf.tensor2d(lcgValues(10 * 5, 44), [10, 5]);
    const ids = tf.tensor1d([1, 4, 1], "int32");
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
      let y = tf.relu(tf.conv2d(a as tf.Tensor4D, w, 2, "same"));
      y = tf.conv2d(y, b as tf.Tensor4D, 1, "valid");
      const f = tf.mean(y, [1, 2]) as tf.Tensor2D; // [3, 32]
      const logits = tf.matMul(f, c as tf.Tensor2D); // [3, 5]
      return tf.sum(tf.mul(logits, tf.gather(emb, ids)));
    });
    return grads([x, w2, fc]);
  };
  // Warm up (first calls may allocate lasting state, e.g. scalar caches).
  tf.dispose(tf.tidy(step));
  const tensorsBefore = tf.memory().numTensors;
  const idsBefore = backend.numDataIds();
  tf.tidy(() => {
    step();
  });
  assert.equal(tf.memory().numTensors, tensorsBefore, "engine tensors");
  assert.equal(backend.numDataIds(), idsBefore, "wasm data ids");
  const kept = tf.tidy(step);
  assert.equal(backend.numDataIds(), idsBefore + kept.length);
  tf.dispose(kept);
  assert.equal(backend.numDataIds(), idsBefore);
});

Deno.test("register is idempotent; unregister restores originals", async () => {
  await tf.setBackend("wasm");
  registerWasmKernelFixes();
  const fixedMatMul = tf.getKernel("BatchMatMul", "wasm");
  registerWasmKernelFixes();
  assert.equal(tf.getKernel("BatchMatMul", "wasm"), fixedMatMul);
  assert.ok(wasmKernelFixesRegistered());

  unregisterWasmKernelFixes();
  assert.ok(!wasmKernelFixesRegistered());
  assert.equal(tf.getKernel("Conv2DBackpropFilter", "wasm"), undefined);
  assert.equal(tf.getKernel("UnsortedSegmentSum", "wasm"), undefined);
  const native = tf.getKernel("BatchMatMul", "wasm");
  assert.ok(native !== undefined && native !== fixedMatMul);
  // The native transposed matMul still works after the round trip.
  const r = tf.tidy(() => tf.matMul(tf.ones([3, 2]), tf.ones([4, 3]), true, true).dataSync());
  assert.deepEqual(Array.from(r), new Array(8).fill(3));
  unregisterWasmKernelFixes(); // no-op

  registerWasmKernelFixes();
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
  const dw = tf.tidy(() =>
    backpropFilter(
      tf.ones([1, 3, 3, 1]),
      tf.ones([1, 3, 3, 1]),
      [3, 3, 1, 1],
      1,
      "same",
    ).dataSync()
  );
  assert.deepEqual(Array.from(dw), [4, 6, 4, 6, 9, 6, 4, 6, 4]);
});
