import assert from "node:assert/strict";
import { executeNotebook, listNotebooks, NotebookError, selectNotebooks } from "../../lib/notebook/runner.ts";

const NAMES = [
  "01_softmax_to_binary",
  "02_sphereface2_loss",
  "03_geometry_and_thresholds",
  "04_model_parallel",
  "04b_face_pipeline",
  "05_ablations",
  "06_loss_comparison",
  "07_margins_and_gradient_forms",
  "08_label_noise",
];

Deno.test("listNotebooks / selectNotebooks: the nine notebooks, by name, number or unique prefix", async () => {
  const all = await listNotebooks();
  assert.deepEqual(all.map((n) => n.name), NAMES);
  assert.deepEqual(selectNotebooks(all, []).map((n) => n.name), NAMES);
  assert.deepEqual(selectNotebooks(all, ["02", "notebooks/01_softmax_to_binary.ipynb"]).map((n) => n.name), [
    NAMES[1],
    NAMES[0],
  ]);
  assert.throws(() => selectNotebooks(all, ["0"]), /ambiguous/);
  // A number names the notebook it numbers; a longer prefix the other one.
  assert.deepEqual(selectNotebooks(all, ["04", "04b"]).map((n) => n.name), ["04_model_parallel", "04b_face_pipeline"]);
  assert.throws(() => selectNotebooks(all, ["zz"]), /no notebook "zz"; available: 01_softmax_to_binary/);
});

Deno.test("committed notebooks: Deno kernelspec, no outputs, no execution counts", async () => {
  for (const nb of await listNotebooks()) {
    const json = JSON.parse(await Deno.readTextFile(nb.path));
    assert.equal(json.metadata.kernelspec.name, "deno", nb.name);
    for (const cell of json.cells) {
      if (cell.cell_type !== "code") continue;
      assert.deepEqual(cell.outputs, [], `${nb.name}: committed with outputs`);
      assert.equal(cell.execution_count, null, nb.name);
    }
  }
});

Deno.test("kernelspec: argv runs node_modules/.bin/deno relative to the spec, NO_COLOR set", async () => {
  const spec = JSON.parse(await Deno.readTextFile(new URL("../../jupyter/kernels/deno/kernel.json", import.meta.url)));
  assert.equal(spec.argv[0], "{resource_dir}/../../../node_modules/.bin/deno");
  assert.deepEqual(spec.argv.slice(1), ["jupyter", "--kernel", "--conn", "{connection_file}"]);
  assert.equal(spec.env.NO_COLOR, "1");
  assert.equal(spec.language, "typescript");
  await Deno.stat(new URL("../../node_modules/.bin/deno", import.meta.url)); // the target exists
});

/** A notebook in a temp folder with the given code cells. */
async function tempNotebook(dir: string, sources: string[]): Promise<string> {
  const path = `${dir}/t.ipynb`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
      cells: sources.map((source, i) => ({
        id: `c${i}`,
        cell_type: "code",
        metadata: {},
        source,
        outputs: [],
        execution_count: null,
      })),
    }),
  );
  return path;
}

Deno.test("executeNotebook: outputs kept, key numbers extracted; a failing cell is an error naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out`;
    await Deno.mkdir(out);
    const ok = await tempNotebook(dir, [
      "const p = JSON.parse(Deno.env.get('SF2_NB_PARAMS')!); p.n * 2",
      `({ [Symbol.for("Jupyter.display")]: () => ({ "application/vnd.sf2.key-numbers+json": { doubled: 42 } }) })`,
    ]);
    const run = await executeNotebook({ notebook: ok, outDir: out, params: { n: 21 } });
    assert.equal(run.cells, 2);
    assert.deepEqual(run.keyNumbers, { doubled: 42 });
    const executed = JSON.parse(await Deno.readTextFile(run.files.notebook));
    assert.deepEqual(executed.cells[0].outputs[0].data["text/plain"], ["42"]);
    assert.match(await Deno.readTextFile(run.files.html), /<html/);

    const bad = await tempNotebook(dir, ["1 + 1", "throw new Error('cell exploded')", "2"]);
    await assert.rejects(executeNotebook({ notebook: bad, outDir: out }), (err: Error) => {
      assert.ok(err instanceof NotebookError);
      assert.match(err.message, /cell exploded/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
