/**
 * `deno task data lfw [--dir data/cache/lfw] [--url BASE] [--landmarks-url URL] [--clean]`: downloads LFW from the
 * official sources (checksums verified, interrupted downloads resumed; `--clean` drops an interrupted one), never
 * leaving a half-written dataset at `--dir`.
 *
 * `deno task data synthetic [--identities 200] [--images-per-identity 6] [--size 64] [--seed 1] [--folds 10]
 * [--pairs-per-fold 50] [--test-pairs 500] [--dir data/cache/synthetic]`: generates the kit's deterministic synthetic
 * face dataset in the LFW layout, atomically, with a progress bar. `--test-pairs` is the number of matched (and of
 * mismatched) pairs in View 1's test list, which a large set needs more of to resolve accuracies near 100 %.
 *
 * `deno task data check [--dir DIR] [--skip-incomplete]`: loads an LFW-layout folder (View 1 and View 2), decodes
 * every image and looks up its landmark entry (a truncated or non-image file, an empty landmark file or a missing
 * entry is an error naming the file; exit 1), lists the pairs dropped with `--skip-incomplete`, and reports counts
 * and the identity overlap between the View 1 training people and the View 2 pairs.
 *
 * Progress goes to stderr; the last stdout line is a JSON summary.
 * @module
 */
import { z } from "zod";
import { parseFlags, runTask, UsageError } from "../lib/cli/flags.ts";
import { Progress } from "../lib/cli/progress.ts";
import { cleanDownload, downloadLfw } from "../lib/data/download.ts";
import { identityOverlap } from "../lib/data/formats.ts";
import { openLfw } from "../lib/data/lfw.ts";
import { SYNTHETIC_DEFAULTS, writeSyntheticDataset } from "../lib/data/synthetic.ts";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const LfwFlags = z.strictObject({
  dir: z.string().min(1).default("data/cache/lfw"),
  url: z.url().optional(),
  landmarksUrl: z.url().optional(),
  clean: z.coerce.boolean().default(false),
  concurrency: int(1, 64).default(8),
});

const SyntheticFlags = z.strictObject({
  dir: z.string().min(1).default("data/cache/synthetic"),
  identities: int(4, 1_000_000).default(SYNTHETIC_DEFAULTS.identities),
  imagesPerIdentity: int(2, 1000).default(SYNTHETIC_DEFAULTS.imagesPerIdentity),
  size: int(16, 1024).default(64),
  seed: int(0, 2 ** 32 - 1).default(1),
  folds: int(1, 100).default(10),
  pairsPerFold: int(1, 100_000).default(50),
  testPairs: int(1, 1_000_000).default(SYNTHETIC_DEFAULTS.testPairs),
});

const CheckFlags = z.strictObject({
  dir: z.string().min(1).default("data/cache/lfw"),
  skipIncomplete: z.coerce.boolean().default(false),
});

const USAGE = "data: give a dataset: lfw | synthetic | check";

await runTask(async () => {
  const [what, ...rest] = Deno.args;
  if (what === "lfw") {
    const { flags, positionals } = parseFlags(rest, LfwFlags, "data lfw", { paths: ["dir"] });
    if (positionals.length) throw new UsageError(`data lfw: unexpected argument ${positionals[0]}`);
    if (flags.clean) {
      const had = await cleanDownload(flags.dir);
      console.error(
        `data lfw: ${had ? "removed the interrupted download of" : "no interrupted download for"} ${flags.dir}`,
      );
      console.log(JSON.stringify({ dir: flags.dir, cleaned: had }));
      return;
    }
    console.error(`data lfw: downloading into ${flags.dir} (resumes an interrupted download; --clean drops it)`);
    const s = await downloadLfw(flags.dir, {
      base: flags.url,
      landmarksUrl: flags.landmarksUrl,
      concurrency: flags.concurrency,
    });
    if (s.missing.length) {
      console.error(`data lfw: ${s.missing.length} image(s) not on the server: ${s.missing.slice(0, 5).join(", ")}`);
    }
    console.log(JSON.stringify(s));
  } else if (what === "synthetic") {
    const { flags, positionals } = parseFlags(rest, SyntheticFlags, "data synthetic", { paths: ["dir"] });
    if (positionals.length) throw new UsageError(`data synthetic: unexpected argument ${positionals[0]}`);
    let s;
    try {
      s = await writeSyntheticDataset(flags.dir, flags);
    } catch (err) {
      // Parameter combinations that cannot be satisfied are usage errors, not crashes.
      if (/requested but only|cannot fill/.test((err as Error).message)) {
        throw new UsageError(`data synthetic: ${(err as Error).message}`);
      }
      throw err;
    }
    console.log(
      JSON.stringify({
        ...s,
        seconds: Number(s.seconds.toFixed(2)),
        imagesPerSecond: Math.round(s.images / s.seconds),
      }),
    );
  } else if (what === "check") {
    const { flags, positionals } = parseFlags(rest, CheckFlags, "data check", { paths: ["dir"] });
    if (positionals.length) throw new UsageError(`data check: unexpected argument ${positionals[0]}`);
    const lfw = await openLfw(flags.dir);
    const opts = { skipIncomplete: flags.skipIncomplete };
    const v1 = await lfw.view1(opts);
    const v2 = await lfw.view2(opts);
    const dropped = [...v1.test.dropped, ...v2.pairs.dropped];
    if (dropped.length) {
      console.error(`data check: dropped ${dropped.length} pair(s) with a missing image (--skip-incomplete):`);
      for (const p of dropped.slice(0, 20)) {
        console.error(`  line ${p.line}: ${p.a.name} ${p.a.index} / ${p.b.name} ${p.b.index}`);
      }
      if (dropped.length > 20) console.error(`  … and ${dropped.length - 20} more`);
    }
    // Decode every image and look up every landmark entry: bad data is found here, not hours into training.
    const refs = [
      ...v1.train.flatMap((i) => i.images),
      ...[...v1.test.pairs, ...v2.pairs.pairs].flatMap((p) => [p.a, p.b]),
    ];
    const bar = new Progress("data check: images", new Set(refs.map((r) => lfw.imagePath(r))).size);
    const problems = await lfw.verifyImages(refs, () => bar.tick());
    bar.done();
    if (problems.length) {
      for (const p of problems.slice(0, 50)) console.error(p);
      if (problems.length > 50) console.error(`… and ${problems.length - 50} more`);
      throw new Error(`data check: ${problems.length} problem(s) in ${flags.dir} (listed above)`);
    }
    const overlap = identityOverlap(v1.train.map((i) => i.name), v2.pairs.pairs.flatMap((p) => [p.a.name, p.b.name]));
    console.log(JSON.stringify({
      dir: flags.dir,
      view1: {
        trainIdentities: v1.train.length,
        trainImages: v1.train.reduce((n, i) => n + i.images.length, 0),
        testPairs: v1.test.pairs.length,
        droppedTestPairs: v1.test.dropped.length,
      },
      view2: { folds: v2.folds.length, pairs: v2.pairs.pairs.length, droppedPairs: v2.pairs.dropped.length },
      view1TrainVsView2Overlap: { identities: overlap.length, first: overlap.slice(0, 5) },
    }));
  } else {
    throw new UsageError(USAGE);
  }
});
