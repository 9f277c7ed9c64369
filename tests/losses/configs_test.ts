import { expect } from "expect";
import { parseHeadConfig } from "../../lib/losses/config.ts";
import { REPO } from "../shared.ts";

Deno.test("every head in configs/heads/paper.json is a valid head config", async () => {
  const path = `${REPO}configs/heads/paper.json`;
  const file = JSON.parse(await Deno.readTextFile(path)) as Record<string, Record<string, unknown> | string>;
  let count = 0;
  for (const [experiment, heads] of Object.entries(file)) {
    if (experiment.startsWith("_") || typeof heads === "string") continue;
    for (const [name, config] of Object.entries(heads)) {
      expect(() => parseHeadConfig(config, `${path}: ${experiment}.${name}`)).not.toThrow();
      count++;
    }
  }
  expect(count).toBe(10);
});
