import { expect } from "expect";
import { chunkSizes, joinColumns, localLabels, shardRanges, sliceColumns } from "../../lib/parallel/partition.ts";

Deno.test("shardRanges: contiguous blocks, Partial FC sizes, K not divisible by P", () => {
  for (const K of [2, 7, 13, 100, 101, 1000]) {
    for (let P = 1; P <= Math.min(K, 8); P++) {
      const ranges = shardRanges(K, P);
      expect(ranges.length).toBe(P);
      let next = 0;
      ranges.forEach((r, i) => {
        expect(r.start).toBe(next);
        expect(r.size).toBe(Math.floor(K / P) + (i < K % P ? 1 : 0));
        expect(r.start).toBe(Math.floor(K / P) * i + Math.min(i, K % P));
        next += r.size;
      });
      expect(next).toBe(K);
    }
  }
  expect(shardRanges(7, 3)).toEqual([{ start: 0, size: 3 }, { start: 3, size: 2 }, { start: 5, size: 2 }]);
  expect(() => shardRanges(3, 4)).toThrow(/without classes/);
  expect(() => shardRanges(10, 0)).toThrow(/shards must be/);
});

Deno.test("localLabels maps the block to local indices and everything else to -1", () => {
  const ranges = shardRanges(7, 3);
  const labels = new Int32Array([0, 2, 3, 4, 5, 6]);
  expect([...localLabels(labels, ranges[0])]).toEqual([0, 2, -1, -1, -1, -1]);
  expect([...localLabels(labels, ranges[1])]).toEqual([-1, -1, 0, 1, -1, -1]);
  expect([...localLabels(labels, ranges[2])]).toEqual([-1, -1, -1, -1, 0, 1]);
});

Deno.test("sliceColumns and joinColumns are inverse", () => {
  const rows = 3;
  const cols = 7;
  const m = Float32Array.from({ length: rows * cols }, (_, i) => i);
  const ranges = shardRanges(cols, 3);
  const blocks = ranges.map((r) => sliceColumns(m, rows, cols, r));
  expect([...blocks[1]]).toEqual([3, 4, 10, 11, 17, 18]);
  expect([...joinColumns(blocks, rows, ranges)]).toEqual([...m]);
  expect(() => sliceColumns(m, 2, cols, ranges[0])).toThrow(/expected 2×7/);
});

Deno.test("chunkSizes: cover the block, at most `chunk` each, no one-class chunk", () => {
  expect(chunkSizes(13, 16)).toEqual([13]);
  expect(chunkSizes(13, 13)).toEqual([13]);
  expect(chunkSizes(13, 12)).toEqual([13]); // a one-class remainder joins the chunk before it
  expect(chunkSizes(13, 5)).toEqual([5, 5, 3]);
  expect(chunkSizes(5, 2)).toEqual([2, 3]);
  expect(chunkSizes(4, 1)).toEqual([2, 2]);
  for (const k of [2, 3, 7, 100, 16_385]) {
    for (const c of [2, 3, 16, 16_384]) {
      const sizes = chunkSizes(k, c);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(k);
      expect(sizes.every((s) => s >= 2 && s <= Math.max(c, 2) + 1)).toBe(true);
    }
  }
});
