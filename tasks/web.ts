/**
 * `deno task web build [--model RUN_DIR] [--out DIR] [--no-minify]` builds the static site (index.html: verify two
 * faces; explorer.html: loss explorer) into DIR (default `results/web`), its scripts bundled from `lib/web/` and,
 * with `--model`, a SphereFace2 run converted for the page. `deno task web serve [DIR] [--port 8000]` serves it
 * locally (any static host works as well: the site has no server code).
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { LFW_SEARCH, resolveLfwDir } from "../lib/data/lfw_location.ts";
import { buildSite, lfwScoreHistogram, serveSite } from "../lib/web/site.ts";

const USAGE = `usage:
  deno task web build [--model RUN_DIR [--lfw-pairs N] [--lfw DIR]] [--out DIR] [--no-minify]
      build the static site (default DIR results/web); --lfw-pairs N adds the model's LFW score histogram
      (N matched + N mismatched pairs per fold of pairs.txt; LFW from --lfw, else where the kit finds it:
      $SF2_LFW_DIR, else data/cache/lfw)
  deno task web serve [DIR] [--port 8000]                           serve DIR on http://127.0.0.1:PORT/`;

const bool = z.union([z.boolean(), z.string()]).optional().transform((v) => v === true || v === "true");
const BuildFlags = z.strictObject({
  model: z.string().min(1).optional(),
  lfwPairs: z.coerce.number().int().min(1).max(300).optional(),
  lfw: z.string().min(1).optional(),
  out: z.string().min(1).default("results/web"),
  noMinify: bool,
});
const ServeFlags = z.strictObject({
  port: z.coerce.number().int().min(0).max(65535).default(8000),
});

await runTask(async () => {
  const [command, ...rest] = Deno.args;
  if (command === undefined || command === "help") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "build") {
    const { flags, positionals } = parseFlags(rest, BuildFlags, "web build");
    if (positionals.length) throw new UsageError(`web build: unexpected argument ${positionals[0]}\n${USAGE}`);
    if (flags.lfwPairs !== undefined && !flags.model) throw new UsageError("web build: --lfw-pairs needs --model");
    const t0 = performance.now();
    let histogram = null;
    if (flags.model && flags.lfwPairs !== undefined) {
      await startBackend(undefined);
      histogram = await lfwScoreHistogram(flags.model, await resolveLfwDir(flags.lfw ?? LFW_SEARCH), flags.lfwPairs);
    }
    const files = await buildSite({
      outDir: flags.out,
      runDir: flags.model,
      histogram,
      minify: !flags.noMinify,
      log: (line) => console.error(line),
    });
    console.error(`web: ${files.length} files in ${flags.out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    console.log(JSON.stringify({ out: flags.out, model: flags.model ?? null, files: files.length }));
    return;
  }
  if (command === "serve") {
    const { flags, positionals } = parseFlags(rest, ServeFlags, "web serve");
    if (positionals.length > 1) throw new UsageError(`web serve: give at most one DIR\n${USAGE}`);
    const dir = positionals[0] ?? "results/web";
    try {
      await Deno.stat(`${dir}/index.html`);
    } catch {
      throw new UsageError(`web serve: ${dir}/index.html not found; build the site first: deno task web build`);
    }
    const server = serveSite(dir, flags.port);
    console.error(
      `web: serving ${dir} on http://127.0.0.1:${server.addr.port}/ (index.html, explorer.html); Ctrl-C stops`,
    );
    await server.finished;
    return;
  }
  throw new UsageError(`web: unknown command ${command}\n${USAGE}`);
});
