import { expect } from "expect";
import { REPO, runDeno } from "../shared.ts";

/** Every task file registered in deno.json, with the subcommands it has. */
const TASKS: [string, string[]][] = [
  ["align", []],
  ["bench", ["head", "head-scaling", "head-sweep", "train", "train-sweep", "embed"]],
  ["compare", []],
  ["data", ["lfw", "synthetic", "check"]],
  ["embed", []],
  ["eval", []],
  ["experiments", []],
  ["export", []],
  ["gpu_check", []],
  ["gpu_pack", []],
  ["import", []],
  ["notebooks", []],
  ["reproduce", []],
  ["train", []],
  ["verify_backbones", []],
  ["verify_heads", []],
  ["verify_metrics", []],
  ["web", ["build", "serve"]],
];

Deno.test("--help and -h: every task and subcommand prints its usage on stdout and exits 0 without working", async () => {
  const registered = Object.values(
    JSON.parse(await Deno.readTextFile("deno.json")).tasks as Record<string, { command: string }>,
  )
    .map((t) => /tasks\/(\w+)\.ts/.exec(t.command)?.[1]).filter((t) => t !== undefined).sort();
  expect(TASKS.map(([t]) => t).sort()).toEqual(registered);
  for (const [task, subs] of TASKS) {
    for (const args of [["--help"], ["-h"], ...subs.map((s) => [s, "--help"])]) {
      const r = await runDeno([`tasks/${task}.ts`, ...args], { SF2_BACKEND: "cpu" });
      expect({ task, args, code: r.code, stderr: r.stderr }).toEqual({ task, args, code: 0, stderr: "" });
      expect(r.stdout).toMatch(/\S/);
      if (args[0] !== "--help" && args[0] !== "-h") {
        // A subcommand's help is about that subcommand.
        expect(r.stdout).toMatch(new RegExp(`deno task \\w+ ${args[0]}`));
      }
    }
  }
});

Deno.test("experiments without --profile prints the usage and exits 2 (no grid starts)", async () => {
  // Killed after 60 s: before the fix this started the cpu grid (about 2 hours).
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/experiments.ts", "--backend", "cpu", "--work", await Deno.makeTempDir()],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const r = { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/experiments: give --profile/);
  expect(r.stderr).toMatch(/deno task experiments --profile/);
  expect(r.stderr).not.toMatch(/backend:/); // refused before the backend started
});
