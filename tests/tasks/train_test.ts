import { expect } from "expect";
import { readCheckpoint } from "../../lib/train/checkpoint.ts";
import { lastLine, REPO, runDeno } from "../shared.ts";
import { tinyRaw } from "../train/tiny.ts";

async function writeConfig(raw: Record<string, unknown>): Promise<string> {
  const file = `${await Deno.makeTempDir()}/tiny.json`;
  await Deno.writeTextFile(file, JSON.stringify(raw));
  return file;
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("train task: SIGKILL after the first checkpoint, --resume, final weights byte-identical to an uninterrupted run (wasm)", async () => {
  const config = await writeConfig(tinyRaw({
    train: { steps: 300, batchSize: 8, lr: 0.05, milestones: [150] },
    checkpoint: { every: 5 },
    validation: { every: 0, batchSize: 16 },
  }));
  const whole = await Deno.makeTempDir(), killed = await Deno.makeTempDir();
  const args = (
    out: string,
    ...more: string[]
  ) => ["run", "-A", "tasks/train.ts", config, "--out", out, "--backend", "wasm", "--quiet", ...more];

  const child = new Deno.Command(Deno.execPath(), { args: args(killed), cwd: REPO, stdout: "null", stderr: "piped" })
    .spawn();
  const deadline = Date.now() + 60_000;
  while (!(await exists(`${killed}/checkpoint.sf2`))) {
    if (Date.now() > deadline) throw new Error("no checkpoint within 60 s");
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  await child.stderr.cancel();
  expect(status.signal).toBe("SIGKILL");
  const at = (await readCheckpoint(`${killed}/checkpoint.sf2`)).header.state.step as number;
  expect(at).toBeGreaterThanOrEqual(5);
  expect(at).toBeLessThan(300); // the kill landed mid-run

  const resumed = await runDeno(args(killed, "--resume").slice(2));
  expect(resumed.code).toBe(0);
  expect(resumed.stderr).toMatch(new RegExp(`resuming tiny at step ${at}/300`));
  expect(JSON.parse(lastLine(resumed.stdout))).toMatchObject({ steps: 300 });

  const uninterrupted = await runDeno(args(whole).slice(2));
  expect(uninterrupted.code).toBe(0);
  expect(await Deno.readFile(`${killed}/checkpoint.sf2`)).toEqual(await Deno.readFile(`${whole}/checkpoint.sf2`));
  const curve = async (dir: string) =>
    (await Deno.readTextFile(`${dir}/log.jsonl`)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((r) => r.type === "step").map((r) => [r.step, r.loss]);
  expect(await curve(killed)).toEqual(await curve(whole));
  const run = JSON.parse(await Deno.readTextFile(`${killed}/run.json`));
  expect(run.resumes).toEqual([expect.objectContaining({ fromStep: at, backend: "wasm" })]);
});

Deno.test("train task: bad configs and overrides exit 2 naming the field", async () => {
  const config = await writeConfig(tinyRaw());
  const r1 = await runDeno(["tasks/train.ts", config, "--head.lambda=1.5"]);
  expect(r1.code).toBe(2);
  expect(r1.stderr).toMatch(/tiny.json \(with --head.lambda=1.5\): head.lambda: Too big: expected number to be <1/);
  const r2 = await runDeno(["tasks/train.ts", config, "--train.steps", "5"]);
  expect(r2.code).toBe(2);
  expect(r2.stderr).toMatch(/--train.steps: config overrides take the form --path.to.key=value/);
  const r3 = await runDeno(["tasks/train.ts", "configs/train/none.json"]);
  expect([r3.code, r3.stderr.trim()]).toEqual([2, "configs/train/none.json: config file not found"]);
  const r4 = await runDeno(["tasks/train.ts"]);
  expect(r4.code).toBe(2);
  expect(r4.stderr).toMatch(/give exactly one CONFIG/);
});

Deno.test("train task: Ctrl-C (SIGINT) writes a checkpoint as on a normal stop, exits 130, and --resume continues", async () => {
  const config = await writeConfig(tinyRaw({
    train: { steps: 400, batchSize: 8, lr: 0.05, milestones: [300] },
    checkpoint: { every: 1000 },
    validation: { every: 0, batchSize: 16 },
  }));
  const out = await Deno.makeTempDir();
  const args = ["run", "-A", "tasks/train.ts", config, "--out", out, "--backend", "cpu", "--quiet"];
  const child = new Deno.Command(Deno.execPath(), { args, cwd: REPO, stdout: "null", stderr: "piped" }).spawn();
  const deadline = Date.now() + 60_000;
  const steps = async () => (await Deno.readTextFile(`${out}/log.jsonl`).catch(() => "")).split("\n").length - 1;
  while ((await steps()) < 3) {
    if (Date.now() > deadline) throw new Error("no steps within 60 s");
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGINT");
  const status = await child.status;
  const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  expect(status.code).toBe(130);
  expect(stderr).toMatch(/SIGINT at step \d+\/400: checkpoint written to .*checkpoint\.sf2; continue with --resume/);
  const at = (await readCheckpoint(`${out}/checkpoint.sf2`)).header.state.step as number;
  expect(at).toBeGreaterThanOrEqual(3);
  expect(await exists(`${out}/run.lock`)).toBe(false);
  const ok = await runDeno(args.slice(2).concat("--resume"));
  expect(ok.code).toBe(0);
  expect(JSON.parse(lastLine(ok.stdout))).toMatchObject({ steps: 400 });
});

Deno.test("train task: a config that is not an object ([1,2], null) is an error naming the file", async () => {
  for (const text of ["[1,2]", "null"]) {
    const file = `${await Deno.makeTempDir()}/bad.json`;
    await Deno.writeTextFile(file, text);
    const r = await runDeno(["tasks/train.ts", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: a train config must be a JSON object`);
  }
});
