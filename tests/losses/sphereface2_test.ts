import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { parseHeadConfig, type SphereFace2Config } from "../../lib/losses/config.ts";
import {
  biasAnchors,
  g,
  gPrime,
  gPrimeTensor,
  gTensor,
  initialBias,
  sigmoid,
  sphereface2LossFromCos,
  type SphereFace2Params,
  termValues,
} from "../../lib/losses/sphereface2.ts";
import { useBackend } from "../shared.ts";

const sf2 = (overrides: Record<string, unknown> = {}): SphereFace2Config =>
  parseHeadConfig({ type: "sphereface2", ...overrides }) as SphereFace2Config;

Deno.test("b0 reproduces OpenSphere's documented values", () => {
  // shared/notes/opensphere.md §1: K = 8631 (VGGFace2), r 40, t 3, λ 0.7; main's MS1M config.
  expect(initialBias(sf2({ variant: "C", m: 0.4 }), 8631)).toBeCloseTo(5.78457, 5);
  expect(initialBias(sf2({ variant: "A", m: 0.5 }), 8631)).toBeCloseTo(21.78457, 5);
  expect(initialBias(sf2({ variant: "M", m: 1.7 }), 8631)).toBeCloseTo(21.78457, 5);
  expect(initialBias(sf2({ lambda: 0.8, r: 64, m: 0.5, t: 3 }), 85742)).toBeCloseTo(6.02725, 5);
});

Deno.test("b0 solves the stationarity equation, including the cancellation-prone few-class regime", () => {
  for (const variant of ["C", "A", "M"] as const) {
    for (const lambda of [0.1, 0.5, 0.7, 0.95, 0.999]) {
      for (const K of [2, 3, 10, 1000, 1_000_000]) {
        for (const [r, t] of [[40, 3], [64, 5], [16, 1]]) {
          const p = sf2({ variant, lambda, r, t });
          const b = initialBias(p, K);
          const { ay, ai } = biasAnchors(p);
          const lhs = lambda * (1 - sigmoid(ay + b));
          const rhs = (1 - lambda) * (K - 1) * sigmoid(ai + b);
          expect(Number.isFinite(b)).toBe(true);
          expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-9 * Math.max(lhs, rhs));
        }
      }
    }
  }
});

Deno.test("dL/db = 0 at b0 when every cosine is 0 (tensor loss, each variant and gradient form)", async () => {
  await useBackend("cpu");
  const cases: Array<Record<string, unknown>> = [
    { variant: "C" },
    { variant: "C", gradForm: "through-g", lambda: 0.5, t: 5, r: 64 },
    { variant: "A" },
    { variant: "M", lambda: 0.9 },
  ];
  for (const overrides of cases) {
    const p = sf2(overrides);
    const [B, K] = [6, 50];
    const db = tf.tidy(() => {
      const cos = tf.zeros([B, K]) as tf.Tensor2D;
      const bias = tf.tensor1d([initialBias(p, K)]);
      const labels = tf.tensor1d([0, 1, 2, 3, 4, 49], "int32");
      const grads = tf.grads((c: tf.Tensor, b: tf.Tensor) =>
        sphereface2LossFromCos(c as tf.Tensor2D, b as tf.Tensor1D, labels, p)
      )([cos, bias]);
      return grads[1].dataSync()[0];
    });
    // The bias gradient is a sum of B·K terms of size up to lw/(rB); float32 b0 rounding leaves ~1e-7.
    expect(Math.abs(db)).toBeLessThan(1e-5);
  }
});

Deno.test("g is monotone and maps [-1, 1] onto itself; the tensor g equals the scalar g", async () => {
  await useBackend("cpu");
  for (const t of [1, 1.5, 2, 3, 4, 5, 7, 8, 9.5]) {
    expect(g(-1, t)).toBe(-1);
    expect(g(1, t)).toBe(1);
    let prev = -Infinity;
    for (let i = 0; i <= 400; i++) {
      const z = -1 + i / 200;
      const v = g(z, t);
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(v).toBeGreaterThanOrEqual(-1);
      expect(v).toBeLessThanOrEqual(1);
      expect(gPrime(z, t)).toBeGreaterThanOrEqual(0);
      prev = v;
    }
    const zs = [-1, -0.7, -0.1, 0, 0.3, 0.99, 1];
    const got = tf.tidy(() => gTensor(tf.tensor1d(zs), t).dataSync());
    zs.forEach((z, i) => expect(got[i]).toBeCloseTo(g(z, t), 6));
    const gotPrime = tf.tidy(() => gPrimeTensor(tf.tensor1d(zs), t).dataSync());
    zs.forEach((z, i) => expect(gotPrime[i]).toBeCloseTo(gPrime(z, t), 5));
  }
  // float32 cosines a hair below −1 must not turn into NaN for non-integer t.
  const below = tf.tidy(() => gTensor(tf.tensor1d([-1.0000001]), 2.5).dataSync()[0]);
  expect(below).toBe(-1);
});

Deno.test("through-g's dℓ/dcos is the true derivative of the loss; detached's is r·dℓ/dz", () => {
  const h = 1e-6;
  for (const kind of ["target", "nonTarget"] as const) {
    for (const c of [-0.8, -0.2, 0.1, 0.6, 0.95]) {
      const pg: SphereFace2Params = sf2({ gradForm: "through-g" });
      const numeric = (termValues(c + h, pg, 5, kind).loss - termValues(c - h, pg, 5, kind).loss) / (2 * h);
      expect(termValues(c, pg, 5, kind).dLossDcos).toBeCloseTo(numeric, 6);
      const pd = sf2();
      const tv = termValues(c, pd, 5, kind);
      const dz = (pd.lw / pd.r) * (kind === "target" ? pd.lambda : 1 - pd.lambda) *
        (sigmoid(tv.logit) - (kind === "target" ? 1 : 0));
      expect(tv.dLossDcos).toBeCloseTo(pd.r * dz, 12);
    }
  }
});

Deno.test("detached and through-g give the same loss; gradients differ unless t = 1", async () => {
  await useBackend("cpu");
  for (const t of [3, 1]) {
    const [vd, vg, gd, gg] = tf.tidy(() => {
      const cos = tf.randomUniform([5, 9], -0.9, 0.9, "float32", 7) as tf.Tensor2D;
      const bias = tf.tensor1d([2.0]);
      const labels = tf.tensor1d([0, 3, 8, 2, 2], "int32");
      const run = (gradForm: string) => {
        const p = sf2({ t, gradForm });
        const { value, grads } = tf.valueAndGrads((c: tf.Tensor, b: tf.Tensor) =>
          sphereface2LossFromCos(c as tf.Tensor2D, b as tf.Tensor1D, labels, p)
        )([cos, bias]);
        return [value.dataSync()[0], grads[0].dataSync()] as const;
      };
      const d = run("detached");
      const tg = run("through-g");
      return [d[0], tg[0], Array.from(d[1]), Array.from(tg[1])];
    }) as [number, number, number[], number[]];
    expect(vg).toBeCloseTo(vd, 5);
    const maxDiff = Math.max(...gd.map((v, i) => Math.abs(v - gg[i])));
    if (t === 1) expect(maxDiff).toBeLessThan(1e-6);
    else expect(maxDiff).toBeGreaterThan(1e-3);
  }
});

Deno.test("no overflow: r 64, t 5, K = 10^6; the tensor loss equals a float64 sum of the scalar terms", async () => {
  await useBackend("wasm");
  const p = sf2({ r: 64, t: 5, lw: 50 });
  const [B, K] = [2, 1_000_000];
  const labels = [3, 999_999];
  const { loss, cosValues } = tf.tidy(() => {
    // Cosines spread over [−1, 1] so that logits reach ±100.
    const cos = tf.sin(tf.mul(tf.range(0, B * K, 1, "float32"), 0.001)).reshape([B, K]) as tf.Tensor2D;
    const value = sphereface2LossFromCos(cos, tf.tensor1d([initialBias(p, K)]), tf.tensor1d(labels, "int32"), p);
    return { loss: value.dataSync()[0], cosValues: cos.dataSync() };
  });
  const b = Math.fround(initialBias(p, K));
  let ref = 0;
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < K; j++) {
      ref += termValues(cosValues[i * K + j], p, b, j === labels[i] ? "target" : "nonTarget").loss;
    }
  }
  ref /= B;
  expect(Number.isFinite(loss)).toBe(true);
  expect(Math.abs(loss - ref) / ref).toBeLessThan(1e-4);
});

Deno.test("config errors name the field and the allowed range", () => {
  expect(() => parseHeadConfig({ type: "sphereface2", lambda: 1.5 })).toThrow(
    /lambda: Too big: expected number to be <1/,
  );
  expect(() => parseHeadConfig({ type: "sphereface2", variant: "M", m: 0.5 })).toThrow(
    /m: m must be in \[1, 4\.0000\] for variant M/,
  );
  expect(() => parseHeadConfig({ type: "sphereface2", variant: "A", gradForm: "through-g" })).toThrow(
    /gradForm: gradForm "through-g" exists for variant C only/,
  );
  expect(() => parseHeadConfig({ type: "sphereface2", tt: 3 }, "cfg.json")).toThrow(/cfg\.json: .*tt/);
  expect(() => parseHeadConfig({ type: "arcface", s: -1 })).toThrow(/s: Too small/);
  expect(() => parseHeadConfig({ type: "triplet" })).toThrow(/type/);
  expect(parseHeadConfig({ type: "sphereface2", variant: "A" })).toMatchObject({ m: 0.5, lambda: 0.7, lw: 10 });
});
