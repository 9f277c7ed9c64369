/**
 * Export → PyTorch `load_state_dict(strict=True)` → the same embeddings as the kit, in Debian's PyTorch (ignored
 * with a message when /usr/bin/python3 cannot import torch).
 *
 * The official modules are not in the kit, so the PyTorch side is the test's own small nn.Modules (below), written
 * from the architecture facts in tests/golden/PROVENANCE-backbones.md with the official key names. They are held to
 * the official code first: each loads every golden checkpoint with `strict=True` (so its keys, order and shapes are
 * the official module's) and reproduces the golden embedding, which the official module computed, within the case's
 * tolerance. Then kit models of each family (SFNet sfnet.py with BN, SFNet_deprecated, IResNet), random weights and
 * BN statistics, are exported with the kit's writer and run there on the same crops: the embeddings match the kit's.
 */
import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { kitToStateDict, type TorchSource } from "../../lib/interop/mapping.ts";
import { writeTorchSave } from "../../lib/interop/torch_save.ts";
import { readImage, toInputArray } from "../../lib/data/image.ts";
import { createModel } from "../../lib/models/registry.ts";
import { REPO, useBackend } from "../shared.ts";

const PYTHON = "/usr/bin/python3";
const TORCH = await (async () => {
  try {
    return (await new Deno.Command(PYTHON, { args: ["-c", "import torch"], stderr: "null" }).output()).code === 0;
  } catch {
    return false;
  }
})();
if (!TORCH) {
  console.warn(`export_embedding_test: ${PYTHON} cannot import torch; the PyTorch embedding checks are ignored`);
}

/**
 * argv: spec.json, input.bin (NHWC float32), checkpoint, out.bin. spec: {config (kit model config), at (container
 * key or null), prefix}. Prints the embedding [N, d] as float32 to out.bin.
 */
const FORWARD = `
import json, sys, numpy as np, torch, torch.nn as nn
torch.set_num_threads(1)
spec = json.load(open(sys.argv[1]))
cfg = spec["config"]
ch = [max(1, round(c * cfg["width"])) for c in (64, 128, 256, 512)]
d = cfg["featDim"]
I = nn.Identity
def conv(i, o, s=1, bias=True): return nn.Conv2d(i, o, 3, s, 1, bias=bias)

class Stage(nn.Module):      # sfnet.py ConvBlock: conv1, bn1, relu
    def __init__(s, i, o, bn, deprecated):
        super().__init__()
        if deprecated: s.conv = conv(i, o, 2)
        else: s.conv1 = conv(i, o, 2, not bn); s.bn1 = nn.BatchNorm2d(o) if bn else I()
        s.dep = deprecated
    def forward(s, x): return torch.relu(s.conv(x) if s.dep else s.bn1(s.conv1(x)))
class Block(nn.Module):      # sfnet.py BasicBlock / SFNet_deprecated block
    def __init__(s, c, bn, deprecated):
        super().__init__()
        s.conv1 = conv(c, c, 1, not bn); s.bn1 = nn.BatchNorm2d(c) if bn else I()
        s.conv2 = conv(c, c, 1, not bn); s.bn2 = nn.BatchNorm2d(c) if bn else I()
        s.dep = deprecated
    def forward(s, x):
        y = s.bn2(s.conv2(torch.relu(s.bn1(s.conv1(x)))))
        return x + torch.relu(y) if s.dep else torch.relu(x + y)
class SFNet(nn.Module):
    def __init__(s):
        super().__init__()
        bn, dep = cfg.get("bn", False), cfg.get("block") == "deprecated"
        s.features = nn.BatchNorm1d(d) if bn else I()          # assigned first, as in sfnet.py
        blocks = {4: [0,0,0,0], 10: [0,1,2,0], 20: [1,2,4,1], 36: [2,4,8,2], 64: [3,8,16,3]}[cfg["depth"]]
        for n, (i, o) in enumerate(zip([3] + ch[:3], ch)):
            setattr(s, "layer%d" % (n + 1), nn.Sequential(Stage(i, o, bn, dep), *[Block(o, bn, dep) for _ in range(blocks[n])]))
        s.fc = nn.Linear(ch[3] * 49, d)
    def forward(s, x):
        for n in range(4): x = getattr(s, "layer%d" % (n + 1))(x)
        return s.features(s.fc(torch.flatten(x, 1)))
class IBlock(nn.Module):     # IBasicBlock
    def __init__(s, i, o, stride):
        super().__init__()
        s.bn1 = nn.BatchNorm2d(i); s.conv1 = conv(i, o, 1, False); s.bn2 = nn.BatchNorm2d(o)
        s.prelu = nn.PReLU(o); s.conv2 = conv(o, o, stride, False); s.bn3 = nn.BatchNorm2d(o)
        s.downsample = nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o)) if stride != 1 or i != o else None
    def forward(s, x):
        y = s.bn3(s.conv2(s.prelu(s.bn2(s.conv1(s.bn1(x))))))
        return y + (s.downsample(x) if s.downsample is not None else x)
class IResNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = conv(3, ch[0], 1, False); s.bn1 = nn.BatchNorm2d(ch[0]); s.prelu = nn.PReLU(ch[0])
        layers = {18: [2,2,2,2], 34: [3,4,6,3], 50: [3,4,14,3], 100: [3,13,30,3]}[cfg["depth"]]
        i = ch[0]
        for n, o in enumerate(ch):
            setattr(s, "layer%d" % (n + 1), nn.Sequential(*[IBlock(i if b == 0 else o, o, 2 if b == 0 else 1) for b in range(layers[n])]))
            i = o
        s.bn2 = nn.BatchNorm2d(ch[3]); s.fc = nn.Linear(ch[3] * 49, d); s.features = nn.BatchNorm1d(d)
    def forward(s, x):
        x = s.prelu(s.bn1(s.conv1(x)))
        for n in range(4): x = getattr(s, "layer%d" % (n + 1))(x)
        return s.features(s.fc(torch.flatten(s.bn2(x), 1)))

net = SFNet() if cfg["type"] == "sfnet" else IResNet()
obj = torch.load(sys.argv[3], map_location="cpu")
sd = obj[spec["at"]] if spec["at"] else obj
p = spec["prefix"]
sd = type(sd)((k[len(p):], v) for k, v in sd.items())
net.load_state_dict(sd, strict=True)
net.eval()
x = torch.from_numpy(np.fromfile(sys.argv[2], dtype="<f4").reshape(-1, 112, 112, 3)).permute(0, 3, 1, 2).contiguous()
with torch.no_grad(): e = net(x)
e.numpy().astype("<f4").tofile(sys.argv[4])
print("ok")
`;

async function torchForward(
  dir: string,
  spec: { config: unknown; at: string | null; prefix: string },
  input: Float32Array,
  checkpoint: string,
): Promise<Float32Array> {
  await Deno.writeTextFile(`${dir}/spec.json`, JSON.stringify(spec));
  await Deno.writeFile(`${dir}/input.bin`, new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
  const r = await new Deno.Command(PYTHON, {
    args: ["-c", FORWARD, `${dir}/spec.json`, `${dir}/input.bin`, checkpoint, `${dir}/out.bin`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  if (r.code !== 0) throw new Error(`PyTorch forward failed:\n${err}`);
  const bytes = await Deno.readFile(`${dir}/out.bin`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** |got − want| ≤ abs + rel·|want| elementwise; returns the worst fraction of the allowance. */
function worst(got: Float32Array, want: ArrayLike<number>, abs: number, rel: number): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < got.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / (abs + rel * Math.abs(want[i])));
  return w;
}

interface Case {
  name: string;
  checkpoint: string;
  checkpoint_format: string;
  checkpoint_layout: { backbone_at: string[]; key_prefix: string };
  kit_equivalent: Record<string, unknown>;
  images: string[];
  mode: string;
  embedding: number[][];
  tolerance: { abs: number; rel: number };
}
const GOLDEN = `${REPO}tests/golden`;
const cases = (JSON.parse(await Deno.readTextFile(`${GOLDEN}/backbones.json`)).cases as Case[])
  .filter((c) => c.mode === "eval" && c.checkpoint_format === "zip");

async function crops(images: string[]): Promise<Float32Array> {
  return toInputArray(await Promise.all(images.map((p) => readImage(`${GOLDEN}/${p}`))));
}

Deno.test({
  name: "export embeddings: the test's PyTorch modules load every golden checkpoint strictly and give its embedding",
  ignore: !TORCH,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "export_embedding_test_" });
    try {
      for (const c of cases) {
        const got = await torchForward(
          dir,
          {
            config: c.kit_equivalent,
            at: c.checkpoint_layout.backbone_at[0] ?? null,
            prefix: c.checkpoint_layout.key_prefix,
          },
          await crops(c.images),
          `${GOLDEN}/${c.checkpoint}`,
        );
        const w = worst(got, c.embedding.flat(), c.tolerance.abs, c.tolerance.rel);
        expect([c.name, w <= 1]).toEqual([c.name, true]);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const KIT_MODELS: { config: Record<string, unknown>; source: TorchSource; at: string | null; prefix: string }[] = [
  {
    config: { type: "sfnet", depth: 10, block: "sfnet", bn: true, width: 0.125, featDim: 16 },
    source: "opensphere",
    at: "backbone",
    prefix: "",
  },
  {
    config: { type: "sfnet", depth: 10, block: "deprecated", width: 0.125, featDim: 16 },
    source: "opensphere-iclr",
    at: "backbone",
    prefix: "module.",
  },
  { config: { type: "iresnet", depth: 18, width: 0.0625, featDim: 16 }, source: "insightface", at: null, prefix: "" },
];

Deno.test({
  name: "export embeddings: kit models exported as each source give the kit's embeddings in PyTorch (strict=True)",
  ignore: !TORCH,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir({ prefix: "export_embedding_test_" });
    const input = await crops(cases[0].images.concat(cases[3].images));
    const before = tf.memory().numTensors;
    try {
      for (const [i, m] of KIT_MODELS.entries()) {
        const model = createModel({ ...m.config, inputSize: 112 }, { seed: 11 + i }, "model");
        try {
          // Non-trivial BN statistics, so that eval-mode BN is exercised (fresh ones are 0 and 1).
          for (const [name, v] of model.variables) {
            if (/running(Mean|Var)$/.test(name)) {
              const n = v.shape[0];
              const vals = Float32Array.from(
                { length: n },
                (_, k) => name.endsWith("Var") ? 0.5 + (k % 7) / 5 : (k % 5) / 10 - 0.2,
              );
              const t = tf.tensor1d(vals);
              v.assign(t);
              t.dispose();
            }
          }
          const x = tf.tensor4d(input, [input.length / (112 * 112 * 3), 112, 112, 3]);
          const e = model.forward(x, false);
          const kit = e.dataSync() as Float32Array;
          x.dispose();
          e.dispose();
          const file = `${dir}/m${i}.pth`;
          const sd = kitToStateDict(model, m.source);
          await writeTorchSave(file, m.at ? new Map([[m.at, sd]]) : sd);
          const got = await torchForward(dir, { config: m.config, at: m.at, prefix: m.prefix }, input, file);
          let max = 0;
          for (const v of kit) max = Math.max(max, Math.abs(v));
          const w = worst(got, kit, 1e-4 * max, 1e-4);
          expect([m.source, w <= 1]).toEqual([m.source, true]);
        } finally {
          model.dispose();
        }
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
