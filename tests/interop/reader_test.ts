/**
 * The PyTorch checkpoint reader: both file formats, every storage dtype, views (offset, strides, shared storages),
 * and refusal of pickles that name anything outside the allow-list. Fixtures are small committed files made by
 * tests/interop/fixtures/make_fixtures.py (torch is not needed to run these tests); the malicious pickles are
 * built here byte by byte.
 */
import { expect } from "expect";
import { halfToFloat, toFloat32 } from "../../lib/interop/tensor.ts";
import { readTorchBytes, readTorchFile, stateDictAt, UnsafePickleError } from "../../lib/interop/torch_load.ts";
import { unpickle } from "../../lib/data/pickle.ts";
import { readZip } from "../../lib/fs/zip.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
type Expected = Record<string, Record<string, { dtype: string; shape: number[]; values: number[] }>>;
const EXPECTED: Expected = JSON.parse(await Deno.readTextFile(`${FIX}expected.json`));

const enc = new TextEncoder();
const bytes = (...parts: (number[] | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...enc.encode(p)] : p)));
const binunicode = (s: string) => [0x58, s.length, 0, 0, 0, ...enc.encode(s)];

for (const format of ["zip", "legacy"] as const) {
  const suffix = format === "zip" ? "" : "_legacy";
  Deno.test(`reader (${format}): every dtype, 0-d tensors and a Module state dict's OrderedDict`, async () => {
    const ck = await readTorchFile(`${FIX}dtypes${suffix}.pth`);
    expect(ck.format).toBe(format);
    const sd = stateDictAt(ck, []);
    const want = EXPECTED.dtypes;
    expect([...sd.keys()]).toEqual(Object.keys(want));
    for (const [k, e] of Object.entries(want)) {
      const t = sd.get(k)!;
      expect([k, t.dtype, t.shape]).toEqual([k, e.dtype, e.shape]);
      const got = t.dtype === "int64" ? Array.from(t.data as BigInt64Array, Number) : Array.from(toFloat32(t));
      // float16/bfloat16 decode exactly; float64 is compared after the float32 rounding toFloat32 does.
      expect(got).toEqual(e.values.map((v) => (t.dtype === "int64" ? v : Math.fround(v))));
    }
    expect(sd.get("1.num_batches_tracked")!.shape).toEqual([]);
    expect(Array.from(sd.get("f64")!.data as Float64Array)).toEqual(want.f64.values);
  });

  Deno.test(`reader (${format}): views of one storage (offset, strides, transpose, alias) come out contiguous`, async () => {
    const sd = stateDictAt(await readTorchFile(`${FIX}views${suffix}.pth`), []);
    for (const [k, e] of Object.entries(EXPECTED.views)) {
      const t = sd.get(k)!;
      expect([k, t.shape, Array.from(t.data as Float32Array)]).toEqual([k, e.shape, e.values]);
    }
    // Each tensor owns its data, although they share one storage in the file.
    (sd.get("base")!.data as Float32Array)[0] = 99;
    expect((sd.get("alias")!.data as Float32Array)[0]).toBe(0);
  });

  Deno.test(`reader (${format}): a torch.save'd object whose __reduce__ is os.system is refused by name`, async () => {
    const file = `${FIX}evil_reduce${suffix}.pth`;
    const err = await readTorchFile(file).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/names posix\.system, which is not on the allow-list/);
  });
}

Deno.test("reader: deflate-compressed zip entries are inflated (torch stores them; other zip tools may not)", async () => {
  const stored = stateDictAt(await readTorchFile(`${FIX}dtypes.pth`), []);
  const deflated = stateDictAt(await readTorchFile(`${FIX}dtypes_deflated.pth`), []);
  expect([...deflated.keys()]).toEqual([...stored.keys()]);
  for (const [k, t] of stored) expect([k, deflated.get(k)]).toEqual([k, t]);
});

Deno.test("reader: the golden zip checkpoints have a stem that is not hard-coded", async () => {
  const file = new URL("../golden/backbones/os_v0_iresnet18_w0.0625_e32/backbone_70000.pth", import.meta.url).pathname;
  const zip = readZip(await Deno.readFile(file), file);
  expect([...zip.entries.keys()].some((n) => n.startsWith("backbone_70000/data/"))).toBe(true);
  expect(stateDictAt(await readTorchFile(file), []).get("module.fc.weight")!.shape).toEqual([32, 1568]);
});

Deno.test("pickle safety: GLOBAL os.system + REDUCE, STACK_GLOBAL builtins.eval, INST, and others are refused", () => {
  const refuse = (pkl: Uint8Array, name: string, op: RegExp) => {
    let err: Error | null = null;
    try {
      unpickle(pkl, "evil.pkl", { globals: new Map() });
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect((err as UnsafePickleError).global).toBe(name);
    expect(err!.message).toMatch(/^evil\.pkl: refused/);
    expect(err!.message).toContain(name);
    expect(err!.message).toMatch(op);
  };
  // pickle.dumps of an object reducing to os.system('ls'), protocol 2: GLOBAL, BINUNICODE, TUPLE1, REDUCE.
  refuse(bytes([0x80, 2], "cos\nsystem\n", binunicode("ls"), [0x85, 0x52, 0x2e]), "os.system", /GLOBAL/);
  refuse(bytes([0x80, 2], "cposix\nsystem\n", binunicode("ls"), [0x85, 0x52, 0x2e]), "posix.system", /GLOBAL/);
  refuse(bytes([0x80, 2], "c__builtin__\neval\n", binunicode("1"), [0x85, 0x52, 0x2e]), "__builtin__.eval", /GLOBAL/);
  refuse(bytes([0x80, 2], "csubprocess\nPopen\n", binunicode("ls"), [0x85, 0x52, 0x2e]), "subprocess.Popen", /GLOBAL/);
  // Protocol 4: SHORT_BINUNICODE module and name, STACK_GLOBAL.
  refuse(
    bytes([0x80, 4, 0x8c, 8], "builtins", [0x8c, 4], "eval", [0x93, 0x8c, 1], "1", [0x85, 0x52, 0x2e]),
    "builtins.eval",
    /STACK_GLOBAL/,
  );
  // Protocol 0 INST: MARK, argument, INST module\nname\n.
  refuse(bytes([0x28], binunicode("ls"), "ios\nsystem\n."), "os.system", /INST/);
  // An allow-list entry for one name does not open its module.
  expect(() =>
    unpickle(bytes([0x80, 2], "ccollections\ndefaultdict\n", [0x29, 0x52, 0x2e]), "x.pkl", {
      globals: new Map([["collections.OrderedDict", () => null]]),
    })
  ).toThrow(/x\.pkl: refused.*collections\.defaultdict/);
  // OBJ / NEWOBJ instantiate classes: outside the subset whatever the allow-list says.
  expect(() => unpickle(bytes([0x28, 0x6f, 0x2e]), "obj.pkl")).toThrow(/obj\.pkl: .*opcode 0x6f OBJ/);
});

Deno.test("reader: a checkpoint whose data.pkl names a global outside the allow-list is refused, naming the entry", async () => {
  // Take the real zip fixture and swap its GLOBAL "collections\nOrderedDict" for "builtins\neval\n" padded to length.
  const good = await Deno.readFile(`${FIX}dtypes.pth`);
  const text = new TextDecoder("latin1").decode(good);
  const at = text.indexOf("ccollections\nOrderedDict\n");
  expect(at).toBeGreaterThan(0);
  const evil = good.slice();
  evil.set(enc.encode("cbuiltins\neval\nxxxxxxxxxx"), at); // same length: the zip stays valid
  const err = await readTorchBytes(evil, "evil.pth").then(() => null, (e) => e);
  expect(err).toBeInstanceOf(UnsafePickleError);
  expect(err.message).toMatch(/^evil\.pth: dtypes\/data\.pkl: refused: .*names builtins\.eval/);
});

Deno.test("reader: truncated and foreign files are one-line errors naming the file", async () => {
  const good = await Deno.readFile(`${FIX}views.pth`);
  await expect(readTorchBytes(good.subarray(0, good.length - 30), "cut.pth")).rejects.toThrow(/cut\.pth/);
  await expect(readTorchBytes(enc.encode("hello"), "text.pth")).rejects.toThrow(/text\.pth: /);
  const legacy = await Deno.readFile(`${FIX}views_legacy.pth`);
  await expect(readTorchBytes(legacy.subarray(0, legacy.length - 8), "cut_legacy.pth")).rejects.toThrow(
    /cut_legacy\.pth: truncated in storage/,
  );
});

Deno.test("tensor: float16 bits decode exactly (subnormal, max, negative)", () => {
  expect([halfToFloat(0x0001), halfToFloat(0x7bff), halfToFloat(0xc100)]).toEqual([2 ** -24, 65504, -2.5]);
});
