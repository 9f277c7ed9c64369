import assert from "node:assert/strict";
import { z } from "zod";
import { notebookParams, PARAMS_ENV } from "../../lib/notebook/params.ts";

const schema = z.object({ steps: z.number().int().min(1).default(300), name: z.string().default("a") });
const env = (value: string | undefined) => ({ getEnv: (n: string) => (n === PARAMS_ENV ? value : undefined) });

Deno.test("notebookParams: defaults, JSON text, a JSON file; unknown keys ignored", async () => {
  assert.deepEqual(notebookParams(schema, env(undefined)), { steps: 300, name: "a" });
  assert.deepEqual(notebookParams(schema, env('{"steps": 20, "other": 1}')), { steps: 20, name: "a" });
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, '{"name": "b"}');
    assert.deepEqual(notebookParams(schema, env(file)), { steps: 300, name: "b" });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("notebookParams: errors name the variable and the field", () => {
  assert.throws(() => notebookParams(schema, env('{"steps": 0}')), /SF2_NB_PARAMS: steps: Too small/);
  assert.throws(() => notebookParams(schema, env("{oops")), /SF2_NB_PARAMS: /);
  assert.throws(() => notebookParams(schema, env("/no/such/file.json")), /SF2_NB_PARAMS file \/no\/such/);
});
