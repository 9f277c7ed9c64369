import { expect } from "expect";
import { goldenPath, lastLine, runDeno } from "../shared.ts";

Deno.test("verify-heads passes every OpenSphere case and exits 0", async () => {
  const file = goldenPath("heads.json");
  const { code, stdout, stderr } = await runDeno(["tasks/verify_heads.ts", file, "--backend", "wasm"]);
  expect(stderr).toMatch(/^backend: wasm \(requested/m);
  expect(lastLine(stdout)).toBe("heads: 19 passed, 0 failed");
  expect(stdout.split("\n").filter((l) => l.startsWith("PASS ")).length).toBe(19);
  expect(code).toBe(0);
});

Deno.test("verify-heads reports a wrong golden value, names the case and exits 1", async () => {
  const golden = JSON.parse(await Deno.readTextFile(goldenPath("heads.json")));
  golden.cases = golden.cases.slice(10, 13);
  golden.cases[2].loss += 0.01;
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify(golden));
    const { code, stdout } = await runDeno(["tasks/verify_heads.ts", path, "--backend", "cpu"]);
    expect(lastLine(stdout)).toBe("heads: 2 passed, 1 failed");
    expect(stdout).toMatch(/^FAIL softmax_iclr_randbias .*loss/m);
    expect(code).toBe(1);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("verify-heads: a missing file or a bad flag is a one-line error", async () => {
  const missing = await runDeno(["tasks/verify_heads.ts", "/nonexistent/heads.json", "--backend", "cpu"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/error: \/nonexistent\/heads\.json: cannot read golden file/);
  const badFlag = await runDeno(["tasks/verify_heads.ts", "--bakend", "cpu"]);
  expect(badFlag.code).toBe(2);
  expect(badFlag.stderr).toMatch(/verify-heads: unknown flag --bakend/);
});
