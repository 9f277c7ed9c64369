/**
 * Round trips through the kit, checked by PyTorch itself (Debian's /usr/bin/python3 + python3-torch; ignored with a
 * message when it cannot import torch):
 * - every golden checkpoint → import → export: torch.load gives the golden file's keys in order, dtypes, shapes and
 *   bit-identical tensors (backbone and head). The golden embeddings were computed by the official modules after
 *   `load_state_dict(strict=True)` of exactly these keys and values, so they load the export the same way and compute
 *   the same embeddings (that the kit computes them too is verify-backbones' test). `num_batches_tracked` (which
 *   eval-mode BN ignores and import drops) is the run's step count: 0 for an imported model.
 * - import → export → import gives the identical kit checkpoint (`checkpoint.sf2`, byte for byte);
 * - the tasks end to end, their usage errors, and the refusal of a model the official modules cannot take.
 */
import { expect } from "expect";
import { exportOpenSphereConfig, exportPytorch, readRunForExport } from "../../lib/interop/export.ts";
import { importCheckpoint } from "../../lib/interop/import.ts";
import { encodeCheckpoint } from "../../lib/train/checkpoint.ts";
import { loadTrainConfig } from "../../lib/train/config.ts";
import { createModel } from "../../lib/models/registry.ts";
import { REPO, runDeno, useBackend } from "../shared.ts";

const PYTHON = "/usr/bin/python3";

async function python(script: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await new Deno.Command(PYTHON, { args: ["-c", script, ...args], stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  } catch {
    return { code: -1, out: "", err: `${PYTHON} not found` };
  }
}

const TORCH = (await python("import torch", [])).code === 0;
if (!TORCH) {
  console.warn(
    `export_test: ${PYTHON} cannot import torch; the round trips through PyTorch are ignored ` +
      `(install Debian's python3-torch, as .ci/run does)`,
  );
}

/** torch.load of both files: same structure, keys, dtypes, shapes, bits; num_batches_tracked = argv[3]. */
const SAME_AS_GOLDEN = `
import json, sys, torch
mine = torch.load(sys.argv[1], map_location="cpu")
gold = torch.load(sys.argv[2], map_location="cpu")
nbt = int(sys.argv[3])
problems = []
def same(name, x, y):
    if list(x.keys()) != list(y.keys()):
        problems.append("%s: keys differ: %s" % (name, sorted(set(x) ^ set(y))[:5] or "order")); return 0
    for k in x:
        s, t = x[k], y[k]
        if s.dtype != t.dtype or s.shape != t.shape:
            problems.append("%s%s: %s %s vs %s %s" % (name, k, s.dtype, tuple(s.shape), t.dtype, tuple(t.shape)))
        elif k.endswith("num_batches_tracked"):
            if s.item() != nbt: problems.append("%s%s = %d" % (name, k, s.item()))
        elif not torch.equal(s.reshape(-1).view(torch.uint8), t.reshape(-1).view(torch.uint8)):
            problems.append("%s%s: values differ" % (name, k))
    return len(x)
tensors = 0
if all(isinstance(v, torch.Tensor) for v in gold.values()):
    tensors = same("", mine, gold)
elif list(mine) != list(gold):
    problems.append("top level: %s vs %s" % (list(mine), list(gold)))
else:
    for part in gold: tensors += same(part + ":", mine[part], gold[part])
print(json.dumps({"problems": problems, "tensors": tensors}))
`;

const GOLDEN = `${REPO}tests/golden/backbones`;
const CASES: { file: string; source: "opensphere" | "insightface"; sameAs?: string }[] = [
  { file: "os_main_sfnet4_w0.125_e32/model_20000.pth", source: "opensphere" },
  { file: "os_main_sfnet20bn_w0.125_e32/model_20000.pth", source: "opensphere" },
  { file: "iclr_sfnet20dep_w0.125_e32/checkpoint_80000.pth", source: "opensphere" },
  { file: "os_main_iresnet18_w0.125_e32/model_20000.pth", source: "opensphere" },
  { file: "if_iresnet18_w0.0625_e32/model.pt", source: "insightface" },
  { file: "os_v0_iresnet18_w0.0625_e32/backbone_70000.pth", source: "opensphere" },
  // The legacy-format file holds the same weights as the zip one: the export (always zip) equals that.
  {
    file: "if_iresnet18_w0.0625_e32_legacy/model.pt",
    source: "insightface",
    sameAs: "if_iresnet18_w0.0625_e32/model.pt",
  },
];

for (const c of CASES) {
  Deno.test({
    name: `export: ${c.file} → import → export is the golden checkpoint for torch.load; → import is the same kit file`,
    ignore: !TORCH,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "export_test_" });
      try {
        const imp = await importCheckpoint(`${GOLDEN}/${c.file}`, { source: c.source, out: `${dir}/imp` });
        const out = `${dir}/exp/${c.file.split("/").pop()}`;
        const r = await exportPytorch(`${dir}/imp`, { out });
        expect(r.source).toBe(imp.source);
        expect(r.files).toEqual([out]);
        const cmp = await python(SAME_AS_GOLDEN, [out, `${GOLDEN}/${c.sameAs ?? c.file}`, "0"]);
        expect(cmp.err).toBe("");
        const { problems, tensors } = JSON.parse(cmp.out);
        expect(problems).toEqual([]);
        expect(tensors).toBe(imp.tensors + (imp.head ? (imp.source.startsWith("opensphere") ? 2 : 0) : 0));
        // import → export → import: the identical kit checkpoint.
        await importCheckpoint(out, { source: c.source, out: `${dir}/imp2` });
        const a = await Deno.readFile(`${dir}/imp/checkpoint.sf2`);
        const b = await Deno.readFile(`${dir}/imp2/checkpoint.sf2`);
        expect(b.length).toBe(a.length);
        expect(b.findIndex((x, i) => x !== a[i])).toBe(-1);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "export: the tasks end to end (import → export --to pytorch → import), identical kit checkpoints",
  ignore: !TORCH,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "export_test_" });
    try {
      const golden = `${GOLDEN}/iclr_sfnet20dep_w0.125_e32/checkpoint_80000.pth`;
      const imp = await runDeno(["tasks/import.ts", golden, "--source", "opensphere", "--out", `${dir}/imp`]);
      expect(imp.code).toBe(0);
      const exp = await runDeno([
        "tasks/export.ts",
        `${dir}/imp`,
        "--to",
        "pytorch",
        "--out",
        `${dir}/checkpoint_80000.pth`,
      ]);
      expect(exp.stderr).toMatch(/as opensphere-iclr -> /);
      expect(exp.code).toBe(0);
      expect(JSON.parse(exp.stdout.trim().split("\n").pop()!)).toMatchObject({
        source: "opensphere-iclr",
        head: { numClasses: 10 },
      });
      const back = await runDeno([
        "tasks/import.ts",
        `${dir}/checkpoint_80000.pth`,
        "--source",
        "opensphere",
        "--out",
        `${dir}/imp2`,
      ]);
      expect(back.code).toBe(0);
      expect(await Deno.readFile(`${dir}/imp2/checkpoint.sf2`)).toEqual(
        await Deno.readFile(`${dir}/imp/checkpoint.sf2`),
      );
      const cmp = await python(SAME_AS_GOLDEN, [`${dir}/checkpoint_80000.pth`, golden, "0"]);
      expect(JSON.parse(cmp.out).problems).toEqual([]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A kit run folder with random weights, written as deno task train writes one (run.json + checkpoint.sf2). */
async function fakeTrainedRun(dir: string, overrides: Record<string, unknown> = {}): Promise<void> {
  // The validated config, as train records it in run.json (a config file may extend a base and name its head).
  const config = structuredClone(await loadTrainConfig(`${REPO}configs/train/sec31-sfnet20-sphereface2.json`));
  Object.assign(config.model, { depth: 4, width: 0.125, featDim: 8 }, overrides);
  config.data.size = config.model.inputSize;
  await useBackend("cpu");
  const model = createModel(config.model, { seed: 3 }, "model");
  const arrays = [...model.variables].map(([name, v]) => ({
    name: `model/${name}`,
    shape: [...v.shape],
    data: v.dataSync() as Float32Array,
  }));
  model.dispose();
  const k = 5;
  arrays.push({ name: "head/weight", shape: [8, k], data: Float32Array.from({ length: 8 * k }, (_, i) => i / 40) });
  arrays.push({ name: "head/bias", shape: [1], data: Float32Array.of(5.78) });
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/run.json`, JSON.stringify({ config }));
  await Deno.writeFile(`${dir}/checkpoint.sf2`, await encodeCheckpoint({ step: 1234 }, arrays));
}

Deno.test({
  name: "export: a kit-trained run → ICLR checkpoint (head d×K, step count as num_batches_tracked) and back",
  ignore: !TORCH,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "export_test_" });
    try {
      await fakeTrainedRun(`${dir}/run`);
      const run = await readRunForExport(`${dir}/run`);
      expect(run.step).toBe(1234);
      const r = await exportPytorch(`${dir}/run`, { out: `${dir}/checkpoint_1234.pth` });
      expect(r.source).toBe("opensphere-iclr"); // SFNet_deprecated: main has none
      const check = await python(
        `
import sys, torch
o = torch.load(sys.argv[1])
assert list(o) == ["backbone", "head"]
assert list(o["head"]) == ["module.w", "module.b"] and o["head"]["module.w"].shape == (8, 5)
assert abs(o["head"]["module.b"].item() - 5.78) < 1e-6
assert abs(o["head"]["module.w"][0, 1].item() - 0.025) < 1e-7  # kit d×K row-major, ICLR d×K
b = o["backbone"]
assert all(k.startswith("module.") for k in b), list(b)[:3]
assert b["module.layer1.0.conv.weight"].shape == (8, 3, 3, 3)
assert b["module.fc.weight"].shape == (8, 64 * 49)
print("ok")
`,
        [`${dir}/checkpoint_1234.pth`],
      );
      expect(check.err).toBe("");
      expect(check.out.trim()).toBe("ok");
      // and back in: the same tensors as the run's
      await importCheckpoint(`${dir}/checkpoint_1234.pth`, { source: "opensphere", out: `${dir}/back` });
      const back = await readRunForExport(`${dir}/back`);
      for (const [name, t] of run.tensors) expect(back.tensors.get(name)!.data).toEqual(t.data);
      expect(back.head!.weight).toEqual(run.head!.weight);
      // SFNet with BN for main: num_batches_tracked is the run's step count.
      await fakeTrainedRun(`${dir}/bn`, { block: "sfnet", bn: true, init: "kaiming" });
      const m = await exportPytorch(`${dir}/bn`, { out: `${dir}/model_1234.pth` });
      expect(m.source).toBe("opensphere");
      const nbt = await python(
        `import sys, torch
b = torch.load(sys.argv[1])["backbone"]
print(list(b)[0], b["layer1.0.bn1.num_batches_tracked"].item(), b["features.num_batches_tracked"].dtype)`,
        [`${dir}/model_1234.pth`],
      );
      expect(nbt.out.trim()).toBe("features.weight 1234 torch.int64");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("export: OpenSphere_v0 writes head_N.pth beside backbone_N.pth; a non-112 model is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "export_test_" });
  try {
    await fakeTrainedRun(`${dir}/run`);
    const r = await exportPytorch(`${dir}/run`, { out: `${dir}/out/backbone_1234.pth`, source: "opensphere-v0" });
    expect(r.files).toEqual([`${dir}/out/backbone_1234.pth`, `${dir}/out/head_1234.pth`]);
    expect([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort()).toEqual([
      "backbone_1234.pth",
      "head_1234.pth",
    ]);
    await fakeTrainedRun(`${dir}/small`, { inputSize: 16 });
    await expect(exportPytorch(`${dir}/small`, { out: `${dir}/x.pth` })).rejects.toThrow(
      /takes 16x16 inputs; the official modules flatten a 7x7 map/,
    );
    await expect(exportPytorch(`${dir}/run`, { out: `${dir}/y.pth`, source: "opensphere" })).rejects.toThrow(
      /OpenSphere main has no SFNet_deprecated/,
    );
    expect([...Deno.readDirSync(dir)].map((e) => e.name).sort()).toEqual(["out", "run", "small"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export: --to opensphere from a run folder's config; an imported run has none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "export_test_" });
  try {
    await fakeTrainedRun(`${dir}/run`);
    const r = await exportOpenSphereConfig(`${dir}/run`, { out: `${dir}/os/sf2.yml`, branch: "iclr" });
    expect(await Deno.readTextFile(`${dir}/os/sf2.yml`)).toBe(r.yaml);
    expect(r.yaml).toContain(
      "type: sfnet4_deprecated\n    in_channel: 3\n    channels: [8, 16, 32, 64]\n    out_channel: 8",
    );
    await importCheckpoint(`${GOLDEN}/os_main_sfnet4_w0.125_e32/model_20000.pth`, {
      source: "opensphere",
      out: `${dir}/imp`,
    });
    await expect(exportOpenSphereConfig(`${dir}/imp`, { out: `${dir}/z.yml` })).rejects.toThrow(
      /an imported model has no training config/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export task: --help, usage errors, and a config file with overrides to OpenSphere YAML", async () => {
  const help = await runDeno(["tasks/export.ts", "--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/--to pytorch/);
  expect(help.stdout).toMatch(/--branch main/);
  const noTo = await runDeno(["tasks/export.ts", "somewhere", "--out", "x"]);
  expect(noTo.code).toBe(2);
  expect(noTo.stderr).toMatch(/--to pytorch\|opensphere is required/);
  const dir = await Deno.makeTempDir({ prefix: "export_test_" });
  try {
    const refused = await runDeno([
      "tasks/export.ts",
      "configs/train/sec31-sfnet20-sphereface2.json",
      "--to",
      "opensphere",
      "--out",
      `${dir}/main.yml`,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/model\.block: OpenSphere main has only sfnet\.py's block form/);
    const ok = await runDeno([
      "tasks/export.ts",
      "configs/train/sec31-sfnet20-sphereface2.json",
      "--to",
      "opensphere",
      "--branch",
      "iclr",
      "--head.gradForm=through-g",
      "--train.batchSize=1024",
      "--num-workers",
      "2",
      "--out",
      `${dir}/iclr.yml`,
    ]);
    expect(ok.stderr).toBe("wrote OpenSphere iclr config -> " + `${dir}/iclr.yml\n`);
    expect(ok.code).toBe(0);
    const yaml = await Deno.readTextFile(`${dir}/iclr.yml`);
    expect(yaml).toContain("batch_size: 1024");
    expect(yaml).toContain("num_workers: 2");
    expect(yaml).not.toContain("differences");
    expect([...Deno.readDirSync(dir)].map((e) => e.name)).toEqual(["iclr.yml"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
