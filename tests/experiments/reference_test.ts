/**
 * The committed reference results are current: every job the `cpu` profile plans today has a record in
 * data/reference/experiments-cpu.json with the same config hash (a change to an experiment row, a base config or the
 * config schema makes the reference stale, and this test says to retrain it), and the notebooks' default path reads it.
 */
import assert from "node:assert/strict";
import { checkClaims, VERDICTS } from "../../lib/experiments/claims.ts";
import { planJobs } from "../../lib/experiments/jobs.ts";
import { readReference, referencePath } from "../../lib/experiments/reference.ts";
import { FAMILIES, investigationsOf, loadExperiments, loadProfile } from "../../lib/experiments/spec.ts";
import { JUPYTER_DISPLAY } from "../../lib/render/display.ts";
import { experimentResults, followUpDisplays } from "../../lib/notebook/experiments.ts";

// The cpu grid and every follow-up of it: each must have a committed, current reference.
for (const name of ["cpu", ...await investigationsOf("cpu")]) {
  Deno.test(`reference: experiments-${name}.json holds a record for every job of the profile, hashes current`, async () => {
    const results = await readReference(name);
    assert.ok(results, `${referencePath(name)} is missing: run deno task experiments --profile ${name}`);
    const profile = await loadProfile(name);
    const jobs = await planJobs(profile, await loadExperiments(undefined, profile.families), "/nonexistent");
    const key = (d: string, c: string, s: number) => `${d}/${c}/seed${s}`;
    const records = new Map(results.records.map((r) => [key(r.dataset, r.cell, r.seed), r]));
    const stale: string[] = [];
    for (const job of jobs) {
      const r = records.get(key(job.dataset.name, job.cell, job.seed));
      if (!r || r.configHash !== job.configHash) stale.push(key(job.dataset.name, job.cell, job.seed));
    }
    assert.deepEqual(
      stale,
      [],
      `${stale.length} jobs of the ${name} profile have no current record in ${referencePath(name)} ` +
        `(retrain: deno task experiments --profile ${name} --recompute)`,
    );
    assert.equal(results.records.length, jobs.length);
    assert.deepEqual(results.seeds, profile.seeds);
    for (const r of results.records) assert.match(r.kitCommit, /^[0-9a-f]{40}$/);
    assert.ok(results.jobSeconds > 0 && results.machine.length > 0 && results.backend.length > 0);
  });
}

Deno.test("reference: a verdict for every family and dataset; the notebooks' default path reads it", async () => {
  const experiments = await loadExperiments();
  const results = (await readReference("cpu"))!;
  const claims = checkClaims(results, experiments);
  assert.equal(claims.length, FAMILIES.length * results.datasets.length);
  for (const c of claims) assert.ok((VERDICTS as readonly string[]).includes(c.verdict), c.verdict);
  const nb = await experimentResults(["lambda", "t"], { source: "reference", profile: "cpu" });
  assert.equal(nb.results.records.length, results.records.length);
  assert.deepEqual(nb.experiments.map((e) => e.family), ["lambda", "t"]);
  assert.equal(nb.claims.length, 2 * results.datasets.length);
});

Deno.test("notebooks' retrain path: another synthetic folder (experimentsData) and a work folder relative to the kit's root", async () => {
  // In a child process run from notebooks/ (as a notebook's kernel is): experimentResults changes the working folder
  // while it trains, which must not happen inside this test process beside other test files.
  const root = new URL("../../", import.meta.url).pathname;
  const work = `results/experiments/test-notebook-data-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "../tests/experiments/notebook_retrain_child.ts", work, "data/cache/synthetic"],
      cwd: `${root}notebooks`,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    assert.equal(r.cwd, `${root}notebooks`, "the working folder is restored");
    assert.equal(r.overrides.at(-1), "--data.dir=data/cache/synthetic");
    assert.equal(r.records, 5 + 1); // five t rows + the random-init control, one seed
    await Deno.stat(`${root}${work}/runs/synthetic`);
  } finally {
    await Deno.remove(`${root}${work}`, { recursive: true }).catch(() => {});
  }
});

Deno.test("followUpDisplays: a heading and the family per dataset for each committed follow-up that trains it", async () => {
  const experiments = await loadExperiments();
  for (const e of experiments) {
    const followUps = [];
    for (const name of await investigationsOf("cpu")) {
      const p = await loadProfile(name);
      if (p.families.includes(e.family)) followUps.push({ name, datasets: p.datasets.length });
    }
    const shown = await followUpDisplays(e, { source: "reference", profile: "cpu" });
    assert.equal(shown.length, followUps.reduce((n, f) => n + 1 + f.datasets, 0), e.family);
    const headings = shown.map((d) => String(d[JUPYTER_DISPLAY]()["text/plain"]))
      .filter((t) => t.startsWith("#### Follow-up"));
    assert.deepEqual(headings.map((h) => h.match(/`([^`]+)`/)![1]), followUps.map((f) => f.name), e.family);
  }
  // t has no follow-up; a retrained grid shows none.
  assert.deepEqual(
    await followUpDisplays(experiments.find((e) => e.family === "t")!, { source: "reference", profile: "cpu" }),
    [],
  );
  assert.deepEqual(await followUpDisplays(experiments[0], { source: "retrain", profile: "cpu" }), []);
});
