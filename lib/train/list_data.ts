/**
 * OpenSphere's own data format as {@link TrainingData}: a training list of pre-aligned images
 * (`relative/path label`, VGGFace2 112×112 in the paper) decoded batch by batch (no cache: the paper's sets do not
 * fit in memory), and pair lists (`label path0 path1`) for validation.
 *
 * @example
 * ```ts
 * import { listData } from "./list_data.ts";
 * const data = await listData({ root: "data/vggface2", list: "data/vggface2/train.txt", size: 112, valPairs: [] });
 * ```
 * @module
 */
import { join } from "node:path";
import { readPairList, readTrainList } from "../data/formats.ts";
import { readImage, type RgbImage, toInputBatch } from "../data/image.ts";
import type { PairSet, TrainingData } from "./data.ts";

export interface ListDataOptions {
  root: string;
  list: string;
  size: number;
  valRoot?: string;
  valPairs: readonly string[];
}

async function readAligned(path: string, size: number): Promise<RgbImage> {
  const img = await readImage(path);
  if (img.width !== size || img.height !== size) {
    throw new Error(`${path}: image is ${img.width}×${img.height}, data.size is ${size} (images must be pre-aligned)`);
  }
  return img;
}

/** Opens a training list (and pair lists), checking that every listed image exists. */
export async function listData(o: ListDataOptions): Promise<TrainingData> {
  const set = await readTrainList(o.list, o.root);
  const paths = set.items.map((it) => join(o.root, it.path));
  const validation: PairSet[] = [];
  for (const file of o.valPairs) {
    const root = o.valRoot ?? o.root;
    const { pairs, paths: valPaths } = await readPairList(file, root);
    const index = new Map(valPaths.map((p, i) => [p, i]));
    validation.push({
      name: file.split("/").pop()!,
      images: {
        count: valPaths.length,
        batch: async (start, end) =>
          toInputBatch(await Promise.all(valPaths.slice(start, end).map((p) => readAligned(join(root, p), o.size)))),
      },
      pairs: pairs.map((p) => [index.get(p.path0)!, index.get(p.path1)!]),
      same: pairs.map((p) => p.same),
    });
  }
  return {
    numClasses: set.identities.length,
    size: o.size,
    count: set.items.length,
    labels: Int32Array.from(set.items.map((it) => it.label)),
    batch: async (indices, flips) =>
      toInputBatch(await Promise.all(indices.map((i) => readAligned(paths[i], o.size))), flips),
    validation,
    describe: () => ({ kind: "list", list: o.list, identities: set.identities.length, images: set.items.length }),
  };
}
