/**
 * Tests for the fused SphereFace2 and margin-softmax heads (lib/backend/native/sf2_fused.ts,
 * lib/backend/head_kernels.ts): loss and gradients against the cpu backend's unfused heads for every kernel path
 * (C helper, TypeScript elementwise) and variant, several class blocks, determinism, bounded scratch memory, leaks. Skipped, with a message, where
 * libdnnl.so.2 is not installed; the C-helper cases are skipped where `deno task build-native` has not run.
 *
 * Run: node_modules/.bin/deno test -A tests/backend/head_kernels_test.ts
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  fusedHeadCalls,
  fusedHeadKernelsActive,
  registerHeadKernels,
  unregisterHeadKernels,
} from "../../lib/backend/head_kernels.ts";
import { openOneDnn } from "../../lib/backend/native/onednn_ffi.ts";
import { FusedHeadEngine, openHelper, type Sf2KernelParams } from "../../lib/backend/native/sf2_fused.ts";
import { parseHeadConfig, type SphereFace2Config } from "../../lib/losses/config.ts";
import { headGradients, normalizeColumns } from "../../lib/losses/head.ts";
import { createHead } from "../../lib/losses/registry.ts";
import { clipRange } from "../../lib/losses/sphereface2.ts";
import { marginKernelParams } from "../../lib/losses/softmax_family.ts";
import { lcgValues, useBackend } from "../shared.ts";

const dnn = openOneDnn();
if (!dnn.ok) console.warn(`head_kernels_test: skipping fused-head tests: ${dnn.reason}`);
const helper = dnn.ok ? openHelper() : { ok: false as const, reason: "no oneDNN" };
if (!helper.ok) console.warn(`head_kernels_test: skipping C-helper cases: ${helper.reason}`);

/** Why a kernel path's test is ignored here, said in its name (empty when it runs). */
function skipNote(path: "C helper" | "TypeScript"): string {
  if (!dnn.ok) return " [skipped: no oneDNN (apt-get install libdnnl2)]";
  if (path === "C helper" && !helper.ok) return " [skipped: C helper not built (npx deno task build-native)]";
  return "";
}

const CONFIGS: Record<string, unknown>[] = [
  { type: "sphereface2" },
  { type: "sphereface2", variant: "A" },
  { type: "sphereface2", variant: "M" },
  { type: "sphereface2", gradForm: "through-g" },
  { type: "sphereface2", t: 2.5, lambda: 0.5, r: 30 },
];
const B = 9, D = 24, K = 700;
const LABELS = [0, 699, 63, 64, 65, 300, 128, 5, 699];

interface Grads {
  loss: number;
  dx: Float32Array;
  dw: Float32Array;
  db: number;
  /** The normalised W the gradients were taken at. */
  w: Float32Array;
}

/** The unfused head on the cpu backend: the reference. */
async function reference(cfg: Record<string, unknown>): Promise<Grads> {
  await useBackend("cpu");
  const head = createHead(parseHeadConfig(cfg), { featDim: D, numClasses: K, seed: 4 });
  const x = tf.tensor2d(lcgValues(B * D, 7), [B, D]);
  const labels = tf.tensor1d(LABELS, "int32");
  const g = headGradients(head, x, labels);
  const out = {
    loss: g.loss.dataSync()[0],
    dx: g.gradX.dataSync() as Float32Array,
    dw: g.gradW.dataSync() as Float32Array,
    db: g.gradBias ? g.gradBias.dataSync()[0] : 0,
    w: head.weight.dataSync() as Float32Array,
  };
  tf.dispose([g.loss, g.gradX, g.gradW, g.gradBias ?? [], x, labels]);
  head.dispose();
  return out;
}

function kernelParams(cfg: SphereFace2Config, bias: number): Sf2KernelParams {
  const [lo, hi] = clipRange(cfg);
  return {
    variant: ["C", "A", "M"].indexOf(cfg.variant),
    t: cfg.t,
    r: cfg.r,
    m: cfg.m,
    lambda: cfg.lambda,
    bias,
    lw: cfg.lw,
    throughG: cfg.gradForm === "through-g",
    angleEps: cfg.angleEps,
    angleMax: cfg.angleMax,
    lo,
    hi,
  };
}

/** Largest |a − b| / (1 + |b|). */
function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return e;
}

function assertClose(got: Omit<Grads, "w">, ref: Grads, what: string): void {
  // float32 products over d and K in a different order than the cpu backend's: agreement to ~1e-6 relative.
  assert.ok(Math.abs(got.loss - ref.loss) <= 2e-6 * Math.abs(ref.loss), `${what}: loss ${got.loss} vs ${ref.loss}`);
  assert.ok(maxErr(got.dx, ref.dx) < 1e-5, `${what}: dx error ${maxErr(got.dx, ref.dx)}`);
  assert.ok(maxErr(got.dw, ref.dw) < 1e-5, `${what}: dW error ${maxErr(got.dw, ref.dw)}`);
  assert.ok(Math.abs(got.db - ref.db) < 1e-5 * (1 + Math.abs(ref.db)), `${what}: db ${got.db} vs ${ref.db}`);
}

function engineStep(engine: FusedHeadEngine, ref: Grads, cfg: SphereFace2Config, bias: number, kb: number) {
  const x = new Float32Array(lcgValues(B * D, 7));
  const dx = new Float32Array(B * D), dw = new Float32Array(D * K);
  const r = engine.step(
    x,
    ref.w,
    Int32Array.from(LABELS),
    dx,
    dw,
    { batch: B, dim: D, classes: K },
    kernelParams(cfg, bias),
    kb,
  );
  return { loss: r.loss, db: r.gradBias, dx, dw };
}

for (const path of ["C helper", "TypeScript"] as const) {
  Deno.test({
    name:
      `fused head (${path} elementwise): loss and gradients equal the cpu backend's, every variant, 1 and 11 blocks` +
      skipNote(path),
    ignore: !dnn.ok || (path === "C helper" && !helper.ok),
    async fn() {
      const engine = new FusedHeadEngine(
        dnn.ok ? dnn.dnn : null!,
        path === "C helper" && helper.ok ? helper.lib : null,
        "test",
      );
      for (const c of CONFIGS) {
        const cfg = parseHeadConfig(c as never) as SphereFace2Config;
        const ref = await reference(c);
        await useBackend("cpu");
        const head = createHead(parseHeadConfig(c), { featDim: D, numClasses: K, seed: 4 });
        const bias = head.bias!.dataSync()[0];
        head.dispose();
        for (const kb of [K, 64]) {
          assertClose(engineStep(engine, ref, cfg, bias, kb), ref, `${JSON.stringify(c)} kb ${kb}`);
        }
      }
    },
  });
}

Deno.test({
  name: "fused head: same input, same bytes (determinism), and scratch bounded by one B×Kb block",
  ignore: !dnn.ok,
  async fn() {
    const engine = new FusedHeadEngine(dnn.ok ? dnn.dnn : null!, helper.ok ? helper.lib : null, "test");
    const cfg = parseHeadConfig({ type: "sphereface2" }) as SphereFace2Config;
    const ref = await reference({ type: "sphereface2" });
    const a = engineStep(engine, ref, cfg, -5, 128);
    const b = engineStep(engine, ref, cfg, -5, 128);
    assert.equal(a.loss, b.loss);
    assert.equal(a.db, b.db);
    assert.deepEqual(new Uint8Array(a.dx.buffer), new Uint8Array(b.dx.buffer));
    assert.deepEqual(new Uint8Array(a.dw.buffer), new Uint8Array(b.dw.buffer));
    assert.ok(engine.scratchFloats() <= 2 * B * D + B * 128, `scratch ${engine.scratchFloats()} floats`);
    assert.ok(FusedHeadEngine.blockClasses(256, 1_000_000) * 256 <= 1 << 20, "default block ≤ 4 MB");
  },
});

Deno.test({
  name: "fused head kernels on wasm: headGradients and W normalisation equal the cpu backend's, no leaks",
  ignore: !dnn.ok,
  async fn() {
    const ref = await reference({ type: "sphereface2" });
    await useBackend("wasm");
    assert.ok(registerHeadKernels(["wasm"], { ignoreEnv: true }).ok);
    try {
      assert.ok(fusedHeadKernelsActive());
      const before = tf.memory().numTensors;
      const calls = fusedHeadCalls();
      const head = createHead(parseHeadConfig({ type: "sphereface2" }), { featDim: D, numClasses: K, seed: 4 });
      const x = tf.tensor2d(lcgValues(B * D, 7), [B, D]);
      const labels = tf.tensor1d(LABELS, "int32");
      const g = headGradients(head, x, labels);
      assert.equal(fusedHeadCalls(), calls + 1, "the fused kernel served the step");
      assertClose(
        {
          loss: g.loss.dataSync()[0],
          dx: g.gradX.dataSync() as Float32Array,
          dw: g.gradW.dataSync() as Float32Array,
          db: g.gradBias!.dataSync()[0],
        },
        ref,
        "wasm kernel",
      );
      assert.ok(maxErr(head.weight.dataSync(), ref.w) < 1e-6, "normalised W");
      // A loss without a gradient tape (evaluation) leaves nothing behind either.
      tf.dispose(head.loss(x, labels));
      // Column normalisation by the kernel against the tfjs ops, on a W off the sphere.
      const w = tf.tensor2d(lcgValues(D * K, 9), [D, K]);
      const fused = tf.engine().runKernel("NormalizeColumnsFused", { x: w }, {}) as tf.Tensor;
      const plain = normalizeColumns(w);
      assert.ok(maxErr(fused.dataSync(), plain.dataSync()) < 1e-6);
      tf.dispose([g.loss, g.gradX, g.gradW, g.gradBias!, x, labels, w, fused, plain]);
      head.dispose();
      assert.equal(tf.memory().numTensors, before, "leaked tensors");
    } finally {
      unregisterHeadKernels();
    }
    assert.ok(!fusedHeadKernelsActive());
  },
});

for (const path of ["C helper", "TypeScript"] as const) {
  Deno.test({
    name: `fused margin heads (${path}): NormFace, CosFace, SphereFace, ArcFace equal the cpu backend's` +
      skipNote(path),
    ignore: !dnn.ok || (path === "C helper" && !helper.ok),
    async fn() {
      const engine = new FusedHeadEngine(
        dnn.ok ? dnn.dnn : null!,
        path === "C helper" && helper.ok ? helper.lib : null,
        "test",
      );
      for (const type of ["normface", "cosface", "sphereface", "arcface"] as const) {
        const cfg = parseHeadConfig({ type });
        const ref = await reference({ type });
        const x = new Float32Array(lcgValues(B * D, 7));
        const dx = new Float32Array(B * D), dw = new Float32Array(D * K);
        const loss = engine.marginStep(
          x,
          ref.w,
          Int32Array.from(LABELS),
          dx,
          dw,
          { batch: B, dim: D, classes: K },
          marginKernelParams(cfg as Parameters<typeof marginKernelParams>[0]),
        );
        assertClose({ loss, dx, dw, db: ref.db }, ref, `${type} (${path})`);
      }
    },
  });
}

Deno.test({
  name: "fused margin kernel on wasm: ArcFace headGradients equal the cpu backend's, no leaks",
  ignore: !dnn.ok,
  async fn() {
    const ref = await reference({ type: "arcface" });
    await useBackend("wasm");
    assert.ok(registerHeadKernels(["wasm"], { ignoreEnv: true }).ok);
    try {
      const before = tf.memory().numTensors;
      const calls = fusedHeadCalls();
      const head = createHead(parseHeadConfig({ type: "arcface" }), { featDim: D, numClasses: K, seed: 4 });
      const x = tf.tensor2d(lcgValues(B * D, 7), [B, D]);
      const labels = tf.tensor1d(LABELS, "int32");
      const g = headGradients(head, x, labels);
      assert.equal(fusedHeadCalls(), calls + 1);
      assertClose(
        {
          loss: g.loss.dataSync()[0],
          dx: g.gradX.dataSync() as Float32Array,
          dw: g.gradW.dataSync() as Float32Array,
          db: ref.db,
        },
        ref,
        "arcface kernel",
      );
      tf.dispose(head.loss(x, labels));
      tf.dispose([g.loss, g.gradX, g.gradW, x, labels]);
      head.dispose();
      assert.equal(tf.memory().numTensors, before, "leaked tensors");
    } finally {
      unregisterHeadKernels();
    }
  },
});
