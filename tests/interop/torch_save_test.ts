/**
 * The PyTorch checkpoint writer against torch itself (Debian's /usr/bin/python3 + python3-torch; these tests are
 * ignored with a message when it cannot import torch):
 * - every zip golden checkpoint, its tensors and `_metadata` taken out by torch and written back by the kit, gives
 *   the golden file byte for byte (same pickle, same zip layout);
 * - written with inferred `_metadata`, torch.load gives the golden keys in order, dtypes, shapes and bit-identical
 *   values, and the inferred module versions agree with torch's;
 * - every dtype the kit writes gives the bytes torch.save writes for the same tensors.
 * Without torch, the zip structure (64-byte alignment, CRCs, determinism) and the input checks are still tested.
 */
import { expect } from "expect";
import { crc32, encodeTorchSave, inferModuleVersions, writeTorchSave } from "../../lib/interop/torch_save.ts";
import { type StateDict, type TorchDType, type TorchTensor, typedArrayOf } from "../../lib/interop/tensor.ts";
import { REPO } from "../shared.ts";

const PYTHON = "/usr/bin/python3";

async function python(script: string, args: string[] = []): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await new Deno.Command(PYTHON, { args: ["-c", script, ...args], stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  } catch {
    return { code: -1, out: "", err: `${PYTHON} not found` };
  }
}

const TORCH = (await python("import torch")).code === 0;
if (!TORCH) {
  console.warn(
    `torch_save_test: ${PYTHON} cannot import torch; the tests against PyTorch are ignored ` +
      `(install Debian's python3-torch, as .ci/run does)`,
  );
}

const GOLDEN = `${REPO}tests/golden/backbones`;
/** The zip-format golden checkpoints (the legacy one is read-only history: the kit writes the zip format). */
const ZIP_GOLDENS = [
  "os_main_sfnet4_w0.125_e32/model_20000.pth",
  "os_main_sfnet20bn_w0.125_e32/model_20000.pth",
  "os_main_sfnet20bn_w0.125_e32/bn_stats_after_train_forward.pth",
  "iclr_sfnet20dep_w0.125_e32/checkpoint_80000.pth",
  "os_main_iresnet18_w0.125_e32/model_20000.pth",
  "if_iresnet18_w0.0625_e32/model.pt",
  "os_v0_iresnet18_w0.0625_e32/backbone_70000.pth",
];

/** torch.load(FILE) → OUT/manifest.json + one raw little-endian .bin per tensor. */
const DUMP = `
import collections, json, os, sys, torch
src, out = sys.argv[1], sys.argv[2]
obj = torch.load(src, map_location="cpu")
def dump_sd(name, sd):
    meta = getattr(sd, "_metadata", None)
    keys = []
    for k, t in sd.items():
        f = "%d.bin" % len(os.listdir(out))
        open(os.path.join(out, f), "wb").write(t.contiguous().view(torch.uint8).numpy().tobytes() if t.dim() else t.reshape(1).view(torch.uint8).numpy().tobytes())
        keys.append({"key": k, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "file": f})
    return {"name": name, "ordered": type(sd) is collections.OrderedDict, "keys": keys,
            "metadata": None if meta is None else [[p, v["version"]] for p, v in meta.items()]}
if all(isinstance(v, torch.Tensor) for v in obj.values()):
    m = {"nested": False, "dicts": [dump_sd("", obj)]}
else:
    m = {"nested": True, "dicts": [dump_sd(k, v) for k, v in obj.items()]}
json.dump(m, open(os.path.join(out, "manifest.json"), "w"))
`;

/** Compares two files as torch.load sees them; prints one JSON line. */
const COMPARE = `
import collections, json, sys, torch
a = torch.load(sys.argv[1], map_location="cpu")
b = torch.load(sys.argv[2], map_location="cpu")
problems = []
def same_sd(name, x, y):
    if type(x) is not type(y): problems.append("%s: type %s vs %s" % (name, type(x).__name__, type(y).__name__))
    if list(x.keys()) != list(y.keys()): problems.append("%s: keys differ" % name); return
    for k in x:
        s, t = x[k], y[k]
        if s.dtype != t.dtype or s.shape != t.shape or s.stride() != t.stride():
            problems.append("%s.%s: %s %s vs %s %s" % (name, k, s.dtype, tuple(s.shape), t.dtype, tuple(t.shape)))
        elif not torch.equal(s.reshape(-1).view(torch.uint8), t.reshape(-1).view(torch.uint8)):
            problems.append("%s.%s: values differ" % (name, k))
    ma, mb = getattr(x, "_metadata", None), getattr(y, "_metadata", None)
    if mb is not None:
        if ma is None: problems.append("%s: no _metadata" % name)
        else:
            for p, v in ma.items():
                if p not in mb: problems.append("%s: _metadata[%r] not a module of the original" % (name, p))
                elif mb[p] != v: problems.append("%s: _metadata[%r] %r vs %r" % (name, p, v, mb[p]))
nested = not all(isinstance(v, torch.Tensor) for v in a.values())
if nested:
    if type(a) is not type(b) or list(a) != list(b): problems.append("top level differs")
    else:
        for k in a: same_sd(k, a[k], b[k])
else: same_sd("(root)", a, b)
print(json.dumps({"problems": problems, "tensors": sum(len(v) for v in a.values()) if nested else len(a)}))
`;

interface Manifest {
  nested: boolean;
  dicts: {
    name: string;
    ordered: boolean;
    keys: { key: string; dtype: TorchDType; shape: number[]; file: string }[];
    metadata: [string, number][] | null;
  }[];
}

async function dumpWithTorch(file: string, dir: string): Promise<Manifest> {
  const r = await python(DUMP, [file, dir]);
  if (r.code !== 0) throw new Error(`torch.load ${file}: ${r.err}`);
  const m = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)) as Manifest;
  for (const d of m.dicts) {
    for (const k of d.keys) {
      const bytes = await Deno.readFile(`${dir}/${k.file}`);
      (k as unknown as { tensor: TorchTensor }).tensor = {
        dtype: k.dtype,
        shape: k.shape,
        data: typedArrayOf(k.dtype, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
      };
    }
  }
  return m;
}

function stateDicts(m: Manifest): Map<string, StateDict> {
  const out = new Map<string, StateDict>();
  for (const d of m.dicts) {
    out.set(d.name, new Map(d.keys.map((k) => [k.key, (k as unknown as { tensor: TorchTensor }).tensor])));
  }
  return out;
}

async function compareWithTorch(a: string, b: string): Promise<{ problems: string[]; tensors: number }> {
  const r = await python(COMPARE, [a, b]);
  if (r.code !== 0) throw new Error(`compare ${a} ${b}: ${r.err}`);
  return JSON.parse(r.out.trim());
}

for (const rel of ZIP_GOLDENS) {
  Deno.test({
    name: `torch_save: ${rel} written back by the kit is the golden file, byte for byte; torch.load agrees`,
    ignore: !TORCH,
    fn: async () => {
      const golden = `${GOLDEN}/${rel}`;
      const dir = await Deno.makeTempDir({ prefix: "torch_save_test_" });
      try {
        const m = await dumpWithTorch(golden, await Deno.makeTempDir({ dir }));
        const sds = stateDicts(m);
        const root = m.nested ? sds : sds.get("")!;
        const plainDict = !m.dicts[0].ordered;
        const base = rel.split("/").pop()!;
        // 1. The same tensors and the same _metadata: the same bytes as torch 1.13 wrote.
        const meta = new Map(m.dicts.map((d) => [d.name, d.metadata ? new Map(d.metadata) : null]));
        const exact = encodeTorchSave(root, {
          archiveName: base.replace(/\.[^.]*$/, ""),
          metadata: (name) => meta.get(name) ?? null,
          plainDict,
        });
        const want = await Deno.readFile(golden);
        expect(exact.length).toBe(want.length);
        const firstDiff = exact.findIndex((b, i) => b !== want[i]);
        expect(firstDiff).toBe(-1);
        // 2. The kit's default (inferred _metadata), through writeTorchSave: torch.load gives the same tensors.
        const mine = `${dir}/${base}`;
        await writeTorchSave(mine, root, { plainDict });
        const cmp = await compareWithTorch(mine, golden);
        expect(cmp.problems).toEqual([]);
        expect(cmp.tensors).toBe(m.dicts.reduce((n, d) => n + d.keys.length, 0));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/** One tensor of each dtype the writer supports, with awkward shapes (0-d, empty, >3 dims, > 65535 elements). */
function everyDtype(): StateDict {
  const sd: StateDict = new Map();
  const fill = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  sd.set("a.f64", { dtype: "float64", shape: [2, 3], data: new Float64Array(fill(6, (i) => i / 7 - 0.3)) });
  sd.set("a.f32", { dtype: "float32", shape: [3, 1, 2, 2], data: new Float32Array(fill(12, (i) => Math.sin(i))) });
  sd.set("a.f16", { dtype: "float16", shape: [4], data: new Uint16Array([0x3c00, 0xbc00, 0x7bff, 0x0001]) });
  sd.set("a.bf16", { dtype: "bfloat16", shape: [2, 2], data: new Uint16Array([0x3f80, 0xc000, 0x7f7f, 0x0001]) });
  sd.set("b.i64", { dtype: "int64", shape: [], data: new BigInt64Array([20001n]) });
  sd.set("b.i64big", { dtype: "int64", shape: [2], data: new BigInt64Array([-(2n ** 40n), 2n ** 62n]) });
  sd.set("b.i32", { dtype: "int32", shape: [3], data: new Int32Array([-1, 0, 2 ** 31 - 1]) });
  sd.set("b.i16", { dtype: "int16", shape: [2], data: new Int16Array([-300, 300]) });
  sd.set("b.i8", { dtype: "int8", shape: [2], data: new Int8Array([-128, 127]) });
  sd.set("b.u8", { dtype: "uint8", shape: [2], data: new Uint8Array([0, 255]) });
  sd.set("b.bool", { dtype: "bool", shape: [3], data: new Uint8Array([1, 0, 1]) });
  sd.set("c.empty", { dtype: "float32", shape: [0, 3], data: new Float32Array(0) });
  sd.set("c.big", { dtype: "float32", shape: [70000], data: new Float32Array(fill(70000, (i) => i)) });
  return sd;
}

/** Builds the same tensors in torch from raw bytes and torch.saves them as an OrderedDict without _metadata. */
const SAVE_SAME = `
import collections, json, sys, torch
spec = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], "rb").read()
sd = collections.OrderedDict()
pos = 0
for k in spec:
    dt = getattr(torch, k["dtype"])
    n = k["bytes"]
    t = torch.frombuffer(bytearray(raw[pos:pos + n]), dtype=dt) if n else torch.empty(0, dtype=dt)
    sd[k["key"]] = t.reshape(k["shape"]).clone()
    pos += n
torch.save(sd, sys.argv[3])
`;

Deno.test({
  name: "torch_save: every dtype (float64…bool, 0-d, empty, large) gives the bytes torch.save writes",
  ignore: !TORCH,
  fn: async () => {
    const sd = everyDtype();
    const dir = await Deno.makeTempDir({ prefix: "torch_save_test_" });
    try {
      const spec = [...sd].map(([key, t]) => ({ key, dtype: t.dtype, shape: t.shape, bytes: t.data.byteLength }));
      const raw = new Uint8Array(spec.reduce((n, s) => n + s.bytes, 0));
      let pos = 0;
      for (const t of sd.values()) {
        raw.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
        pos += t.data.byteLength;
      }
      await Deno.writeTextFile(`${dir}/spec.json`, JSON.stringify(spec));
      await Deno.writeFile(`${dir}/raw.bin`, raw);
      const r = await python(SAVE_SAME, [`${dir}/spec.json`, `${dir}/raw.bin`, `${dir}/every_dtype.pth`]);
      expect(r.err).toBe("");
      const want = await Deno.readFile(`${dir}/every_dtype.pth`);
      const got = encodeTorchSave(sd, { archiveName: "every_dtype", metadata: () => null });
      expect(got.findIndex((b, i) => b !== want[i])).toBe(-1);
      expect(got.length).toBe(want.length);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "torch_save: more than 1000 keys (SETITEMS batches), a nested {backbone, head}: torch.load(weights_only=True)",
  ignore: !TORCH,
  fn: async () => {
    const backbone: StateDict = new Map();
    for (let i = 0; i < 1001; i++) {
      backbone.set(`layer${i % 7}.${i}.weight`, { dtype: "float32", shape: [2], data: new Float32Array([i, -i]) });
    }
    backbone.set("bn.running_mean", { dtype: "float32", shape: [1], data: new Float32Array([0.5]) });
    backbone.set("bn.num_batches_tracked", { dtype: "int64", shape: [], data: new BigInt64Array([7n]) });
    const head: StateDict = new Map([["w", { dtype: "float32", shape: [2, 3], data: new Float32Array(6).fill(1) }]]);
    const dir = await Deno.makeTempDir({ prefix: "torch_save_test_" });
    try {
      await writeTorchSave(`${dir}/model_5.pth`, new Map([["backbone", backbone], ["head", head]]));
      const r = await python(
        `
import collections, sys, torch
o = torch.load(sys.argv[1], weights_only=True)  # only the globals a state dict needs
assert type(o) is dict and list(o) == ["backbone", "head"], o.keys()
b = o["backbone"]
assert type(b) is collections.OrderedDict and len(b) == 1003
assert b["layer6.1000.weight"].tolist() == [1000.0, -1000.0]
assert b["bn.num_batches_tracked"].dtype == torch.int64 and b["bn.num_batches_tracked"].item() == 7
assert b._metadata["bn"] == {"version": 2} and b._metadata[""] == {"version": 1}, b._metadata["bn"]
assert o["head"]["w"].shape == (2, 3)
print("ok")
`,
        [`${dir}/model_5.pth`],
      );
      expect(r.err).toBe("");
      expect(r.out.trim()).toBe("ok");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The local headers of a stored zip: name, data offset, size, CRC from the data descriptor. */
function zipEntries(bytes: Uint8Array): { name: string; dataAt: number; size: number; crc: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let pos = 0;
  while (view.getUint32(pos, true) === 0x04034b50) {
    const nameLen = view.getUint16(pos + 26, true);
    const extraLen = view.getUint16(pos + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(pos + 30, pos + 30 + nameLen));
    const dataAt = pos + 30 + nameLen + extraLen;
    out.push({ name, dataAt, size: 0, crc: 0 });
    pos = dataAt;
    // The data descriptor follows the data (this test's data never contains its signature).
    while (view.getUint32(pos, true) !== 0x08074b50) pos++;
    out[out.length - 1].crc = view.getUint32(pos + 4, true);
    out[out.length - 1].size = view.getUint32(pos + 8, true);
    pos += 16;
  }
  return out;
}

Deno.test("torch_save: stored entries on 64-byte boundaries with correct CRCs, sorted storage keys, deterministic", () => {
  const sd: StateDict = new Map();
  for (let i = 0; i < 12; i++) {
    sd.set(`l${i}.weight`, { dtype: "float32", shape: [i + 1], data: new Float32Array(i + 1).fill(i + 0.5) });
  }
  const a = encodeTorchSave(sd, { archiveName: "model_1" });
  const b = encodeTorchSave(sd, { archiveName: "model_1" });
  expect(a).toEqual(b);
  const entries = zipEntries(a);
  expect(entries.map((e) => e.name)).toEqual([
    "model_1/data.pkl",
    ...["0", "1", "10", "11", "2", "3", "4", "5", "6", "7", "8", "9"].map((k) => `model_1/data/${k}`),
    "model_1/version",
  ]);
  for (const e of entries) {
    expect(e.dataAt % 64).toBe(0);
    expect(crc32(a.subarray(e.dataAt, e.dataAt + e.size))).toBe(e.crc);
  }
  const k10 = entries.find((e) => e.name === "model_1/data/10")!;
  expect(new Float32Array(a.slice(k10.dataAt, k10.dataAt + k10.size).buffer)).toEqual(
    new Float32Array(11).fill(10.5),
  );
  expect(new TextDecoder().decode(a.subarray(entries.at(-1)!.dataAt, entries.at(-1)!.dataAt + 2))).toBe("3\n");
  expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926); // the CRC-32 check value
});

Deno.test("torch_save: refuses a tensor whose data does not fit its shape or dtype, naming the key", () => {
  const bad: StateDict = new Map([["fc.weight", { dtype: "float32", shape: [2, 3], data: new Float32Array(5) }]]);
  expect(() => encodeTorchSave(bad)).toThrow(/fc\.weight: shape \[2,3\] has 6 elements, data 5/);
  const wrong: StateDict = new Map([["x", { dtype: "int64", shape: [1], data: new Float32Array(1) }]]);
  expect(() => encodeTorchSave(wrong)).toThrow(/x: dtype int64 needs a BigInt64Array, got Float32Array/);
  const mixed = new Map<string, unknown>([["a", new Map()], ["b", { dtype: "float32", shape: [], data: [] }]]);
  expect(() => encodeTorchSave(mixed as never)).toThrow(/mixes state dicts and tensors/);
});

Deno.test("torch_save: a failed write leaves no file and no temp sibling", async () => {
  const dir = await Deno.makeTempDir({ prefix: "torch_save_test_" });
  try {
    const bad: StateDict = new Map([["w", { dtype: "float32", shape: [2], data: new Float32Array(1) }]]);
    await expect(writeTorchSave(`${dir}/model.pth`, bad)).rejects.toThrow(/w: shape/);
    expect([...Deno.readDirSync(dir)]).toEqual([]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torch_save: inferred _metadata lists the root and every module prefix, BatchNorm at version 2", () => {
  const v = inferModuleVersions(["module.conv1.weight", "module.bn1.running_mean", "module.bn1.weight", "fc.bias"]);
  expect([...v]).toEqual([["", 1], ["module", 1], ["module.conv1", 1], ["module.bn1", 2], ["fc", 1]]);
});
