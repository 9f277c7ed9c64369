/**
 * LFW as training data (real LFW where the kit finds it; ignored, saying so, without it): View 1's training identities filtered by `minImages`, and View 2's
 * 6,000 pairs as a pair set, both through the aligned-crop cache.
 */
import { expect } from "expect";
import * as tf from "@tensorflow/tfjs";
import { lfwView1Data, lfwView2PairSet } from "../../lib/train/lfw_data.ts";
import { lfwPath, lfwTest, useBackend } from "../shared.ts";

const SIZE = 16;

lfwTest("lfw View 1: minImages keeps identities with enough images, relabelled 0…K−1", async () => {
  await useBackend("cpu");
  const dir = lfwPath();
  const cacheDir = await Deno.makeTempDir();
  try {
    // The expectation straight from the people file: identities listed with ≥ 2 images (1184 in the official list;
    // the shared copy may lack a few images, hence ≤).
    const listed = (await Deno.readTextFile(`${dir}/peopleDevTrain.txt`)).trim().split("\n").slice(1)
      .map((l) => l.trim().split(/\s+/)).filter((f) => Number(f[1]) >= 2);
    const two = await lfwView1Data({ dir, size: SIZE, cacheDir, skipIncomplete: true, quiet: true, minImages: 2 });
    expect(listed.length).toBe(1184);
    expect(two.numClasses).toBeGreaterThan(1150);
    expect(two.numClasses).toBeLessThanOrEqual(listed.length);
    expect(two.count).toBeLessThanOrEqual(listed.reduce((n, f) => n + Number(f[1]), 0));
    const counts = new Map<number, number>();
    for (const y of two.labels) counts.set(y, (counts.get(y) ?? 0) + 1);
    expect(counts.size).toBe(two.numClasses);
    expect(Math.min(...counts.values())).toBeGreaterThanOrEqual(2);
    expect(Math.max(...two.labels)).toBe(two.numClasses - 1);
    expect(two.describe()).toMatchObject({ minImages: 2, identities: two.numClasses });
    expect(two.validation[0].pairs.length).toBeGreaterThan(900);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

lfwTest("lfw View 2: pairs.txt in fold order as a pair set with valid image indices", async () => {
  await useBackend("cpu");
  const dir = lfwPath();
  const cacheDir = await Deno.makeTempDir();
  try {
    const set = await lfwView2PairSet({ dir, size: SIZE, cacheDir, skipIncomplete: true, quiet: true });
    expect(set.name).toBe("view2");
    expect(set.pairs.length).toBeGreaterThan(5900);
    expect(set.pairs.length).toBeLessThanOrEqual(6000);
    expect(set.same.length).toBe(set.pairs.length);
    for (const [a, b] of set.pairs) {
      expect(a >= 0 && a < set.images.count && b >= 0 && b < set.images.count).toBe(true);
    }
    // pairs.txt alternates 300 matched and 300 mismatched pairs per fold.
    expect(set.same.slice(0, 300).every((s) => s)).toBe(true);
    expect(set.same.slice(300, 600).every((s) => !s)).toBe(true);
    const before = tf.memory().numTensors;
    const batch = await set.images.batch(0, 3);
    expect(batch.shape).toEqual([3, SIZE, SIZE, 3]);
    batch.dispose();
    expect(tf.memory().numTensors).toBe(before);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
