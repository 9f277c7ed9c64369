/**
 * `deno task notebooks [NAME…] [--out results/notebooks] [--params JSON|FILE] [--timeout 600]`: executes the
 * notebooks headless through Jupyter with the kit's Deno kernelspec and writes, per notebook, a results folder
 * `OUT/NAME/` with the executed `NAME.ipynb`, `NAME.html` and the `key_numbers.json` it emitted (each folder
 * replaced only once complete). NAME may be a unique prefix (`01`); none means all. `--params` is passed to
 * every notebook (keys a notebook does not use are ignored). Exits 1 if any cell of any notebook fails.
 * Progress on stderr; the last stdout line is a JSON summary.
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, UsageError } from "../lib/cli/flags.ts";
import { executeNotebook, listNotebooks, type NotebookRun, selectNotebooks } from "../lib/notebook/runner.ts";
import { writeDirAtomic } from "../lib/fs/write.ts";

const Flags = z.strictObject({
  out: z.string().min(1).default("results/notebooks"),
  params: z.string().optional(),
  timeout: z.coerce.number().int().min(1).max(86_400).default(600),
});

function parseParams(value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  const text = value.trim().startsWith("{") ? value : Deno.readTextFileSync(value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`notebooks: --params: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError("notebooks: --params: expected a JSON object");
  }
  return parsed as Record<string, unknown>;
}

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "notebooks", { paths: ["out"] });
  const params = parseParams(flags.params);
  let selected;
  try {
    selected = selectNotebooks(await listNotebooks(), positionals);
  } catch (err) {
    throw new UsageError(`notebooks: ${(err as Error).message}`);
  }
  const results: Array<
    Pick<NotebookRun, "name" | "seconds" | "cells" | "keyNumbers"> & { math?: NotebookRun["math"] } & {
      ok: boolean;
      error?: string;
    }
  > = [];
  for (const nb of selected) {
    console.error(`notebooks: ${nb.name} …`);
    try {
      const run = await writeDirAtomic(
        `${flags.out}/${nb.name}`,
        (dir) => executeNotebook({ notebook: nb.path, outDir: dir, params, timeoutS: flags.timeout }),
      );
      console.error(
        `notebooks: ${nb.name} ok (${run.cells} cells, ${run.seconds.toFixed(1)} s, ${run.math.rendered} formulas)`,
      );
      for (const e of run.math.errors) console.error(`notebooks: ${nb.name}: KaTeX: ${e}`);
      const { name, seconds, cells, keyNumbers, math } = run;
      results.push({ name, seconds, cells, keyNumbers, math, ok: true });
    } catch (err) {
      const message = (err as Error).message;
      console.error(`notebooks: ${nb.name} FAILED\n${message}`);
      results.push({ name: nb.name, seconds: 0, cells: 0, keyNumbers: null, ok: false, error: message.split("\n")[0] });
    }
  }
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  console.log(JSON.stringify({
    out: flags.out,
    notebooks: results.map(({ name, ok, seconds, cells, keyNumbers, math }) => ({
      name,
      ok,
      seconds,
      cells,
      keyNumbers: keyNumbers !== null,
      math: math ? { rendered: math.rendered, errors: math.errors.length } : null,
    })),
    failed,
  }));
  return failed.length ? 1 : 0;
});
