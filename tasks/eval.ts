/**
 * `deno task eval (RUN_DIR | --peer face-api) [--data lfw|synthetic|DIR] [--protocol view2|view1|templates|all]
 * [--limit N] [--out DIR] [--backend NAME]`: scores a face-recognition model — a training run folder of
 * `deno task train` (its `run.json` + `checkpoint.sf2`), a PyTorch model imported by `deno task import` (a run folder
 * too, whose recorded preprocessing is applied) or the face-api peer — on a dataset's protocols and writes
 * `metrics.json`, `report.md` (both ACC protocols side by side, every number labelled) and `roc.svg` under
 * `results/eval/<model>-<data>-<protocol>/` (atomically).
 *
 * `--data lfw` is the first LFW folder the kit finds (`$SF2_LFW_DIR`, then `data/cache/lfw` from `deno task data lfw`:
 * `lib/data/lfw_location.ts`); `synthetic` is
 * `data/cache/synthetic` (`deno task data synthetic`). `--limit N` keeps the first N matched and N mismatched pairs
 * of every fold (quick checks). Kit models see 5-point-aligned crops (the dataset's landmarks) with flip fusion;
 * face-api runs its own detector.
 * @module
 */
import { z } from "zod";
import { backendFlag, parseFlags, runTask, startBackend, UsageError, userPath } from "../lib/cli/flags.ts";
import { Progress } from "../lib/cli/progress.ts";
import { readImage } from "../lib/data/image.ts";
import { LFW_LANDMARK_FRAME } from "../lib/data/landmarks.ts";
import { lfwRelativePath, openLfw } from "../lib/data/lfw.ts";
import { resolveLfwDir } from "../lib/data/lfw_location.ts";
import { loadTrainedModel, modelEmbedder } from "../lib/train/restore.ts";
import { loadFaceApi } from "../lib/eval/peer_faceapi.ts";
import {
  evaluatePairs,
  evaluateTemplateProtocols,
  type ImageEmbedder,
  rocFigure,
  verificationMarkdown,
} from "../lib/eval/run.ts";
import { markdownTable } from "../lib/render/markdown.ts";
import { runMetadata } from "../lib/fs/metadata.ts";
import { writeDirAtomic } from "../lib/fs/write.ts";

const Flags = z.strictObject({
  backend: backendFlag,
  peer: z.enum(["face-api"]).optional(),
  data: z.string().min(1).default("lfw"),
  protocol: z.enum(["view2", "view1", "templates", "all"]).default("view2"),
  limit: z.coerce.number().int().min(1).optional(),
  out: z.string().min(1).optional(),
});

/** Embeds each image once across protocols (View 2, View 1 and the template protocols share most images). */
function memoized(embedder: ImageEmbedder): ImageEmbedder {
  const cache = new Map<string, Promise<Float32Array>>();
  return {
    name: embedder.name,
    embed(path) {
      let hit = cache.get(path);
      if (!hit) {
        hit = embedder.embed(path);
        cache.set(path, hit);
      }
      return hit;
    },
  };
}

async function dataDir(data: string): Promise<string> {
  if (data === "synthetic") return "data/cache/synthetic";
  return await resolveLfwDir(data);
}

await runTask(async () => {
  const { flags, positionals } = parseFlags(Deno.args, Flags, "eval", { paths: ["out"] });
  if (positionals.length > 1) {
    throw new UsageError(`eval: give one model (RUN_DIR or --peer), got ${positionals.join(" ")}`);
  }
  if ((positionals.length === 1) === (flags.peer !== undefined)) {
    throw new UsageError("eval: give a model: a training run folder (RUN_DIR) or --peer face-api");
  }
  await startBackend(flags.backend);
  const dir = await dataDir(flags.data);
  const lfw = await openLfw(dir);
  let undetected = 0;
  let embedder: ImageEmbedder;
  if (flags.peer) {
    const peer = await loadFaceApi();
    embedder = {
      name: flags.peer,
      async embed(path) {
        const face = await peer.describe(await readImage(path));
        if (!face.detected) undetected++;
        return face.descriptor;
      },
    };
  } else {
    const trained = await loadTrainedModel(userPath(positionals[0]));
    const imagesDir = `${dir}/images/`;
    embedder = modelEmbedder(trained, (path, width) => {
      const rel = path.startsWith(imagesDir) ? path.slice(imagesDir.length) : path;
      const lm = lfw.landmarks.get(rel);
      if (!lm) throw new Error(`${lfw.landmarkFile}: no landmarks for ${rel}`);
      return lm.map((v) => (v * width) / LFW_LANDMARK_FRAME);
    });
  }
  const modelName = flags.peer ?? embedder.name;
  embedder = memoized(embedder);
  const protocols = flags.protocol === "all" ? ["view2", "view1", "templates"] : [flags.protocol];
  const slug = (v: string) => v.replace(/[^A-Za-z0-9_@-]+/g, "_");
  const out = flags.out ?? `results/eval/${slug(modelName)}-${slug(flags.data)}-${flags.protocol}`;
  const sections: string[] = [];
  const metrics: Record<string, unknown> = {};
  const rocLists: Array<{ name: string; cos: Float64Array; labels: Uint8Array }> = [];
  for (const protocol of protocols) {
    if (protocol === "view2" || protocol === "view1") {
      const file = protocol === "view2" ? "pairs.txt" : "pairsDevTest.txt";
      const checked = await lfw.pairs(file, { skipIncomplete: true });
      // --limit N keeps N matched and N mismatched pairs of every fold, so each fold still has both kinds.
      const seen = new Map<string, number>();
      const kept = checked.pairs.filter((p) => {
        const key = `${p.fold}:${p.same}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        return flags.limit === undefined || n <= flags.limit;
      });
      let bar: Progress | null = null;
      const r = await evaluatePairs(
        kept.map((p) => ({ a: lfw.imagePath(p.a), b: lfw.imagePath(p.b), same: p.same })),
        embedder,
        (done, total) => {
          bar ??= new Progress(`eval ${protocol} (${total} images)`, total);
          bar.tick();
          if (done === total) bar.done();
        },
        // pairs.txt is laid out fold by fold; pairsDevTest.txt is sorted matched-then-mismatched.
        { balanceFolds: protocol === "view1" },
      );
      metrics[protocol] = {
        file,
        pairs: r.pairs,
        droppedPairs: checked.dropped.length,
        images: r.images,
        table: r.table,
      };
      rocLists.push({ name: protocol, cos: r.cos, labels: r.labels });
      sections.push(
        `## ${protocol === "view2" ? "LFW View 2 (pairs.txt, 10 folds)" : "LFW View 1 test (pairsDevTest.txt)"}\n\n` +
          `${r.pairs} pairs over ${r.images} images` +
          (checked.dropped.length ? ` (${checked.dropped.length} pairs dropped: image missing)` : "") +
          (flags.limit ? `; only the first ${flags.limit} matched and ${flags.limit} mismatched pairs per fold` : "") +
          ".\n\n" + verificationMarkdown(r.table),
      );
    } else {
      const { identities } = await lfw.people("people.txt", { skipIncomplete: true });
      const list = identities.map((i) => ({ name: i.name, images: i.images.map((ref) => lfwRelativePath(ref)) }));
      let bar: Progress | null = null;
      const t = await evaluateTemplateProtocols(
        list,
        (img) => lfw.landmarks.get(img) ?? [],
        (img) => `${dir}/images/${img}`,
        embedder,
        (done, total) => {
          bar ??= new Progress(`eval templates (${total} images)`, total);
          bar.tick();
          if (done === total) bar.done();
        },
      );
      metrics.templates = { ijb: t.ijb, megaface: t.megaface };
      const v = t.ijb.verification;
      sections.push(
        "## LFW-derived IJB-style templates\n\n1:1, " + `${v.pairs} template pairs (TAR in %):\n\n` +
          markdownTable(
            ["FAR", "OpenSphere (interpolated)", "insightface (nearest vertex)"],
            Object.keys(v.insightface).map((
              k,
            ) => [k.replace("TPR@FPR=", ""), v.openSphere[k]?.toFixed(2), v.insightface[k].toFixed(2)]),
          ) + "\n\n1:N (%):\n\n" +
          markdownTable(
            [
              "protocol",
              "gallery",
              "probes (mated)",
              "rank-1",
              "rank-5",
              "rank-10",
              "TPIR@FPIR=1e-2",
              "TPIR@FPIR=1e-1",
            ],
            t.ijb.identification.map((r) => [
              r.protocol,
              r.gallery,
              `${r.probes} (${r.matedProbes})`,
              ...["rank-1", "rank-5", "rank-10"].map((k) => r.ranks[k].toFixed(2)),
              ...["TPIR@FPIR=1e-2", "TPIR@FPIR=1e-1"].map((k) => r.tpir[k].toFixed(2)),
            ]),
          ) + "\n\n## LFW-derived MegaFace-style identification\n\n" +
          markdownTable(
            ["distractors", "rank-1 (%)"],
            Object.entries(t.megaface.rank1).map(([s, v]) => [s, v.toFixed(2)]),
          ) +
          `\n\nVerification: TAR ${t.megaface.tar.toFixed(2)}% at FAR ${t.megaface.far} ` +
          `(${t.megaface.genuinePairs} genuine, ${t.megaface.impostorPairs} impostor pairs).`,
      );
    }
  }
  const meta = await runMetadata({ ...flags, dataDir: dir });
  await writeDirAtomic(out, async (tmp) => {
    await Deno.writeTextFile(
      `${tmp}/metrics.json`,
      JSON.stringify({ meta, model: modelName, undetected, metrics }, null, 1),
    );
    if (rocLists.length) {
      await Deno.writeTextFile(`${tmp}/roc.svg`, rocFigure(rocLists, `ROC, ${modelName} on ${flags.data}`));
    }
    await Deno.writeTextFile(
      `${tmp}/report.md`,
      `# Evaluation: ${modelName} on ${flags.data}\n\n` +
        `Data: \`${dir}\`. Generated ${meta.date} (kit commit \`${meta.kitCommit}\`). Images where the model's ` +
        `detector found no face: ${undetected} (described from the central crop).\n\n` + sections.join("\n\n") +
        (rocLists.length ? "\n\n![ROC](roc.svg)\n" : "\n"),
    );
  });
  console.log(JSON.stringify({ out, model: modelName, data: dir, protocols, undetected }));
});
