/**
 * PyTorch ↔ kit mapping: the golden checkpoints come back out of the kit byte for byte (names, order, layouts),
 * configs are inferred from shapes, random kit models survive kit → torch → kit for every source, heads change
 * layout correctly, and a state dict that does not fit is refused with every bad key named.
 */
import * as tf from "@tensorflow/tfjs";
import { expect } from "expect";
import { resolveSource } from "../../lib/interop/import.ts";
import {
  findBackbone,
  headToKit,
  inferModelConfig,
  kitHeadToStateDict,
  kitToStateDict,
  loadKitTensors,
  modelTensors,
  stateDictToKit,
  type TorchSource,
} from "../../lib/interop/mapping.ts";
import type { StateDict } from "../../lib/interop/tensor.ts";
import { readTorchFile } from "../../lib/interop/torch_load.ts";
import { parseModelConfig } from "../../lib/models/config.ts";
import { createModel } from "../../lib/models/registry.ts";
import { useBackend } from "../shared.ts";

const GOLDEN = new URL("../golden/", import.meta.url).pathname;
const golden = JSON.parse(await Deno.readTextFile(`${GOLDEN}backbones.json`)) as {
  cases: {
    name: string;
    checkpoint: string;
    kit_equivalent: Record<string, unknown>;
    source: { repository: string };
  }[];
};
const cases = golden.cases.filter((c, i) => golden.cases.findIndex((d) => d.checkpoint === c.checkpoint) === i);
const family = (c: { source: { repository: string } }) =>
  c.source.repository.includes("insightface") ? "insightface" as const : "opensphere" as const;

const bitsOf = (sd: StateDict, k: string) => {
  const t = sd.get(k)!;
  return [
    t.dtype,
    t.shape,
    t.dtype === "int64" ? [] : Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ];
};

for (const c of cases) {
  Deno.test(`mapping: ${c.name}: shapes give kit_equivalent, and the kit writes the file's state dict back exactly`, async () => {
    await useBackend("cpu");
    const before = tf.memory().numTensors;
    const ck = await readTorchFile(`${GOLDEN}${c.checkpoint}`);
    const found = findBackbone(ck);
    const source: TorchSource = resolveSource(family(c), found.at, found.prefix);
    const config = parseModelConfig(c.kit_equivalent);
    const inferred = inferModelConfig(found.stateDict, { source, file: ck.file });
    for (const k of ["type", "depth", "width", "featDim", "inputSize", "bn", "block"] as const) {
      if (k in c.kit_equivalent) {
        expect([k, (inferred as Record<string, unknown>)[k]]).toEqual([k, c.kit_equivalent[k]]);
      }
    }
    const { tensors } = stateDictToKit(found.stateDict, { source, config, file: ck.file });
    const model = createModel(config, { seed: 1 });
    try {
      loadKitTensors(model, tensors);
      const back = kitToStateDict(model, source, { keyPrefix: "" });
      expect([...back.keys()]).toEqual([...found.stateDict.keys()]);
      for (const k of back.keys()) {
        if (k.endsWith("num_batches_tracked")) {
          expect(back.get(k)!.dtype).toBe("int64");
          continue;
        }
        expect([k, ...bitsOf(back, k)]).toEqual([k, ...bitsOf(found.stateDict, k)]);
      }
      // With the source's own prefix, as the file was saved.
      const prefixed = kitToStateDict(model, source);
      expect([...prefixed.keys()][0].startsWith(found.prefix)).toBe(true);
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
}

const randomConfigs: [TorchSource, Record<string, unknown>][] = [
  ["opensphere-iclr", { type: "sfnet", depth: 10, block: "deprecated", width: 0.0625, featDim: 8 }],
  ["opensphere-v0", { type: "sfnet", depth: 10, block: "deprecated", width: 0.0625, featDim: 8 }],
  ["opensphere", { type: "sfnet", depth: 10, block: "sfnet", bn: true, width: 0.0625, featDim: 8 }],
  ["opensphere", { type: "iresnet", depth: 34, width: 0.0625, featDim: 8, inputSize: 32 }],
  ["insightface", { type: "iresnet", depth: 50, width: 0.03125, featDim: 4 }],
];
for (const [source, raw] of randomConfigs) {
  Deno.test(`mapping: kit -> ${source} -> kit keeps every tensor (${JSON.stringify(raw)})`, async () => {
    await useBackend("cpu");
    const config = parseModelConfig(raw);
    const model = createModel(config, { seed: 3 });
    try {
      const sd = kitToStateDict(model, source, { keyPrefix: "" });
      const hint = config.type === "sfnet" && source === "opensphere-v0" ? { block: "deprecated" } : undefined;
      const back = stateDictToKit(sd, { source, model: hint });
      expect(back.config).toMatchObject(raw);
      const mine = modelTensors(model);
      for (const [name, t] of mine) expect([name, back.tensors.get(name)?.data]).toEqual([name, t.data]);
      if (config.type === "sfnet" && config.block === "deprecated") {
        expect(sd.has(source === "opensphere-iclr" ? "layer1.0.conv.weight" : "layer1.0.conv1.weight")).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });
}

Deno.test("mapping: a state dict that does not fit is refused with every missing, unexpected and mis-shaped key", async () => {
  await useBackend("cpu");
  const config = parseModelConfig({ type: "iresnet", depth: 18, width: 0.0625, featDim: 8 });
  const model = createModel(config, { seed: 1 });
  const sd = kitToStateDict(model, "insightface");
  model.dispose();
  sd.delete("layer2.1.bn3.running_var");
  sd.set("layer9.0.conv1.weight", sd.get("conv1.weight")!);
  const p = sd.get("layer3.0.prelu.weight")!;
  sd.set("layer3.0.prelu.weight", { ...p, shape: [1], data: p.data.slice(0, 1) });
  expect(() => stateDictToKit(sd, { source: "insightface", config, file: "bad.pth" })).toThrow(
    /^bad\.pth: the state dict does not fit IResNet-18 \(w0\.0625\): missing 1: layer2\.1\.bn3\.running_var; unexpected 1: layer9\.0\.conv1\.weight; wrong shape 1: layer3\.0\.prelu\.weight \[1\] \(expected \[16\]\)$/,
  );
  expect(() => inferModelConfig(new Map([["foo.weight", p]]), { source: "opensphere", file: "odd.pth" })).toThrow(
    /odd\.pth: cannot infer the architecture: neither an IResNet/,
  );
});

Deno.test("mapping: heads: OpenSphere main's w is K×d, v0/ICLR's d×K; both map to the kit's d×K and back", async () => {
  for (const [c, layout] of [[cases[0], "Kd"], [cases.find((x) => x.name.startsWith("iclr"))!, "dK"]] as const) {
    const ck = await readTorchFile(`${GOLDEN}${c.checkpoint}`);
    const found = findBackbone(ck);
    const source = resolveSource("opensphere", found.at, found.prefix);
    const head = headToKit(found.head!, 32, source);
    expect([head.featDim, head.numClasses, head.bias!.length]).toEqual([32, 10, 1]);
    const w = found.head!.get("w")!.data as Float32Array;
    // Class 3's centre, element 5, in each layout.
    expect(head.weight[5 * 10 + 3]).toBe(layout === "Kd" ? w[3 * 32 + 5] : w[5 * 10 + 3]);
    const back = kitHeadToStateDict(head, source, "");
    expect(Array.from(back.get("w")!.data as Float32Array)).toEqual(Array.from(w));
    expect(back.get("w")!.shape).toEqual(found.head!.get("w")!.shape);
  }
});

Deno.test("mapping: softmax-family heads: v0/ICLR per-class bias [1, K] and main's bias-free K×d", () => {
  const d = 4;
  const k = 3;
  const w = Float32Array.from({ length: d * k }, (_, i) => i);
  const v0: StateDict = new Map([
    ["w", { dtype: "float32", shape: [d, k], data: w }],
    ["b", { dtype: "float32", shape: [1, k], data: Float32Array.of(1, 2, 3) }],
  ]);
  const head = headToKit(v0, d, "opensphere-v0");
  expect([head.numClasses, Array.from(head.bias!)]).toEqual([k, [1, 2, 3]]);
  expect(kitHeadToStateDict(head, "opensphere-v0", "").get("b")!.shape).toEqual([1, k]);
  const main: StateDict = new Map([["w", { dtype: "float32", shape: [k, d], data: w }]]);
  const h = headToKit(main, d, "opensphere");
  expect([h.numClasses, h.bias, h.weight[1 * k + 2]]).toEqual([k, null, w[2 * d + 1]]);
  expect(() =>
    headToKit(new Map([["w", { dtype: "float32", shape: [5, 6], data: new Float32Array(30) }]]), d, "opensphere")
  )
    .toThrow(/neither axis is the embedding size 4/);
});
