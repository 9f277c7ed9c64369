/**
 * Behaviour unchanged by the config format: every train config, every planned job of every profile, the experiment
 * rows and the named heads resolve to the validated configs the kit produced before configs/train became base +
 * overrides and experiment rows became axes (tests/train/fixtures/config_snapshot.json holds their SHA-256, captured
 * from the full files). A change here changes results: the config hashes of the committed references with it.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../../lib/fs/sha256.ts";
import { canonicalJson, planJobs } from "../../lib/experiments/jobs.ts";
import { loadExperiments, loadProfile, profileNames } from "../../lib/experiments/spec.ts";
import { loadHeadCatalogue } from "../../lib/losses/config.ts";
import { loadTrainConfig } from "../../lib/train/config.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const snapshot = JSON.parse(await Deno.readTextFile(`${REPO}tests/train/fixtures/config_snapshot.json`));

Deno.test("config snapshot: every configs/train file resolves to the same validated config", async () => {
  const files = [...Deno.readDirSync(`${REPO}configs/train`)].filter((e) => e.isFile).map((e) => e.name).sort();
  assert.deepEqual(files, Object.keys(snapshot.train).sort());
  for (const file of files) {
    const config = await loadTrainConfig(`${REPO}configs/train/${file}`);
    assert.equal(await sha256Hex(JSON.stringify(config)), snapshot.train[file], file);
  }
});

Deno.test("config snapshot: every profile plans the same jobs with the same configs and hashes", async () => {
  const names = await profileNames();
  assert.deepEqual(names.sort(), Object.keys(snapshot.jobs).sort());
  for (const name of names) {
    const profile = await loadProfile(name);
    const jobs = await planJobs(profile, await loadExperiments(undefined, profile.families), "/w");
    const lines: string[] = [];
    for (const j of jobs) {
      lines.push(
        `${j.dataset.name}/${j.cell}/seed${j.seed} ${j.configHash} ${await sha256Hex(canonicalJson(j.config))}`,
      );
    }
    assert.equal(lines.length, snapshot.jobs[name].count, name);
    assert.equal(await sha256Hex(lines.join("\n")), snapshot.jobs[name].sha256, name);
  }
});

Deno.test("config snapshot: the experiment rows and the named heads validate as before", async () => {
  const experiments = (await loadExperiments()).map((e) => ({
    family: e.family,
    title: e.title,
    question: e.question,
    claim: e.claim,
    axis: e.axis,
    rows: e.rows.map((r) => ({ label: r.label, x: r.x, series: r.series, head: r.head, noise: r.noise })),
  }));
  assert.equal(await sha256Hex(JSON.stringify(experiments)), snapshot.experiments);
  const heads: Record<string, string> = {};
  for (const [name, head] of Object.entries(await loadHeadCatalogue())) heads[name] = JSON.stringify(head);
  assert.equal(await sha256Hex(JSON.stringify(heads)), snapshot.heads);
});
