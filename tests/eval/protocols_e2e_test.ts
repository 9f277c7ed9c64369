import { expect } from "expect";
import { evaluateIjb } from "../../lib/eval/ijb.ts";
import { distractorArray, evaluateMegaface } from "../../lib/eval/megaface.ts";
import { buildProtocols, ijbFiles, type ProtocolIdentity } from "../../lib/eval/protocol_files.ts";
import { openLfw } from "../../lib/data/lfw.ts";
import { lfwPath, lfwTest, useBackend } from "../shared.ts";

/** Identities A0…A{n-1} with `k` images each, plus `singles` one-image identities. */
function fakeIdentities(n: number, k: number, singles: number): ProtocolIdentity[] {
  const out: ProtocolIdentity[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      name: `A${i}`,
      images: Array.from({ length: k }, (_, j) => `A${i}/${j}.jpg`),
    });
  }
  for (let i = 0; i < 3; i++) out.push({ name: `F${i}`, images: [`F${i}/0.jpg`, `F${i}/1.jpg`] });
  for (let i = 0; i < singles; i++) out.push({ name: `S${i}`, images: [`S${i}/0.jpg`] });
  return out;
}

/** Features: an identity direction plus noise (`noise` ≫ 1 makes them useless). */
function featureModel(dim: number, noise: number) {
  let s = 7;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const centres = new Map<string, Float32Array>();
  const cache = new Map<string, Float32Array>();
  return (name: string) => {
    const id = name.split("/")[0];
    if (!centres.has(id)) centres.set(id, Float32Array.from({ length: dim }, rand));
    if (!cache.has(name)) cache.set(name, centres.get(id)!.map((v) => v + noise * rand()));
    return cache.get(name)!;
  };
}

function runAll(identities: ProtocolIdentity[], featureOf: (name: string) => Float32Array) {
  const p = buildProtocols(identities, () => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { seed: 1 });
  const f = p.files;
  const ijb = evaluateIjb(ijbFiles(f), featureOf);
  return { p, ijb };
}

Deno.test("IJB-style protocol end to end: good features score high, random ones near chance", () => {
  const identities = fakeIdentities(40, 6, 50);
  const good = runAll(identities, featureModel(32, 0.2));
  expect(good.p.counts).toMatchObject({
    genuinePairs: 40,
    impostorPairs: 400,
    galleryG1: 20,
    galleryG2: 20,
    probes: 43,
  });
  expect(good.ijb.verification.openSphere["TPR@FPR=1e-1"]).toBeGreaterThan(95);
  const [g1, g2, merged] = good.ijb.identification;
  expect(g1.gallery).toBe("G1");
  expect(g1.matedProbes).toBe(20);
  expect(g1.ranks["rank-1"]).toBeGreaterThan(95);
  expect(g2.ranks["rank-1"]).toBeGreaterThan(95);
  expect(merged.protocol).toMatch(/merged/);
  const bad = runAll(identities, featureModel(32, 50));
  expect(bad.ijb.verification.openSphere.AUC).toBeLessThan(75);
  expect(bad.ijb.identification[0].ranks["rank-1"]).toBeLessThan(40);
});

Deno.test("MegaFace-style protocol end to end on generated lists", async () => {
  await useBackend("cpu");
  const identities = fakeIdentities(20, 5, 300);
  const { p } = runAll(identities, featureModel(16, 0.2));
  const probeLines = p.files["megaface_probes.txt"].trim().split("\n").map((l) => l.split(" "));
  const distractorNames = p.files["megaface_distractors.txt"].trim().split("\n");
  expect(probeLines.length).toBe(100);
  expect(distractorNames.length).toBe(300);
  for (const [noise, expectHigh] of [[0.2, true], [50, false]] as const) {
    const f = featureModel(16, noise);
    const unit = (v: Float32Array) => {
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const probes = {
      features: Float32Array.from(probeLines.flatMap(([img]) => Array.from(unit(f(img))))),
      dim: 16,
      identities: probeLines.map(([, name]) => Number(name.slice(1))),
    };
    const dist = Float32Array.from(distractorNames.flatMap((n) => Array.from(unit(f(n)))));
    const r = await evaluateMegaface(probes, distractorArray(dist, 16), { scales: [10, 100, 300], far: 1e-3 });
    if (expectHigh) expect(r.rank1[300]).toBeGreaterThan(90);
    else expect(r.rank1[300]).toBeLessThan(20);
  }
});

lfwTest("protocol files from real LFW people.txt: formats and counts", async () => {
  const lfw = await openLfw(lfwPath());
  const { identities } = await lfw.people("people.txt", { skipIncomplete: true });
  const list = identities.map((i) => ({
    name: i.name,
    images: i.images.map((r) => `${r.name}/${r.name}_${String(r.index).padStart(4, "0")}.jpg`),
  }));
  const p = buildProtocols(list, (img) => lfw.landmarks.get(img) ?? [], { seed: 3 });
  expect(p.counts.megafaceDistractors).toBeGreaterThan(4000); // LFW has 4,069 one-image people
  expect(p.counts.galleryG1 + p.counts.galleryG2).toBe(p.counts.genuinePairs);
  const face = p.files["lfw_name_5pts_score.txt"].split("\n")[0].split(" ");
  expect(face.length).toBe(12);
  const tid = p.files["lfw_face_tid_mid.txt"].split("\n")[0].split(" ");
  expect(tid.length).toBe(3);
  expect(p.files["lfw_1N_gallery_G1.csv"].split("\n")[0]).toBe("TEMPLATE_ID,SUBJECT_ID,FILENAME");
  // Same seed, same files.
  const again = buildProtocols(list, (img) => lfw.landmarks.get(img) ?? [], { seed: 3 });
  expect(again.files["lfw_template_pair_label.txt"]).toBe(p.files["lfw_template_pair_label.txt"]);
});
