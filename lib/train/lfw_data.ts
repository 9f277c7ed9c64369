/**
 * LFW View 1 (real LFW or the kit's synthetic set, both in the LFW layout) as {@link TrainingData}: train on the
 * identities of `peopleDevTrain.txt`, verify on `pairsDevTest.txt` (disjoint identities: open-set, like the
 * paper's protocol), every image 5-point aligned once into the crop cache.
 *
 * @example
 * ```ts
 * import { lfwView1Data } from "./lfw_data.ts";
 * const data = await lfwView1Data({ dir: "lfw", size: 56, cacheDir: "data/cache/crops", skipIncomplete: true });
 * console.log(data.numClasses, data.count, data.validation[0].pairs.length);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type CropSource, loadOrBuildCropCache } from "../data/crop_cache.ts";
import { LFW_LANDMARK_FRAME } from "../data/landmarks.ts";
import { type ImageRef, lfwRelativePath, openLfw } from "../data/lfw.ts";
import { resolveLfwDir } from "../data/lfw_location.ts";
import type { PairSet, TrainingData } from "./data.ts";

export interface LfwView1Options {
  dir: string;
  size: number;
  cacheDir: string;
  skipIncomplete: boolean;
  /** Keep training identities with at least this many images (default 1: all). */
  minImages?: number;
  quiet?: boolean;
}

/** Says on stderr what `skipIncomplete` dropped (also recorded in run.json): a drop is never silent. */
function noteDropped(dir: string, images: number, pairs: number): void {
  if (images || pairs) {
    console.error(`${dir}: dropped ${images} image(s) and ${pairs} pair(s) with a missing image (skipIncomplete)`);
  }
}

/** Opens View 1 of an LFW-layout folder, building (or reusing) the aligned-crop caches. */
export async function lfwView1Data(o: LfwView1Options): Promise<TrainingData> {
  const lfw = await openLfw(await resolveLfwDir(o.dir));
  const view1 = await lfw.view1({ skipIncomplete: o.skipIncomplete });
  const { test, droppedImages } = view1;
  noteDropped(o.dir, droppedImages.length, test.dropped.length);
  const train = view1.train.filter((id) => id.images.length >= (o.minImages ?? 1))
    .map((id, label) => ({ ...id, label }));
  const source = (ref: ImageRef): CropSource => ({
    id: lfwRelativePath(ref, lfw.ext),
    path: lfw.imagePath(ref),
    landmarks: lfw.fileLandmarks(ref),
    frame: LFW_LANDMARK_FRAME,
  });
  const refs = train.flatMap((id) => id.images);
  const labels = Int32Array.from(train.flatMap((id) => id.images.map(() => id.label)));
  const trainCache = await loadOrBuildCropCache(o.cacheDir, "view1-train", o.size, refs.map(source), {
    quiet: o.quiet,
  });

  const testIds = [
    ...new Set(test.pairs.flatMap((p) => [lfwRelativePath(p.a, lfw.ext), lfwRelativePath(p.b, lfw.ext)])),
  ]
    .sort();
  const byId = new Map(test.pairs.flatMap((p) => [p.a, p.b]).map((r) => [lfwRelativePath(r, lfw.ext), r]));
  const testCache = await loadOrBuildCropCache(
    o.cacheDir,
    "view1-test",
    o.size,
    testIds.map((id) => source(byId.get(id)!)),
    {
      quiet: o.quiet,
    },
  );
  const tensorOf = (pixels: Float32Array, n: number) => tf.tensor4d(pixels, [n, o.size, o.size, 3]);
  const validation: PairSet = {
    name: "view1-test",
    images: {
      count: testCache.count,
      batch: (start, end) => {
        const idx = Array.from({ length: end - start }, (_, k) => start + k);
        return tensorOf(testCache.batch(idx), idx.length);
      },
    },
    pairs: test.pairs.map((
      p,
    ) => [testCache.indexOf(lfwRelativePath(p.a, lfw.ext)), testCache.indexOf(lfwRelativePath(p.b, lfw.ext))]),
    same: test.pairs.map((p) => p.same),
  };
  return {
    numClasses: train.length,
    size: o.size,
    count: refs.length,
    labels,
    batch: (indices, flips) => tensorOf(trainCache.batch(indices, flips), indices.length),
    validation: [validation],
    describe: () => ({
      kind: "lfw-view1",
      dir: o.dir,
      size: o.size,
      identities: train.length,
      minImages: o.minImages ?? 1,
      images: refs.length,
      testPairs: test.pairs.length,
      droppedImages: droppedImages.length,
      droppedPairs: test.dropped.length,
    }),
  };
}

/**
 * LFW View 2 (`pairs.txt`: 10 folds of 600 pairs, in fold order) as a {@link PairSet} through the same crop cache.
 * Its identities overlap View 1's training identities, so after training on `peopleDevTrain` it is not open-set:
 * report it as "View 2 (overlaps training identities)", the comparison the paper would not make.
 */
export async function lfwView2PairSet(o: LfwView1Options): Promise<PairSet> {
  const lfw = await openLfw(await resolveLfwDir(o.dir));
  const { pairs } = await lfw.view2({ skipIncomplete: o.skipIncomplete });
  noteDropped(o.dir, 0, pairs.dropped.length);
  const byId = new Map(pairs.pairs.flatMap((p) => [p.a, p.b]).map((r) => [lfwRelativePath(r, lfw.ext), r]));
  const ids = [...byId.keys()].sort();
  const cache = await loadOrBuildCropCache(
    o.cacheDir,
    "view2",
    o.size,
    ids.map((id) => {
      const ref = byId.get(id)!;
      return { id, path: lfw.imagePath(ref), landmarks: lfw.fileLandmarks(ref), frame: LFW_LANDMARK_FRAME };
    }),
    { quiet: o.quiet },
  );
  return {
    name: "view2",
    images: {
      count: cache.count,
      batch: (start, end) => {
        const idx = Array.from({ length: end - start }, (_, k) => start + k);
        return tf.tensor4d(cache.batch(idx), [idx.length, o.size, o.size, 3]);
      },
    },
    pairs: pairs.pairs.map((
      p,
    ) => [cache.indexOf(lfwRelativePath(p.a, lfw.ext)), cache.indexOf(lfwRelativePath(p.b, lfw.ext))]),
    same: pairs.pairs.map((p) => p.same),
    foldOrdered: true,
  };
}
