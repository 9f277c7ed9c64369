import { expect } from "expect";
import { readImage } from "../../lib/data/image.ts";
import { landmarksFor, readLandmarkFile } from "../../lib/data/landmarks.ts";
import { fivePointsFrom68, loadFaceApi } from "../../lib/eval/peer_faceapi.ts";
import { lfwPath, lfwTest, useBackend } from "../shared.ts";

// Every 1000th entry of the landmark file (a fixed, unselected sample), plus two photos of one person.
const SAMPLE_EVERY = 1000;
const SAME_PERSON = ["George_W_Bush/George_W_Bush_0096.jpg", "George_W_Bush/George_W_Bush_0002.jpg"];

Deno.test("5 points from 68: eye centres, nose tip, mouth corners", () => {
  const pts = Array.from({ length: 68 }, (_, i) => [i, 2 * i] as [number, number]);
  expect(fivePointsFrom68(pts)).toEqual([38.5, 77, 44.5, 89, 30, 60, 48, 96, 54, 108]);
  expect(() => fivePointsFrom68(pts.slice(1))).toThrow(/expected 68 points/);
});

lfwTest("face-api detection + landmarks on LFW agree with the shipped 5-point landmarks", async () => {
  await useBackend("wasm");
  const peer = await loadFaceApi();
  const table = await readLandmarkFile(lfwPath("landmarks/lfw_landmark.txt"));
  const sample = [...table.keys()].filter((_, i) => i % SAMPLE_EVERY === 0);
  const perImage: number[] = [];
  for (const rel of sample) {
    const img = await readImage(lfwPath(`images/${rel}`));
    const face = await peer.describe(img);
    expect(face.descriptor.length).toBe(128);
    if (!face.detected) continue;
    const truth = landmarksFor(table, rel, img.width);
    let e = 0;
    for (let k = 0; k < 5; k++) {
      e += Math.hypot(face.fivePoints[2 * k] - truth[2 * k], face.fivePoints[2 * k + 1] - truth[2 * k + 1]) / 5;
    }
    perImage.push(e);
  }
  perImage.sort((a, b) => a - b);
  const median = perImage[perImage.length >> 1];
  const mean = perImage.reduce((a, b) => a + b, 0) / perImage.length;
  console.log(
    `face-api vs shipped landmarks, ${perImage.length}/${sample.length} LFW images detected (150 px): ` +
      `median ${median.toFixed(2)} px, mean ${mean.toFixed(2)} px`,
  );
  expect(perImage.length).toBeGreaterThanOrEqual(sample.length - 1);
  expect(median).toBeLessThan(3);
  expect(perImage.filter((e) => e < 5).length).toBeGreaterThanOrEqual(perImage.length - 2);

  const [a, b] = await Promise.all(
    SAME_PERSON.map(async (rel) => (await peer.describe(await readImage(lfwPath(`images/${rel}`)))).descriptor),
  );
  const other = (await peer.describe(await readImage(lfwPath(`images/${sample[0]}`)))).descriptor;
  const cos = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
  // Two photos of the same person are closer than photos of different people.
  expect(cos(a, b)).toBeGreaterThan(cos(a, other));
  expect(cos(a, b)).toBeGreaterThan(cos(b, other));
});
