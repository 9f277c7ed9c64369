/**
 * The kit's training config as OpenSphere's YAML for the same experiment, so that paper-scale training runs on
 * OpenSphere's multi-GPU engine (one process per GPU, NCCL) and the result comes back with `deno task import`.
 *
 * Two targets, because the kit's configs span both:
 * - `main` (ydwen/opensphere main, `python main_train.py --cfg_path FILE`): `data.train` / `data.val`, `model.backbone`
 *   (`sfnet{N}` of sfnet.py, `iresnet{N}`), `model.head` (SphereFace2 variant C, SphereFace, CosFace, ArcFace),
 *   `trainer` (ProxyBasedTrainer: amp, max_grad_norm, val_intvl, ckpt_steps, save_steps, optimizer, scheduler,
 *   train_log, val_log). main trains until the last scheduler milestone.
 * - `iclr` (SphereFace2_ICLR21, the paper's code, `python main_train.py --config FILE`): `project` (val_intvl,
 *   save_iters, logs), `data`, `model` (backbone `sfnet{N}_deprecated`, heads SphereFace2C/A/M and the baselines,
 *   optimizer, scheduler, max_grad_norm). It trains until the last of `save_iters`, and supports label noise.
 *
 * What a target cannot express is refused with an error naming the field and the way out (another target, or the
 * config change); what it expresses differently (initialisation, the SphereFace2-C gradient form, the flip
 * probability) is listed as a warning, in the YAML's header and in the result. Both readers build the head's class
 * count and feature size from the data and the backbone, as here.
 *
 * @example
 * ```ts
 * import { toOpenSphereYaml } from "./opensphere_config.ts";
 * import { loadTrainConfig } from "../train/config.ts";
 * const cfg = await loadTrainConfig("configs/train/sec31-sfnet20-sphereface2.json");
 * const { yaml, warnings } = toOpenSphereYaml(cfg, { branch: "iclr" });
 * ```
 * @module
 */
import { z } from "zod";
import { formatZodError } from "../losses/config.ts";
import { stageChannels } from "../models/config.ts";
import { TrainConfigSchema } from "../train/config.ts";

/** The OpenSphere branches a config can be written for, and where each is. */
export const OPENSPHERE_BRANCHES = {
  main: { commit: "a679e82032455941932e23e3d3cbab6b8c07e3d4", run: "python main_train.py --cfg_path" },
  iclr: { commit: "4d17308a644034b46907006fa85fe2a4ef8863f7", run: "python main_train.py --config" },
} as const;
export type OpenSphereBranch = keyof typeof OPENSPHERE_BRANCHES;

export const OpenSphereExportOptionsSchema = z.strictObject({
  /** `main` (the maintained engine; sfnet.py blocks, IResNets) or `iclr` (the paper's code; SFNet_deprecated). */
  branch: z.enum(["main", "iclr"]).default("main"),
  /** DataLoader workers per GPU process (OpenSphere's configs: 4). */
  numWorkers: z.number().int().min(0).max(256).default(4),
});
export type OpenSphereExportOptions = z.input<typeof OpenSphereExportOptionsSchema>;

/** A config the target branch cannot express: the message names the field and the way out. */
export class OpenSphereExportError extends Error {
  override name = "OpenSphereExportError";
}

export interface OpenSphereYaml {
  yaml: string;
  /** Differences the YAML cannot remove (also in its header), one sentence each. */
  warnings: string[];
  branch: OpenSphereBranch;
}

/**
 * Writes `config` (validated here with the kit's schema) as OpenSphere's YAML for `options.branch`.
 * Throws OpenSphereExportError listing every field the branch cannot express.
 */
export function toOpenSphereYaml(config: unknown, options: OpenSphereExportOptions = {}): OpenSphereYaml {
  const parsed = TrainConfigSchema.safeParse(config);
  if (!parsed.success) throw new OpenSphereExportError(formatZodError(parsed.error, "train config"));
  const opts = OpenSphereExportOptionsSchema.safeParse(options);
  if (!opts.success) throw new OpenSphereExportError(formatZodError(opts.error, "export options"));
  const c = parsed.data;
  const { branch, numWorkers } = opts.data;
  const refusals: string[] = [];
  const warnings: string[] = [];
  const refuse = (field: string, why: string) => refusals.push(`${field}: ${why}`);
  const warn = (field: string, why: string) => warnings.push(`${field}: ${why}`);

  // ---- checks shared by both branches ----
  if (c.data.kind !== "list") {
    refuse(
      "data.kind",
      `OpenSphere trains from an image list (data.kind "list": root + list of "relative/path label"), not ` +
        `"${c.data.kind}"`,
    );
  }
  if (c.model.inputSize !== 112) {
    refuse("model.inputSize", `OpenSphere's FC takes a 7x7 map, i.e. 112x112 inputs, got ${c.model.inputSize}`);
  }

  // ---- backbone ----
  let backbone: Record<string, unknown> = {};
  const m = c.model;
  if (m.type === "sfnet") {
    const channels = stageChannels(m.width);
    if (branch === "main") {
      if (m.block !== "sfnet") {
        refuse(
          "model.block",
          `OpenSphere main has only sfnet.py's block form (ReLU(x + conv(ReLU(conv x)))), not SFNet_deprecated's; ` +
            `use --branch iclr, or set model.block to "sfnet"`,
        );
      }
      backbone = { type: `sfnet${m.depth}`, channels, embed_dim: m.featDim };
      if (m.bn) {
        backbone.norm_layer = true;
        if (m.finalBnWeight !== 0.1) {
          warn(
            "model.finalBnWeight",
            `main initialises the final BN1d weight to 0.1, the config to ${m.finalBnWeight}`,
          );
        }
      }
      if (m.init !== "kaiming") {
        warn("model.init", `main initialises convs kaiming-normal (fan_out), the config "${m.init}"`);
      }
    } else {
      if (m.block !== "deprecated") {
        refuse("model.block", `the ICLR branch has only SFNet_deprecated; use --branch main for block "${m.block}"`);
      }
      if (m.bn) refuse("model.bn", "the ICLR branch's SFNet_deprecated has no BatchNorm; use --branch main");
      backbone = { type: `sfnet${m.depth}_deprecated`, in_channel: 3, channels, out_channel: m.featDim };
      if (m.init !== "iclr") {
        warn(
          "model.init",
          `the ICLR branch initialises as "iclr" (xavier stage convs, N(0, 0.01) blocks), the config "${m.init}"`,
        );
      }
    }
  } else {
    if (branch === "iclr") refuse("model.type", "the ICLR branch has no IResNet; use --branch main");
    if (m.width !== 1) {
      refuse(
        "model.width",
        `OpenSphere's IResNet has its widths 64/128/256/512 as literals; width must be 1, got ${m.width}`,
      );
    }
    backbone = { type: `iresnet${m.depth}`, embed_dim: m.featDim };
    if (m.variant !== "main") {
      warn("model.variant", "main trains the final BN1d weight (init 0.1); the config freezes it at 1 (v0)");
    }
  }

  // ---- head ----
  const h = c.head;
  let head: Record<string, unknown> = {};
  if (h.type === "sphereface2") {
    const params = { alpha: h.lambda, r: h.r, m: h.m, t: h.t, lw: h.lw };
    if (branch === "main") {
      if (h.variant !== "C") {
        refuse("head.variant", `OpenSphere main has SphereFace2-C only; use --branch iclr for variant ${h.variant}`);
      }
      if (h.gradForm !== "detached") {
        refuse("head.gradForm", `main's SphereFace2 detaches the margin (gradForm "detached"); use --branch iclr`);
      }
      head = { type: "SphereFace2", ...params, feat_dim: -1, subj_num: -1 };
    } else {
      head = { type: `SphereFace2${h.variant}`, ...params };
      if (h.variant === "C" && h.gradForm !== "through-g") {
        warn(
          "head.gradForm",
          `the ICLR branch's SphereFace2C back-propagates through g ("through-g"), the config is "${h.gradForm}": ` +
            `same loss, different gradients; set head.gradForm to "through-g" for the ICLR experiment`,
        );
      }
      if (h.variant !== "C" && (h.angleEps !== 1e-8 || h.angleMax !== 3.14)) {
        warn(
          "head.angleEps",
          `the ICLR branch clips with eps 1e-8 and theta <= 3.14, the config ${h.angleEps}, ${h.angleMax}`,
        );
      }
    }
  } else if (h.type === "softmax" || h.type === "normface") {
    if (branch === "main") {
      refuse(
        "head.type",
        `OpenSphere main's ${h.type === "softmax" ? "SoftmaxLoss" : "CocoLoss"} takes num_class, which its ` +
          `ProxyBasedTrainer does not pass (it passes subj_num); use --branch iclr`,
      );
    }
    if (h.type === "softmax") {
      if (!h.bias) refuse("head.bias", "the ICLR branch's SoftmaxLoss has a per-class bias; set head.bias to true");
      head = { type: "SoftmaxLoss" };
    } else head = { type: "CocoLoss", s: h.s };
  } else {
    const type = { sphereface: "SphereFace", cosface: "CosFace", arcface: "ArcFace" }[h.type];
    head = { type, s: h.s, m: h.m, ...(branch === "main" ? { feat_dim: -1, subj_num: -1 } : {}) };
  }

  // ---- data ----
  const d = c.data;
  const noiseRatio = "noiseRatio" in d ? d.noiseRatio : 0;
  if (noiseRatio > 0 && branch === "main") {
    refuse("data.noiseRatio", "OpenSphere main has no label noise; use --branch iclr (noise_ratio, seed)");
  }
  const flip = c.train.flip;
  if (flip !== 0.5 && (branch === "iclr" || flip !== 0)) {
    warn(
      "train.flip",
      `OpenSphere flips with probability 0.5${branch === "main" ? " or not at all" : ""}, the config ${flip}`,
    );
  }
  if (refusals.length) {
    throw new OpenSphereExportError(`cannot write ${c.name} for OpenSphere ${branch}:\n  ${refusals.join("\n  ")}`);
  }
  if (d.kind !== "list") throw new Error("unreachable: data.kind was checked");
  const list = d;
  const valRoot = list.valRoot ?? list.root;
  const valNames = list.valPairs.map((p) => p.split("/").pop()!.replace(/\.[^.]*$/, "").replace(/_ann$|_pairs$/, ""));
  const loader = (batch: number, train: boolean) => ({
    type: "DataLoader",
    batch_size: batch,
    shuffle: train,
    drop_last: train,
    num_workers: numWorkers,
    pin_memory: true,
  });

  // ---- schedule ----
  const steps = c.train.steps;
  const milestones = c.train.milestones.filter((s) => s <= steps);
  if (milestones.length < c.train.milestones.length) {
    warn("train.milestones", `milestones after train.steps (${steps}) never apply and are left out`);
  }
  const every = (n: number) => {
    const out: number[] = [];
    if (n > 0) { for (let s = n; s < steps; s += n) out.push(s); }
    out.push(steps);
    return out;
  };
  const optimizer = { type: "SGD", lr: c.train.lr, momentum: c.train.momentum, weight_decay: c.train.weightDecay };
  const maxGradNorm = c.train.gradClip ?? 1e5; // both branches' "off"
  const valEvery = c.validation.every > 0 ? c.validation.every : steps;

  let doc: Record<string, unknown>;
  const header = [
    `OpenSphere ${branch} (ydwen/opensphere @ ${
      OPENSPHERE_BRANCHES[branch].commit.slice(0, 8)
    }) config for the kit's ` +
    `"${c.name}"`,
    "written by `deno task export CONFIG --to opensphere`; run it from an OpenSphere checkout:",
    `  CUDA_VISIBLE_DEVICES=0,1,2,3 ${OPENSPHERE_BRANCHES[branch].run} THIS.yml --proj_dir project`,
    `global batch ${c.train.batchSize} (split over the GPUs: make it divisible by their number), ${steps} iterations`,
  ];
  if (branch === "main") {
    // main reads its own list format (one path per line, identity = the path's folder) and trains to the last
    // milestone, so the run's length is carried by a milestone at `steps` (a drop after the last step changes nothing).
    if (milestones.at(-1) !== steps) milestones.push(steps);
    header.push(
      "main's ClassDataset reads one path per line (the identity is the folder name): make its list from the kit's",
      `  "path label" list with: cut -d' ' -f1 ${list.list} > ${mainList(list.list)}`,
    );
    doc = {
      data: {
        train: {
          dataset: {
            type: "ClassDataset",
            name: c.name,
            data_dir: list.root,
            lst_path: mainList(list.list),
            test_mode: false,
            augment_params: { horizontal_flip: flip > 0, lowres_prob: 0, crop_prob: 0, photo_prob: 0 },
          },
          dataloader: loader(c.train.batchSize, true),
        },
        val: list.valPairs.map((p, i) => ({
          dataset: {
            type: "PairDataset",
            name: valNames[i],
            data_dir: valRoot,
            ann_path: p,
            test_mode: true,
            metrics: ["ACC", "EER", "AUC"],
          },
          dataloader: loader(c.validation.batchSize, false),
        })),
      },
      model: { backbone, head },
      trainer: {
        type: "ProxyBasedTrainer",
        amp: false,
        max_grad_norm: maxGradNorm,
        val_intvl: valEvery,
        ckpt_steps: every(c.checkpoint.every),
        save_steps: [steps],
        optimizer,
        scheduler: { type: "MultiStepLR", milestones, gamma: c.train.gamma },
        train_log: { name: "train", info_intvl: 200, fmt: "6.3f" },
        val_log: { name: "val", info_intvl: 1, fmt: "6.3f" },
      },
    };
  } else {
    const train: Record<string, unknown> = {
      type: "ClassDataset",
      name: c.name,
      data_dir: list.root,
      ann_path: list.list,
      test_mode: false,
    };
    if (noiseRatio > 0) Object.assign(train, { noise_ratio: noiseRatio, seed: list.noiseSeed });
    doc = {
      project: {
        val_intvl: valEvery,
        save_iters: every(c.checkpoint.every),
        train_log: { info_intvl: 200, fmt: "6.3f" },
        val_log: { info_intvl: 1, fmt: "6.3f" },
      },
      data: {
        train: { dataset: train, dataloader: loader(c.train.batchSize, true) },
        val: list.valPairs.map((p, i) => ({
          dataset: {
            type: "PairDataset",
            name: valNames[i],
            data_dir: valRoot,
            ann_path: p,
            test_mode: true,
            metrics: ["ACC"],
          },
          dataloader: loader(c.validation.batchSize, false),
        })),
      },
      model: {
        backbone,
        head,
        optimizer,
        scheduler: { type: "MultiStepLR", gamma: c.train.gamma, milestones },
        max_grad_norm: maxGradNorm,
      },
    };
  }
  if (warnings.length) header.push("differences from the kit's config:", ...warnings.map((w) => `  ${w}`));
  return { yaml: header.map((l) => `# ${l}`.trimEnd()).join("\n") + "\n" + toYaml(doc), warnings, branch };
}

/** The path main's one-column list gets next to the kit's list: `x.txt` → `x.lst`. */
function mainList(list: string): string {
  return list.replace(/(\.[^./]*)?$/, ".lst");
}

// ---- a small deterministic YAML emitter (block mappings, flow lists of scalars) ----

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

const RESERVED = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

/** A scalar as YAML 1.1 (PyYAML's SafeLoader) reads it back: floats carry a '.', strings are quoted when needed. */
export function yamlScalar(v: string | number | boolean | null): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`YAML: ${v} is not a finite number`);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    // YAML 1.1 floats need a '.' in the mantissa and a signed exponent: 1e-5 would read back as a string.
    const s = String(v);
    const m = /^(-?)(\d+)(?:\.(\d+))?e([+-])(\d+)$/.exec(s);
    if (m) return `${m[1]}${m[2]}.${m[3] ?? "0"}e${m[4]}${m[5]}`;
    return s;
  }
  if (/^[A-Za-z_][A-Za-z0-9_\-\/.@=]*$/.test(v) && !RESERVED.test(v)) return v;
  return JSON.stringify(v); // a JSON string is a valid YAML double-quoted scalar
}

/** Block-style YAML of a JSON-like value; keys in insertion order, lists of scalars in flow style. */
export function toYaml(value: unknown, indent = 0): string {
  const pad = " ".repeat(indent);
  const v = value as Yaml;
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== "object")) {
      return `${pad}[${v.map((x) => yamlScalar(x as string)).join(", ")}]\n`;
    }
    return v.map((item) => {
      const body = toYaml(item, indent + 2);
      return `${pad}- ${body.slice(indent + 2)}`;
    }).join("");
  }
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (!entries.length) return `${pad}{}\n`;
    return entries.map(([k, x]) => {
      const key = yamlScalar(k);
      if (x !== null && typeof x === "object") {
        if (Array.isArray(x) && (x.length === 0 || x.every((y) => y === null || typeof y !== "object"))) {
          return `${pad}${key}: ${toYaml(x).trim()}\n`;
        }
        if (!Array.isArray(x) && !Object.keys(x).length) return `${pad}${key}: {}\n`;
        return `${pad}${key}:\n${toYaml(x, indent + 2)}`;
      }
      return `${pad}${key}: ${yamlScalar(x)}\n`;
    }).join("");
  }
  return `${pad}${yamlScalar(v as string)}\n`;
}
