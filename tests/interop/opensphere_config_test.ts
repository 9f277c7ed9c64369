/**
 * The kit's training configs as OpenSphere YAML: every paper config of the kit for the ICLR branch (the paper's
 * code), an IResNet config for main, read back with PyYAML's SafeLoader (as both branches' main_train.py read it;
 * Debian's /usr/bin/python3 + python3-yaml, ignored with a message when absent), and checked against what the
 * branches' readers take: the constructor arguments of their datasets, heads and backbones (from the source at
 * the commits in OPENSPHERE_BRANCHES; listed here, the code itself is not in the kit), torch's DataLoader, SGD and
 * MultiStepLR signatures when torch is there, and the keys their trainers index.
 */
import { expect } from "expect";
import { OpenSphereExportError, toOpenSphereYaml, toYaml, yamlScalar } from "../../lib/interop/opensphere_config.ts";
import { applyOverrides, loadTrainConfig, parseTrainConfig } from "../../lib/train/config.ts";
import { REPO } from "../shared.ts";

const PYTHON = "/usr/bin/python3";

async function python(script: string, stdin: string): Promise<{ code: number; out: string; err: string }> {
  try {
    const child = new Deno.Command(PYTHON, { args: ["-c", script], stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
    const r = await child.output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  } catch {
    return { code: -1, out: "", err: `${PYTHON} not found` };
  }
}

const YAML_OK = (await python("import yaml", "")).code === 0;
if (!YAML_OK) {
  console.warn(
    `opensphere_config_test: ${PYTHON} cannot import yaml; the PyYAML read-back tests are ignored ` +
      `(install Debian's python3-yaml, as .ci/run does)`,
  );
}

/** A YAML document as PyYAML reads it (untyped: the tests check its shape). */
// deno-lint-ignore no-explicit-any
type Doc = any;

/** yaml.safe_load of stdin, printed back as JSON. */
async function readYaml(text: string): Promise<Doc> {
  const r = await python("import json, sys, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin)))", text);
  if (r.code !== 0) throw new Error(`PyYAML could not read the YAML:\n${r.err}\n${text}`);
  return JSON.parse(r.out);
}

/**
 * Constructor arguments at the commits of OPENSPHERE_BRANCHES (besides `self`), and those required (no default);
 * `feat_dim` and the class count are filled in by the trainers.
 */
const SIGNATURES = {
  iclr: {
    ClassDataset: {
      args: ["name", "data_dir", "ann_path", "test_mode", "noise_ratio", "seed"],
      required: ["name", "data_dir", "ann_path"],
    },
    PairDataset: {
      args: ["name", "data_dir", "ann_path", "metrics", "test_mode"],
      required: ["name", "data_dir", "ann_path"],
    },
    backbone: { args: ["in_channel", "channels", "out_channel"], required: [] },
    SphereFace2C: { args: ["alpha", "r", "m", "t", "lw"], required: [] },
    SphereFace2A: { args: ["alpha", "r", "m", "t", "lw"], required: [] },
    SphereFace2M: { args: ["alpha", "r", "m", "t", "lw"], required: [] },
    SoftmaxLoss: { args: [], required: [] },
    CocoLoss: { args: ["s"], required: [] },
    SphereFace: { args: ["s", "m"], required: [] },
    CosFace: { args: ["s", "m"], required: [] },
    ArcFace: { args: ["s", "m"], required: [] },
  },
  main: {
    ClassDataset: {
      args: ["data_dir", "lst_path", "test_mode", "augment_params", "name"],
      required: ["data_dir", "lst_path"],
    },
    PairDataset: {
      args: ["name", "data_dir", "ann_path", "metrics", "test_mode"],
      required: ["name", "data_dir", "ann_path"],
    },
    backbone: {
      args: ["channels", "embed_dim", "norm_layer", "in_channel", "dropout", "zero_init_residual"],
      required: ["embed_dim"],
    },
    iresnet: { args: ["embed_dim", "dropout", "zero_init_residual"], required: ["embed_dim"] },
    SphereFace2: { args: ["feat_dim", "subj_num", "alpha", "r", "m", "t", "lw"], required: [] },
    SphereFace: { args: ["feat_dim", "subj_num", "s", "m"], required: [] },
    CosFace: { args: ["feat_dim", "subj_num", "s", "m"], required: [] },
    ArcFace: { args: ["feat_dim", "subj_num", "s", "m"], required: [] },
  },
} as const;

function checkArgs(obj: Record<string, unknown>, sig: { args: readonly string[]; required: readonly string[] }) {
  const { type: _type, ...args } = obj;
  for (const k of Object.keys(args)) expect(sig.args).toContain(k);
  for (const k of sig.required) expect(Object.keys(args)).toContain(k);
}

const TORCH_SIGS = `
import inspect, json, sys, torch
y = json.load(sys.stdin)
ok = []
def check(fn, kwargs, skip):
    params = inspect.signature(fn).parameters
    bad = [k for k in kwargs if k not in params and k not in skip]
    assert not bad, (fn, bad)
    ok.append(fn.__name__)
for loader in y["loaders"]:
    check(torch.utils.data.DataLoader, loader, {"type"})
check(torch.optim.SGD, y["optimizer"], {"type"})
check(torch.optim.lr_scheduler.MultiStepLR, y["scheduler"], {"type"})
print(json.dumps(ok))
`;

const PAPER = [
  "sec31-sfnet20-sphereface2",
  "sec31-sfnet20-sphereface",
  "sec31-sfnet20-cosface",
  "sec31-sfnet20-arcface",
  "sec31-sfnet20-normface",
  "sec31-sfnet20-softmax",
  "sec32-sfnet64-sphereface2",
  "sec32-sfnet64-arcface",
  "sec33-sfnet20-sphereface2-noise60",
  "appendix-sfnet20-sphereface2-a",
  "appendix-sfnet20-sphereface2-m",
];

for (const name of PAPER) {
  Deno.test({
    name: `opensphere config: ${name} as the ICLR branch's YAML reads back with the paper's settings`,
    ignore: !YAML_OK,
    fn: async () => {
      const cfg = await loadTrainConfig(`${REPO}configs/train/${name}.json`);
      const { yaml, warnings } = toOpenSphereYaml(cfg, { branch: "iclr" });
      const y = await readYaml(yaml);
      const sig = SIGNATURES.iclr;
      // project: the trainer indexes val_intvl, save_iters, train_log, val_log; it stops at max(save_iters).
      expect(Object.keys(y.project).sort()).toEqual(["save_iters", "train_log", "val_intvl", "val_log"]);
      expect(Math.max(...y.project.save_iters)).toBe(cfg.train.steps);
      expect(y.project.val_intvl).toBe(cfg.validation.every);
      // data
      const train = y.data.train;
      expect(train.dataset.type).toBe("ClassDataset");
      checkArgs(train.dataset, sig.ClassDataset);
      expect(train.dataset.data_dir).toBe(cfg.data.kind === "list" && cfg.data.root);
      expect(train.dataset.ann_path).toBe(cfg.data.kind === "list" && cfg.data.list);
      expect(train.dataset.test_mode).toBe(false);
      expect(train.dataloader).toMatchObject({
        type: "DataLoader",
        batch_size: cfg.train.batchSize,
        shuffle: true,
        drop_last: true,
      });
      if (cfg.data.noiseRatio > 0) {
        expect(train.dataset.noise_ratio).toBe(0.6);
        expect(train.dataset.seed).toBe(10086);
      } else expect(train.dataset.noise_ratio).toBeUndefined();
      expect(y.data.val.map((v: Doc) => v.dataset.ann_path)).toEqual(cfg.data.kind === "list" && cfg.data.valPairs);
      for (const v of y.data.val) {
        expect(v.dataset.type).toBe("PairDataset");
        checkArgs(v.dataset, sig.PairDataset);
        expect(v.dataset.metrics[0]).toBe("ACC"); // the ICLR trainer logs metrics[0]
      }
      // model
      const m = y.model;
      expect(m.backbone).toEqual({
        type: `sfnet${cfg.model.type === "sfnet" && cfg.model.depth}_deprecated`,
        in_channel: 3,
        channels: [64, 128, 256, 512],
        out_channel: 512,
      });
      const h = cfg.head;
      const headType = m.head.type as keyof typeof sig;
      checkArgs(m.head, sig[headType]);
      if (h.type === "sphereface2") {
        expect(m.head).toEqual({ type: `SphereFace2${h.variant}`, alpha: 0.7, r: 40, m: h.m, t: 3, lw: 10 });
        if (h.variant === "C") expect(warnings.join()).toMatch(/head\.gradForm/);
      } else if (h.type === "softmax") expect(m.head).toEqual({ type: "SoftmaxLoss" });
      else if (h.type === "normface") expect(m.head).toEqual({ type: "CocoLoss", s: h.s });
      else {
        const type = { sphereface: "SphereFace", cosface: "CosFace", arcface: "ArcFace" }[h.type];
        expect(m.head).toEqual({ type, s: h.s, m: h.m });
      }
      expect(m.optimizer).toEqual({ type: "SGD", lr: 0.1, momentum: 0.9, weight_decay: 0.0005 });
      expect(m.scheduler).toEqual({ type: "MultiStepLR", gamma: 0.1, milestones: [40000, 60000, 80000] });
      expect(m.max_grad_norm).toBe(1e5);
      expect(yaml.startsWith("# OpenSphere iclr")).toBe(true);
    },
  });
}

/** OpenSphere main's own ms1m_iresnet100_sphereface2 experiment, written as a kit config. */
function ms1mConfig(): unknown {
  return applyOverrides({
    name: "ms1m-iresnet100-sphereface2",
    model: { type: "iresnet", depth: 100 },
    head: { type: "sphereface2", lambda: 0.8, r: 64, m: 0.5, t: 3, lw: 50 },
    data: {
      kind: "list",
      root: "data/train/ms1m_112x112",
      list: "data/train/ms1m_train_ann.txt",
      valRoot: "data/val/",
      valPairs: ["data/val/combined_ann.txt"],
    },
    train: { steps: 240000, batchSize: 512, milestones: [80000, 140000, 200000, 240000], gradClip: 100 },
    checkpoint: { every: 60000 },
    validation: { every: 10000, batchSize: 128 },
  }, []);
}

Deno.test({
  name: "opensphere config: main's ms1m_iresnet100_sphereface2 from a kit config, with every key main's trainer reads",
  ignore: !YAML_OK,
  fn: async () => {
    const { yaml, warnings } = toOpenSphereYaml(ms1mConfig());
    expect(warnings).toEqual([]);
    const y = await readYaml(yaml);
    const sig = SIGNATURES.main;
    expect(Object.keys(y)).toEqual(["data", "model", "trainer"]);
    const train = y.data.train;
    expect(train.dataset).toMatchObject({
      type: "ClassDataset",
      data_dir: "data/train/ms1m_112x112",
      lst_path: "data/train/ms1m_train_ann.lst",
    });
    expect(train.dataset.augment_params).toEqual({
      horizontal_flip: true,
      lowres_prob: 0,
      crop_prob: 0,
      photo_prob: 0,
    });
    checkArgs(train.dataset, sig.ClassDataset);
    expect(train.dataloader.batch_size).toBe(512);
    expect(y.data.val).toHaveLength(1);
    checkArgs(y.data.val[0].dataset, sig.PairDataset);
    expect(y.data.val[0].dataset).toMatchObject({
      name: "combined",
      data_dir: "data/val/",
      ann_path: "data/val/combined_ann.txt",
    });
    expect(y.model.backbone).toEqual({ type: "iresnet100", embed_dim: 512 });
    checkArgs(y.model.backbone, sig.iresnet);
    expect(y.model.head).toEqual({
      type: "SphereFace2",
      alpha: 0.8,
      r: 64,
      m: 0.5,
      t: 3,
      lw: 50,
      feat_dim: -1,
      subj_num: -1,
    });
    checkArgs(y.model.head, sig.SphereFace2);
    const t = y.trainer;
    // BaseTrainer.init_settings / init_loggers / ProxyBasedTrainer index these.
    expect(t).toMatchObject({
      type: "ProxyBasedTrainer",
      amp: false,
      max_grad_norm: 100,
      val_intvl: 10000,
      ckpt_steps: [60000, 120000, 180000, 240000],
      save_steps: [240000],
      optimizer: { type: "SGD", lr: 0.1, momentum: 0.9, weight_decay: 0.0005 },
      scheduler: { type: "MultiStepLR", milestones: [80000, 140000, 200000, 240000], gamma: 0.1 },
      train_log: { name: "train", info_intvl: 200, fmt: "6.3f" },
      val_log: { name: "val", info_intvl: 1, fmt: "6.3f" },
    });
    expect(Math.max(...t.scheduler.milestones)).toBe(240000); // main's max_step
    expect(yaml).toContain("cut -d' ' -f1 data/train/ms1m_train_ann.txt > data/train/ms1m_train_ann.lst");
  },
});

Deno.test({
  name: "opensphere config: loaders, SGD and MultiStepLR arguments are torch's own (inspect.signature)",
  ignore: !YAML_OK || (await python("import torch", "")).code !== 0,
  fn: async () => {
    for (
      const [cfg, branch] of [[ms1mConfig(), "main"], [
        await loadTrainConfig(`${REPO}configs/train/sec31-sfnet20-sphereface2.json`),
        "iclr",
      ]] as const
    ) {
      const y = await readYaml(toOpenSphereYaml(cfg, { branch }).yaml);
      const opt = branch === "main" ? y.trainer : y.model;
      const loaders = [y.data.train.dataloader, ...y.data.val.map((v: Doc) => v.dataloader)];
      const r = await python(
        TORCH_SIGS,
        JSON.stringify({ loaders, optimizer: opt.optimizer, scheduler: opt.scheduler }),
      );
      expect(r.err).toBe("");
      expect(JSON.parse(r.out)).toContain("MultiStepLR");
    }
  },
});

Deno.test("opensphere config: main's SFNet and the schedule's end (a milestone at the last step)", () => {
  const cfg = applyOverrides(ms1mConfig(), [
    '--model={"type":"sfnet","depth":20,"block":"sfnet","bn":true,"width":0.5,"finalBnWeight":0.1,"init":"v0"}',
    "--train.steps=1000",
    "--train.milestones=[500,2000]",
    "--checkpoint.every=400",
  ]);
  const { yaml, warnings } = toOpenSphereYaml(cfg, { branch: "main" });
  expect(yaml).toContain("type: sfnet20\n    channels: [32, 64, 128, 256]\n    embed_dim: 512\n    norm_layer: true\n");
  expect(yaml).toContain("milestones: [500, 1000]");
  expect(yaml).toContain("ckpt_steps: [400, 800, 1000]");
  expect(warnings.join("\n")).toMatch(/train\.milestones: milestones after train\.steps \(1000\)/);
  expect(warnings.join("\n")).toMatch(/model\.init: main initialises convs kaiming/);
});

Deno.test("opensphere config: what a branch cannot express is refused, each field named with the way out", async () => {
  const sec31 = await loadTrainConfig(`${REPO}configs/train/sec31-sfnet20-sphereface2.json`);
  const err = (cfg: unknown, branch: "main" | "iclr") => {
    try {
      toOpenSphereYaml(cfg, { branch });
    } catch (e) {
      expect(e).toBeInstanceOf(OpenSphereExportError);
      return (e as Error).message;
    }
    throw new Error("expected a refusal");
  };
  expect(err(sec31, "main")).toMatch(/model\.block: OpenSphere main has only sfnet\.py's block form.*--branch iclr/);
  const a = await loadTrainConfig(`${REPO}configs/train/appendix-sfnet20-sphereface2-a.json`);
  expect(err(a, "main")).toMatch(
    /head\.variant: OpenSphere main has SphereFace2-C only; use --branch iclr for variant A/,
  );
  const noisy = await loadTrainConfig(`${REPO}configs/train/sec33-sfnet20-sphereface2-noise60.json`);
  expect(err(noisy, "main")).toMatch(/data\.noiseRatio: OpenSphere main has no label noise/);
  const softmax = await loadTrainConfig(`${REPO}configs/train/sec31-sfnet20-softmax.json`);
  expect(err(softmax, "main")).toMatch(/head\.type: OpenSphere main's SoftmaxLoss takes num_class/);
  const toy = await loadTrainConfig(`${REPO}configs/train/toy-sfnet4-sphereface2.json`);
  const toyErr = err(toy, "iclr");
  expect(toyErr).toMatch(/data\.kind: OpenSphere trains from an image list/);
  expect(toyErr).toMatch(/model\.inputSize: .*got 16|model\.inputSize/);
  expect(err(ms1mConfig(), "iclr")).toMatch(/model\.type: the ICLR branch has no IResNet/);
  expect(err(applyOverrides(ms1mConfig(), ["--model.width=0.5"]), "main")).toMatch(/model\.width: .*width must be 1/);
  expect(err({ name: "x" }, "main")).toMatch(/train config: model/);
});

Deno.test("opensphere config: the same config gives the same bytes; the header says how to run it", () => {
  const cfg = parseTrainConfig(ms1mConfig());
  const a = toOpenSphereYaml(cfg).yaml;
  expect(toOpenSphereYaml(structuredClone(cfg)).yaml).toBe(a);
  expect(a).toMatch(/^# OpenSphere main \(ydwen\/opensphere @ a679e820\)/);
  expect(a).toContain("CUDA_VISIBLE_DEVICES=0,1,2,3 python main_train.py --cfg_path THIS.yml --proj_dir project");
});

Deno.test({
  name: "opensphere config: YAML scalars read back by PyYAML as the values written",
  ignore: !YAML_OK,
  fn: async () => {
    const value = {
      floats: [1e-5, 1e-7, 0.0005, 1e21, -2.5e-8, 0.1, 3],
      strings: ["yes", "no", "null", "6.3f", "1e-4", "data/val/x.txt", "../up", "a b", "TPR@FPR=1e-4", "", "é"],
      bools: [true, false],
      nothing: null,
      nested: { empty: {}, list: [], objects: [{ a: 1, b: { c: [1, 2] } }, { a: 2 }] },
    };
    expect(await readYaml(toYaml(value))).toEqual(value);
    expect(yamlScalar(1e-7)).toBe("1.0e-7"); // String(1e-7) is "1e-7", which YAML 1.1 reads as a string
    expect(yamlScalar("on")).toBe('"on"');
  },
});
