import { expect } from "expect";
import { encodePng, readImage } from "../../lib/data/image.ts";
import { goldenPath, runDeno } from "../shared.ts";

const dir = goldenPath("alignment/");

Deno.test("deno task align: prints the golden matrix and writes the golden crop (from the lossless source)", async () => {
  const golden = JSON.parse(await Deno.readTextFile(`${dir}cases.json`)).cases[0];
  const tmp = await Deno.makeTempDir();
  try {
    const r = await runDeno([
      "tasks/align.ts",
      `${dir}${golden.source_png}`,
      "--landmarks",
      golden.landmarks.join(","),
      "--out",
      `${tmp}/crop.png`,
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    out.matrix.flat().forEach((v: number, i: number) =>
      expect(Math.abs(v - golden.matrix.flat()[i])).toBeLessThan(1e-6)
    );
    const crop = await readImage(`${tmp}/crop.png`), want = await readImage(`${dir}${golden.png}`);
    const d = crop.data.reduce((s, v, i) => s + Math.abs(v - want.data[i]), 0) / crop.data.length;
    expect(d).toBeLessThanOrEqual(2);
    expect([...Deno.readDirSync(tmp)].map((e) => e.name)).toEqual(["crop.png"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("deno task align: wrong landmark count exits 2; corrupt image exits 1 naming it, writing nothing", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const bad = await runDeno(["tasks/align.ts", "x.jpg", "--landmarks", "1,2,3"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--landmarks: expected 10 comma-separated numbers/);
    await Deno.writeFile(`${tmp}/broken.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const r = await runDeno([
      "tasks/align.ts",
      `${tmp}/broken.jpg`,
      "--landmarks",
      "1,1,9,1,5,5,2,9,8,9",
      "--out",
      `${tmp}/o.png`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.jpg: cannot decode image/);
    expect([...Deno.readDirSync(tmp)].map((e) => e.name)).toEqual(["broken.jpg"]);
    expect((await runDeno(["tasks/align.ts", "--landmarks", "1,1,9,1,5,5,2,9,8,9"])).code).toBe(2);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A 40×40 test image (PNG) in a fresh temp folder. */
async function testImage(): Promise<{ tmp: string; image: string }> {
  const tmp = await Deno.makeTempDir();
  const data = new Uint8Array(40 * 40 * 3).map((_, i) => (i * 37) % 251);
  await Deno.writeFile(`${tmp}/face.png`, await encodePng({ width: 40, height: 40, data }));
  return { tmp, image: `${tmp}/face.png` };
}

const LM = "12,14,28,14,20,22,14,30,26,30";

Deno.test("deno task align: non-finite, out-of-range or non-numeric landmarks exit 2 naming the value, writing nothing", async () => {
  const { tmp, image } = await testImage();
  const huge = await runDeno(["tasks/align.ts", image, "--landmarks", `1e308,${LM.slice(3)}`, "--out", `${tmp}/o.png`]);
  expect(huge.code).toBe(2);
  expect(huge.stderr).toMatch(/--landmarks: value 1 \(1e308\) is outside the image/);
  const nan = await runDeno(["tasks/align.ts", image, "--landmarks", LM.replace("20,22", "20,abc")]);
  expect(nan.code).toBe(2);
  expect(nan.stderr).toMatch(/--landmarks: value 6 \("abc"\) is not a (finite )?number/);
  const inf = await runDeno(["tasks/align.ts", image, "--landmarks", LM.replace("20,22", "20,Infinity")]);
  expect(inf.code).toBe(2);
  expect(inf.stderr).toMatch(/value 6 \("Infinity"\) is not a (finite )?number/);
  expect([...Deno.readDirSync(tmp)].map((e) => e.name)).toEqual(["face.png"]);
});

Deno.test("deno task align: --out writes the format its extension names (JPEG for .jpg), refuses an unknown one", async () => {
  const { tmp, image } = await testImage();
  const jpg = await runDeno(["tasks/align.ts", image, "--landmarks", LM, "--size", "16", "--out", `${tmp}/c.jpg`]);
  expect(jpg.code).toBe(0);
  const bytes = await Deno.readFile(`${tmp}/c.jpg`);
  expect([bytes[0], bytes[1], bytes[2]]).toEqual([0xff, 0xd8, 0xff]);
  const gif = await runDeno(["tasks/align.ts", image, "--landmarks", LM, "--out", `${tmp}/c.gif`]);
  expect(gif.code).toBe(2);
  expect(gif.stderr).toMatch(/--out: .*\.gif.*png, jpg/);
});

Deno.test("deno task align: a relative IMAGE given from another directory resolves there (INIT_CWD), not in the kit root", async () => {
  const { tmp } = await testImage();
  const r = await runDeno(["tasks/align.ts", "face.png", "--landmarks", LM, "--size", "16"], { INIT_CWD: tmp });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout.trim()).out).toBe(`${tmp}/face.aligned16.png`);
  await Deno.stat(`${tmp}/face.aligned16.png`);
});
