/**
 * `deno task compare RUN_DIR IMAGE_A IMAGE_B [--backend NAME]`: the web page's "verify two faces" pipeline in Deno
 * (`lib/web/verify.ts`: face-api detection and landmarks → 5-point alignment → the run's backbone → cosine →
 * decision at the threshold its SphereFace2 head implies), on the model converted exactly as `web build` converts it.
 * Prints `{"cosine":…,"threshold":…,"same":…}` (last line); the page on the same images agrees to 1e-3.
 * @module
 */
import { z } from "zod";
import { backendFlag, parseFlags, runTask, startBackend, UsageError } from "../lib/cli/flags.ts";
import { readImage } from "../lib/data/image.ts";
import { loadFaceApi } from "../lib/eval/peer_faceapi.ts";
import { readRunTensors } from "../lib/web/site.ts";
import { verifyPair } from "../lib/web/verify.ts";
import { packWebModel, restoreWebModel } from "../lib/web/web_model.ts";

const USAGE = "usage: deno task compare RUN_DIR IMAGE_A IMAGE_B [--backend NAME]";

await runTask(async () => {
  const { flags, positionals } = parseFlags(
    Deno.args,
    z.strictObject({ backend: backendFlag }),
    "compare",
  );
  if (positionals.length !== 3) throw new UsageError(`compare: give RUN_DIR IMAGE_A IMAGE_B\n${USAGE}`);
  const [runDir, a, b] = positionals;
  await startBackend(flags.backend);
  // The same conversion as the site's model/ files, so page and task run on identical weights.
  const { meta, weights } = packWebModel(await readRunTensors(runDir));
  const { model } = restoreWebModel(meta, weights.buffer as ArrayBuffer);
  try {
    const peer = await loadFaceApi();
    const r = await verifyPair(
      { describe: (img) => peer.describe(img), model, meta },
      await readImage(a),
      await readImage(b),
    );
    console.error(
      `compare: ${meta.name}@${meta.step}, threshold cos* = ${meta.threshold.toFixed(4)} (head bias ${
        meta.head.bias.toFixed(4)
      })`,
    );
    console.log(JSON.stringify({ cosine: r.cosine, threshold: r.threshold, same: r.same }));
  } finally {
    model.dispose();
  }
});
