import assert from "node:assert/strict";
import { expect } from "expect";
import {
  cellId,
  distinctCells,
  EXPERIMENTS_DIR,
  ExperimentSchema,
  FAMILIES,
  investigationsOf,
  loadExperiment,
  loadExperiments,
  loadProfile,
  profileNames,
} from "../../lib/experiments/spec.ts";
import { parseHeadConfig } from "../../lib/losses/config.ts";

/** A valid experiment file's content, to be broken by the tests. */
function experimentJson(family = "lambda", head: Record<string, unknown> = { type: "sphereface2", lambda: 0.5 }) {
  return {
    family,
    title: "T",
    question: "Q?",
    claim: "C.",
    axis: "λ",
    rows: [{ label: "a", x: 0.5, head }],
  };
}

/** The message a promise rejects with; fails when it resolves. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected a rejection");
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sf2-spec-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("spec: the five committed families load, validate and come back in FAMILIES order", async () => {
  const experiments = await loadExperiments();
  assert.deepEqual(experiments.map((e) => e.family), [...FAMILIES]);
  assert.deepEqual(FAMILIES, ["lambda", "t", "margins", "comparison", "noise"]);
  const rows = Object.fromEntries(experiments.map((e) => [e.family, e.rows.length]));
  assert.deepEqual(rows, { lambda: 4, t: 5, margins: 4, comparison: 6, noise: 12 });
  for (const e of experiments) {
    for (const r of e.rows) {
      // Defaults are filled in: noise 0 where absent, the head's defaults (gradForm, angle clipping).
      assert.equal(typeof r.noise, "number", `${e.family} ${r.label}`);
      if (r.head.type === "sphereface2") assert.ok(r.head.gradForm === "detached" || r.head.gradForm === "through-g");
    }
  }
  // The axis families have a numeric x on every row; the noise family has a series on every row.
  for (const f of ["lambda", "t", "noise"]) {
    assert.ok(experiments.find((e) => e.family === f)!.rows.every((r) => typeof r.x === "number"), f);
  }
  assert.ok(experiments.find((e) => e.family === "noise")!.rows.every((r) => r.series), "noise series");
  // A subset of families, in the order asked.
  assert.deepEqual((await loadExperiments(undefined, ["noise", "t"])).map((e) => e.family), ["noise", "t"]);
});

Deno.test("spec: the committed profiles load (smoke, cpu, paper) with their defaults", async () => {
  const names = await profileNames();
  for (const name of ["smoke", "cpu", "paper"]) assert.ok(names.includes(name), `profile ${name} in ${names}`);
  // Every committed profile validates.
  for (const name of names) assert.ok((await loadProfile(name)).seeds.length > 0, name);
  const smoke = await loadProfile("smoke");
  assert.deepEqual(smoke.seeds, [0]);
  assert.deepEqual(smoke.families, [...FAMILIES]);
  assert.equal(smoke.datasets.length, 1);
  assert.deepEqual(smoke.datasets[0].overrides, []);
  assert.equal(smoke.datasets[0].view2, false);
  assert.equal(smoke.datasets[0].synthetic, true);
  const cpu = await loadProfile("cpu");
  assert.deepEqual(cpu.seeds, [0, 1, 2]);
  assert.deepEqual(cpu.datasets.map((d) => [d.name, d.view2]), [["synthetic", false], ["lfw", true]]);
  const paper = await loadProfile("paper");
  assert.deepEqual(paper.datasets.map((d) => d.name), ["vggface2"]);
});

Deno.test("spec: investigationsOf lists the profiles that follow up another one, in file order", async () => {
  await withTempDir(async (dir) => {
    const p = (investigates?: string) => ({
      description: "d",
      seeds: [0],
      datasets: [{ name: "x", config: "c.json" }],
      ...(investigates ? { investigates } : {}),
    });
    await Deno.writeTextFile(
      `${dir}/profiles.json`,
      JSON.stringify({ cpu: p(), smoke: p(), "b-long": p("cpu"), other: p("smoke"), "a-long": p("cpu") }),
    );
    assert.deepEqual(await investigationsOf("cpu", dir), ["b-long", "a-long"]);
    assert.deepEqual(await investigationsOf("smoke", dir), ["other"]);
    assert.deepEqual(await investigationsOf("nope", dir), []);
    assert.equal((await loadProfile("b-long", dir)).investigates, "cpu");
  });
  // The committed follow-ups name an existing profile.
  const names = await profileNames();
  for (const name of names) {
    const of = (await loadProfile(name)).investigates;
    if (of) assert.ok(names.includes(of), `${name} investigates unknown profile ${of}`);
  }
});

Deno.test("spec: loadProfile of an unknown name names the file and lists the allowed ones", async () => {
  const allowed = (await profileNames()).join(", ");
  await expect(loadProfile("nope")).rejects.toThrow(
    `${EXPERIMENTS_DIR}/profiles.json: no profile "nope"; allowed: ${allowed}`,
  );
  await expect(loadProfile("nope")).rejects.toThrow(/allowed: smoke, cpu, paper\b/);
});

Deno.test("spec: a bad profile field is reported with the file and the field's path", async () => {
  await withTempDir(async (dir) => {
    const profiles = {
      ok: { description: "d", seeds: [0], datasets: [{ name: "x", config: "c.json" }] },
      bad: { description: "d", seeds: [0], datasets: [{ name: "Upper Case", config: "c.json" }] },
    };
    await Deno.writeTextFile(`${dir}/profiles.json`, JSON.stringify(profiles));
    assert.match(
      await rejection(loadProfile("ok", dir)),
      new RegExp(`^${dir}/profiles\\.json: bad\\.datasets\\.0\\.name: `),
    );
  });
});

Deno.test("spec: errors name the file and the field (bad family, head λ 1.5, unknown key, invalid JSON)", async () => {
  await withTempDir(async (dir) => {
    const write = (name: string, value: unknown) =>
      Deno.writeTextFile(`${dir}/${name}`, typeof value === "string" ? value : JSON.stringify(value));

    await write("family.json", experimentJson("lamda"));
    const family = await rejection(loadExperiment(`${dir}/family.json`));
    assert.match(family, new RegExp(`^${dir}/family\\.json: family: `));

    await write("lambda15.json", experimentJson("lambda", { type: "sphereface2", lambda: 1.5 }));
    const lambda = await rejection(loadExperiment(`${dir}/lambda15.json`));
    assert.match(lambda, new RegExp(`^${dir}/lambda15\\.json: rows\\.0\\.head\\.lambda: .*<1`));

    await write("margin.json", experimentJson("lambda", { type: "sphereface2", variant: "M", m: 0.4 }));
    const margin = await rejection(loadExperiment(`${dir}/margin.json`));
    assert.match(margin, /margin\.json: rows\.0\.head\.m: m must be in \[1, 4\.0000\] for variant M/);

    const extra = experimentJson();
    (extra.rows[0] as Record<string, unknown>).nosie = 0.2;
    await write("extra.json", extra);
    const unknown = await rejection(loadExperiment(`${dir}/extra.json`));
    assert.match(unknown, /extra\.json: rows\.0: .*nosie/);

    await write("noise.json", { ...experimentJson(), rows: [{ label: "a", head: { type: "arcface" }, noise: 1.2 }] });
    const noise = await rejection(loadExperiment(`${dir}/noise.json`));
    assert.match(noise, /noise\.json: rows\.0\.noise: /);

    await write("empty.json", { ...experimentJson(), rows: [] });
    assert.match(await rejection(loadExperiment(`${dir}/empty.json`)), /empty\.json: rows: /);

    await write("broken.json", "{ not json");
    const broken = await rejection(loadExperiment(`${dir}/broken.json`));
    assert.match(broken, new RegExp(`^${dir}/broken\\.json: not valid JSON`));

    const missing = await rejection(loadExperiment(`${dir}/absent.json`));
    assert.match(missing, new RegExp(`^${dir}/absent\\.json: cannot read`));
  });
});

Deno.test("spec: loadExperiments checks that each file holds its own family", async () => {
  await withTempDir(async (dir) => {
    for (const f of FAMILIES) {
      await Deno.writeTextFile(`${dir}/${f}.json`, await Deno.readTextFile(`${EXPERIMENTS_DIR}/${f}.json`));
    }
    assert.equal((await loadExperiments(dir)).length, 5);
    await Deno.writeTextFile(`${dir}/t.json`, JSON.stringify(experimentJson("margins")));
    await expect(loadExperiments(dir)).rejects.toThrow(`${dir}/t.json: family: expected "t", got "margins"`);
    await Deno.writeTextFile(`${dir}/t.json`, await Deno.readTextFile(`${EXPERIMENTS_DIR}/t.json`));
    // Only the families asked for are read.
    assert.deepEqual((await loadExperiments(dir, ["lambda"])).map((e) => e.family), ["lambda"]);
    await Deno.remove(`${dir}/noise.json`);
    await expect(loadExperiments(dir)).rejects.toThrow(`${dir}/noise.json: cannot read`);
  });
});

const head = (input: Record<string, unknown>) => parseHeadConfig(input);

Deno.test("spec: cellId is readable and stable (same head → same id, whatever the key order or defaults)", () => {
  const paper = head({ type: "sphereface2", variant: "C", lambda: 0.7, r: 40, m: 0.4, t: 3, lw: 10 });
  assert.equal(cellId(paper, 0), "sphereface2-C-l0.7-r40-m0.4-t3");
  assert.equal(cellId(head({ t: 3, lw: 10, type: "sphereface2" }), 0), "sphereface2-C-l0.7-r40-m0.4-t3");
  assert.equal(cellId(paper, 0), cellId(structuredClone(paper), 0));
  assert.equal(cellId(head({ type: "arcface", s: 30, m: 0.5 }), 0.2), "arcface-s30-m0.5-noise0.2");
  assert.equal(cellId(head({ type: "softmax" }), 0), "softmax");
  assert.equal(cellId(head({ type: "softmax", bias: false }), 0), "softmax-nobias");
  assert.equal(cellId(head({ type: "normface" }), 0), "normface-s30");
  assert.equal(
    cellId(head({ type: "sphereface2", gradForm: "through-g", lw: 50 }), 0.6),
    "sphereface2-C-l0.7-r40-m0.4-t3-lw50-through-g-noise0.6",
  );
  // Floating-point noise in a value does not change the id.
  assert.equal(
    cellId(head({ type: "sphereface2", lambda: 0.1 + 0.2 }), 0),
    cellId(head({ type: "sphereface2", lambda: 0.3 }), 0),
  );
});

Deno.test("spec: cellId differs for every distinct head or noise ratio", () => {
  const variants: Array<[Record<string, unknown>, number]> = [
    [{ type: "sphereface2" }, 0],
    [{ type: "sphereface2" }, 0.2],
    [{ type: "sphereface2", variant: "A" }, 0],
    [{ type: "sphereface2", variant: "A", m: 0.4 }, 0],
    [{ type: "sphereface2", variant: "M" }, 0],
    [{ type: "sphereface2", lambda: 0.5 }, 0],
    [{ type: "sphereface2", r: 30 }, 0],
    [{ type: "sphereface2", m: 0.3 }, 0],
    [{ type: "sphereface2", t: 1 }, 0],
    [{ type: "sphereface2", lw: 50 }, 0],
    [{ type: "sphereface2", gradForm: "through-g" }, 0],
    // The ICLR branch's angle clipping (1e-8, 3.14) against v0's defaults (1e-5, 3.14159), for A.
    [{ type: "sphereface2", variant: "A", angleEps: 1e-8 }, 0],
    [{ type: "sphereface2", variant: "A", angleMax: 3.14 }, 0],
    [{ type: "softmax" }, 0],
    [{ type: "softmax", bias: false }, 0],
    [{ type: "normface" }, 0],
    [{ type: "normface", s: 64 }, 0],
    [{ type: "sphereface" }, 0],
    [{ type: "sphereface", m: 1.7 }, 0],
    [{ type: "cosface" }, 0],
    [{ type: "cosface" }, 0.4],
    [{ type: "cosface", m: 0.4 }, 0],
    [{ type: "arcface" }, 0],
    [{ type: "arcface", s: 64 }, 0],
  ];
  const ids = variants.map(([h, noise]) => cellId(head(h), noise));
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    assert.ok(
      !seen.has(id),
      `${JSON.stringify(variants[i])} has the id of ${JSON.stringify(variants[seen.get(id)!])}: ${id}`,
    );
    seen.set(id, i);
  });
});

Deno.test("spec: distinctCells deduplicates the shared cells of the committed families (25 of 31 rows)", async () => {
  const experiments = await loadExperiments();
  assert.equal(experiments.reduce((n, e) => n + e.rows.length, 0), 31);
  // 31 rows: the paper's SphereFace2 (λ .7, r 40, m .4, t 3, noise 0) is in all five families (4 repeats), and
  // ArcFace and CosFace at noise 0 are in both comparison and noise (2 repeats): 31 − 6 = 25.
  const cells = distinctCells(experiments);
  assert.equal(cells.length, 25);
  assert.equal(new Set(cells.map((c) => c.id)).size, 25);
  const paper = "sphereface2-C-l0.7-r40-m0.4-t3";
  const families = experiments.filter((e) => e.rows.some((r) => cellId(r.head, r.noise) === paper));
  assert.deepEqual(families.map((e) => e.family), ["lambda", "t", "margins", "comparison", "noise"]);
  // First-appearance order: λ's rows first, its λ = .7 row third.
  assert.deepEqual(cells.slice(0, 4).map((c) => c.id), [
    "sphereface2-C-l0.3-r40-m0.4-t3",
    "sphereface2-C-l0.5-r40-m0.4-t3",
    paper,
    "sphereface2-C-l0.9-r40-m0.4-t3",
  ]);
  assert.equal(cells.filter((c) => c.noise > 0).length, 9);
  for (const c of cells) assert.equal(c.id, cellId(c.head, c.noise));
  // Per family: each family's own cells are distinct (no family repeats a setting).
  for (const e of experiments) assert.equal(distinctCells([e]).length, e.rows.length, e.family);
  // Deduplication is by setting, not by label.
  const twice = ExperimentSchema.parse({
    ...experimentJson("margins"),
    rows: [{ label: "a", head: { type: "cosface" } }, { label: "b", head: { type: "cosface", s: 30, m: 0.35 } }],
  });
  assert.deepEqual(distinctCells([twice]).map((c) => c.id), ["cosface-s30-m0.35"]);
  assert.deepEqual(distinctCells([]), []);
});

Deno.test("spec: a row names the field it varies (axis + x), heads by name, a typeless head laid over the family's", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/t.json`,
      JSON.stringify({
        ...experimentJson("t"),
        head: "sec31.sphereface2",
        rows: [
          { label: "t = 1", role: "baseline", axis: "head.t", x: 1 },
          { label: "t = 3", role: "paper", axis: "head.t", x: 3, noise: 0 },
          { label: "through g", head: { gradForm: "through-g" } },
          { label: "arc, noisy", head: "sec31.arcface", axis: "noise", x: 0.2 },
        ],
      }),
    );
    const e = await loadExperiment(`${dir}/t.json`);
    const paper = parseHeadConfig({ type: "sphereface2", variant: "C", lambda: 0.7, r: 40, m: 0.4, t: 3, lw: 10 });
    assert.deepEqual(e.rows.map((r) => [r.head, r.noise, r.x]), [
      [{ ...paper, t: 1 }, 0, 1],
      [paper, 0, 3],
      [{ ...paper, gradForm: "through-g" }, 0, undefined],
      [parseHeadConfig({ type: "arcface", s: 30, m: 0.5 }), 0.2, 0.2],
    ]);
    assert.deepEqual(e.rows.map((r) => r.role), ["baseline", "paper", undefined, undefined]);
  });
});

Deno.test("spec: a family without the rows its claim reads is an error naming the file, the role and why", async () => {
  await withTempDir(async (dir) => {
    for (const family of ["lambda", "t", "comparison", "noise"] as const) {
      const e = JSON.parse(await Deno.readTextFile(`${EXPERIMENTS_DIR}/${family}.json`));
      const removed = e.rows.find((r: { role?: string }) => r.role);
      e.rows = e.rows.filter((r: unknown) =>
        family === "noise" ? (r as { role?: string }).role !== "paper" : r !== removed
      );
      await Deno.writeTextFile(`${dir}/${family}.json`, JSON.stringify(e));
      const message = await rejection(loadExperiment(`${dir}/${family}.json`));
      assert.match(
        message,
        new RegExp(
          `^${dir}/${family}\\.json: rows: the ${family} claim needs .*role "${removed.role}" \\(.+\\), found 0`,
        ),
      );
    }
    // Head names are checked: the error names the file and the row.
    const bad = { ...experimentJson("margins"), rows: [{ label: "a", head: "sec31.nope" }] };
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify(bad));
    assert.match(
      await rejection(loadExperiment(`${dir}/bad.json`)),
      /bad\.json: rows\.0\.head: no head named "sec31\.nope"/,
    );
    // An axis needs its value.
    const noX = { ...experimentJson("margins"), rows: [{ label: "a", head: { type: "sphereface2" }, axis: "head.t" }] };
    await Deno.writeTextFile(`${dir}/nox.json`, JSON.stringify(noX));
    assert.match(
      await rejection(loadExperiment(`${dir}/nox.json`)),
      /nox\.json: rows\.0\.x: axis head\.t needs the value x/,
    );
  });
});
