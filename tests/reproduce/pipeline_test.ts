/**
 * The reproduce pipeline (lib/reproduce/pipeline.ts): the profile fields decide what the task decided by comparing
 * profile names, and each branch runs in process on a toy profile (grid in a scratch folder, committed reference
 * read instead of training, another profile's reference shown with its follow-ups, missing data refused).
 */
import assert from "node:assert/strict";
import { writeResults } from "../../lib/experiments/reference.ts";
import {
  investigationsOf,
  loadExperiments,
  loadProfile,
  type Profile,
  profileNames,
  withSyntheticDir,
} from "../../lib/experiments/spec.ts";
import { UsageError } from "../../lib/cli/flags.ts";
import { reproduce, reproduceDecisions, type ReproduceOptions } from "../../lib/reproduce/pipeline.ts";
import { fabricateResults, toyDataset, withTempDir } from "./../experiments/fixtures.ts";

const BACKEND = { name: "cpu", message: "backend: cpu" };

/** What tasks/reproduce.ts decided before the profile fields, by comparing profile names (the oracle). */
function byName(name: string, loaded: Profile, o: ReproduceOptions) {
  const data = o.data ?? "data/cache/synthetic";
  const steps = o.trainSteps ?? 1000;
  return {
    profile: name === "smoke" ? withSyntheticDir(loaded, data) : loaded,
    readReference: name !== "smoke",
    writeReference: name !== "smoke",
    scratch: name === "smoke" && !o.work,
    requireData: name === "paper",
    singleRun: name === "smoke" && steps > 0
      ? { config: o.trainConfig ?? "configs/train/cpu-synthetic-sfnet10-sphereface2.json", steps, data }
      : null,
    showReference: name === "smoke" && !o.skipExperiments ? "cpu" : null,
    sectionTitle: name === "smoke"
      ? "Trained experiments, smoke scale (paths executed; the numbers mean nothing at 40 steps)"
      : `Trained experiments: the kit's reproduction of the paper's Section 3 (profile \`${name}\`)`,
  };
}

Deno.test("reproduce: the committed profiles' fields decide what the profile names decided", async () => {
  const variants: Array<Partial<ReproduceOptions>> = [
    {},
    { skipExperiments: true },
    { work: "w", data: "elsewhere" },
    { trainSteps: 0 },
    { trainSteps: 7, trainConfig: "x.json" },
  ];
  for (const name of await profileNames()) {
    const loaded = await loadProfile(name);
    for (const v of variants) {
      const o: ReproduceOptions = { profile: name, out: "o", points: 3, backend: BACKEND, ...v };
      assert.deepEqual(reproduceDecisions(name, loaded, o), byName(name, loaded, o), `${name} ${JSON.stringify(v)}`);
    }
    // Follow-ups were read for cpu only: no other committed profile has any.
    if (name !== "cpu") assert.deepEqual(await investigationsOf(name), [], name);
  }
});

/** A temporary experiments folder: a two-row comparison family and `profiles`. */
async function setup(dir: string, profiles: (toy: unknown) => Record<string, unknown>) {
  await Deno.writeTextFile(
    `${dir}/comparison.json`,
    JSON.stringify({
      family: "comparison",
      title: "T",
      question: "Q?",
      claim: "C.",
      axis: "loss",
      head: "sec31.sphereface2",
      rows: [{ label: "SF2", role: "paper" }, { label: "Soft", head: "sec31.softmax" }],
    }),
  );
  const toy = await toyDataset(dir);
  await Deno.writeTextFile(`${dir}/profiles.json`, JSON.stringify(profiles({ name: toy.name, config: toy.config })));
  await Deno.mkdir(`${dir}/reference`);
}

const base = { seeds: [0], families: ["comparison"] };

Deno.test("reproduce: a scratch profile trains its grid in a removed temporary folder and titles its section", async () => {
  await withTempDir(async (dir) => {
    await setup(dir, (toy) => ({
      mini: {
        ...base,
        description: "toy",
        datasets: [toy],
        reproduce: { reference: false, scratch: true, sectionTitle: "Toy grid" },
      },
    }));
    const before = [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((e) =>
      e.name.startsWith("sf2-mini-")
    );
    const r = await reproduce({
      profile: "mini",
      out: `${dir}/out`,
      points: 5,
      backend: BACKEND,
      experimentsDir: dir,
      referenceDir: `${dir}/reference`,
    });
    assert.deepEqual(r.summary.experiments, { profile: "mini", records: 3 });
    assert.deepEqual(Object.keys(r.summary.claims as object), ["comparison/toy"]);
    assert.equal(r.summary.training, null);
    const report = await Deno.readTextFile(`${dir}/out/report.md`);
    assert.match(report, /Toy grid/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/reference`)], [], "reference: false writes no reference");
    const after = [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((e) => e.name.startsWith("sf2-mini-"));
    assert.equal(after.length, before.length, "the scratch folder is removed");
  });
});

Deno.test("reproduce: a committed reference is read instead of training; a shown reference comes first with its follow-ups", async () => {
  await withTempDir(async (dir) => {
    await setup(dir, (toy) => ({
      main: { ...base, description: "main", datasets: [toy] },
      follow: { ...base, description: "follow-up", investigates: "main", datasets: [toy] },
      shows: {
        ...base,
        description: "shows main",
        datasets: [toy],
        reproduce: { reference: false, showReference: "main" },
      },
    }));
    const experiments = await loadExperiments(dir, ["comparison"]);
    const results = (profile: string) => ({ ...fabricateResults(experiments, { datasets: ["toy"] }), profile });
    await writeResults(`${dir}/reference/experiments-main.json`, results("main"));
    await writeResults(`${dir}/reference/experiments-follow.json`, results("follow"));
    const options = {
      out: `${dir}/out`,
      points: 5,
      backend: BACKEND,
      experimentsDir: dir,
      referenceDir: `${dir}/reference`,
    };

    // main: its reference, no training (the fabricated records exist for no run folder), the follow-up after it.
    const main = await reproduce({ ...options, profile: "main", work: `${dir}/work-main` });
    assert.deepEqual(main.summary.experiments, { profile: "main", records: 9 });
    let report = await Deno.readTextFile(`${dir}/out/report.md`);
    assert.match(report, /Investigation \(profile `follow`, a follow-up of `main`\)/);
    assert.ok(!(await Deno.stat(`${dir}/work-main`).catch(() => null)), "nothing trained");

    // shows: its own grid trained (in --work), main's reference first, claims read on main's numbers.
    const shows = await reproduce({ ...options, profile: "shows", work: `${dir}/work-shows` });
    assert.deepEqual(shows.summary.experiments, { profile: "shows", records: 3 });
    report = await Deno.readTextFile(`${dir}/out/report.md`);
    const first = report.indexOf("committed `main` reference"), own = report.indexOf("(profile `shows`)");
    assert.ok(first >= 0 && own > first, "main's reference first, then the profile's grid");
    assert.match(report, /a follow-up of `main`/);
    assert.deepEqual(shows.summary.claims, main.summary.claims);
    assert.deepEqual([...Deno.readDirSync(`${dir}/reference`)].map((e) => e.name).sort(), [
      "experiments-follow.json",
      "experiments-main.json",
    ]);
  });
});

Deno.test("reproduce: a requireData profile refuses to train when its data is missing, naming each file", async () => {
  await withTempDir(async (dir) => {
    await setup(dir, () => ({
      needs: {
        ...base,
        description: "needs data",
        datasets: [{
          name: "vgg",
          config: `${dir}/list.json`,
          overrides: [],
        }],
        reproduce: { requireData: true, reference: false },
      },
    }));
    await toyDataset(
      dir,
      {
        data: { kind: "list", root: `${dir}/absent-root`, list: `${dir}/absent.txt`, size: 16 },
      },
      "vgg",
      "list.json",
    );
    const err = await reproduce({
      profile: "needs",
      out: `${dir}/out`,
      points: 5,
      backend: BACKEND,
      experimentsDir: dir,
      referenceDir: `${dir}/reference`,
    }).then(() => null, (e) => e);
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /profile needs needs data that is missing:\n {2}.*absent-root: training images/);
    assert.match(err.message, /absent\.txt: training list/);
    assert.ok(!(await Deno.stat(`${dir}/out`).catch(() => null)), "no results folder");
  });
});

Deno.test("reproduce: a profile naming an unknown reference or follow-up target is an error naming the field", async () => {
  await withTempDir(async (dir) => {
    await setup(dir, (toy) => ({
      a: { ...base, description: "a", datasets: [toy], reproduce: { showReference: "nope" } },
    }));
    await assert.rejects(
      () => loadProfile("a", dir),
      /profiles\.json: a\.reproduce\.showReference: no profile "nope"; allowed: a/,
    );
  });
});
