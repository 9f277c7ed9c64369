import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import {
  balancedFoldOrder,
  extractFeatures,
  pairCosines,
  PROTOCOL_BEST_THRESHOLD,
  PROTOCOL_TEN_FOLD,
  verificationTable,
} from "../../lib/eval/verification.ts";
import { useBackend } from "../shared.ts";

Deno.test("flip fusion averages the embeddings of an image and its mirror, then normalises", async () => {
  await useBackend("cpu");
  // A toy "network": the mean of the left half and the mean of the right half of the image.
  const embed = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const [, , w] = x.shape;
      const left = tf.mean(x.slice([0, 0, 0, 0], [-1, -1, w / 2, -1]), [1, 2, 3]);
      const right = tf.mean(x.slice([0, 0, w / 2, 0], [-1, -1, w / 2, -1]), [1, 2, 3]);
      return tf.stack([left, right], 1) as tf.Tensor2D;
    });
  const data = tf.tensor4d([1, 1, 3, 3, 0, 0, 2, 2], [2, 1, 4, 1]);
  const images = { count: 2, batch: (s: number, e: number) => data.slice([s], [e - s]) as tf.Tensor4D };
  const before = tf.memory().numTensors;
  const progress: number[] = [];
  const flipped = await extractFeatures(embed, images, { batchSize: 1, onProgress: (d) => progress.push(d) });
  expect(progress).toEqual([1, 2]);
  // Image 0: halves (1, 3) and mirrored (3, 1): sum (4, 4) → (0.7071, 0.7071).
  expect(flipped.dim).toBe(2);
  expect(flipped.features[0]).toBeCloseTo(Math.SQRT1_2, 6);
  expect(flipped.features[1]).toBeCloseTo(Math.SQRT1_2, 6);
  const plain = await extractFeatures(embed, images, { flip: false });
  expect(plain.features[0]).toBeCloseTo(1 / Math.sqrt(10), 6);
  expect(tf.memory().numTensors).toBe(before);
  data.dispose();
  expect(Array.from(pairCosines(plain.features, 2, [[0, 0], [0, 1]]))[0]).toBeCloseTo(1, 6);
});

Deno.test("the verification table labels every number with its protocol and shows both ACCs", () => {
  const cos = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 0.6 : 0.2) + (i % 7) * 0.03);
  const labels = cos.map((_, i) => (i % 2 === 0 ? 1 : 0));
  const rows = verificationTable(cos, labels);
  const acc = rows.filter((r) => r.metric === "ACC");
  expect(acc.map((r) => r.protocol)).toEqual([PROTOCOL_BEST_THRESHOLD, PROTOCOL_TEN_FOLD]);
  expect(acc[0].value).toBe(100);
  expect(acc[1].std).toBeDefined();
  expect(rows.map((r) => r.metric)).toEqual(expect.arrayContaining(["EER", "AUC", "TPR@FPR=1e-3"]));
  expect(rows.every((r) => r.protocol.length > 0 && r.unit === "%")).toBe(true);
});

Deno.test("balanced folds give each contiguous tenth its share of both kinds", () => {
  const labels = [...Array(20).fill(1), ...Array(20).fill(0)];
  const order = balancedFoldOrder(labels);
  expect(order.length).toBe(40);
  expect(new Set(order).size).toBe(40);
  for (let f = 0; f < 10; f++) {
    expect(order.slice(4 * f, 4 * f + 4).map((i) => labels[i])).toEqual([1, 1, 0, 0]);
  }
  const cos = labels.map((y, i) => (y ? 0.7 : 0.2) + (i % 5) * 0.01);
  const sorted = verificationTable(cos, labels);
  const balanced = verificationTable(cos, labels, undefined, { balanceFolds: true });
  expect(sorted[1].protocol).toBe(PROTOCOL_TEN_FOLD);
  expect(balanced[1].protocol).toBe(`${PROTOCOL_TEN_FOLD}, folds balanced`);
  expect(balanced[1].value).toBe(100);
});
