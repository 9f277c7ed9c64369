import { expect } from "expect";
import { readImage } from "../../lib/data/image.ts";
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
