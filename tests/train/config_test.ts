import { expect } from "expect";
import { parseHeadConfig } from "../../lib/losses/config.ts";
import { applyOverrides, loadTrainConfig, parseTrainConfig } from "../../lib/train/config.ts";
import { REPO } from "../shared.ts";
import { tinyRaw } from "./tiny.ts";

const DIR = `${REPO}configs/train`;

Deno.test("every shipped train config validates, and the paper configs say what OpenSphere's do", async () => {
  const names = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".json")).sort();
  expect(names.length).toBeGreaterThanOrEqual(16);
  const configs = new Map<string, Awaited<ReturnType<typeof loadTrainConfig>>>();
  for (const n of names) configs.set(n.replace(/\.json$/, ""), await loadTrainConfig(`${DIR}/${n}`));
  for (const [name, c] of configs) expect(c.name).toBe(name);
  const sec31 = [...configs.values()].filter((c) => c.name.startsWith("sec31-"));
  expect(sec31.map((c) => c.head.type).sort()).toEqual([
    "arcface",
    "cosface",
    "normface",
    "softmax",
    "sphereface",
    "sphereface2",
  ]);
  for (const c of configs.values()) {
    if (!/^(sec3|appendix)/.test(c.name)) continue;
    expect(c.model).toMatchObject({ type: "sfnet", block: "deprecated", bn: false, width: 1, inputSize: 112 });
    expect(c.train).toMatchObject({
      batchSize: 512,
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 5e-4,
      flip: 0.5,
      steps: 80000,
    });
    expect(c.data.kind).toBe("list");
  }
  expect([...configs.values()].filter((c) => c.name.startsWith("sec32-")).every((c) => c.model.depth === 64)).toBe(
    true,
  );
  expect(configs.get("sec33-sfnet20-sphereface2-noise60")!.data).toMatchObject({ noiseRatio: 0.6, noiseSeed: 10086 });
  expect(configs.get("appendix-sfnet20-sphereface2-m")!.head).toMatchObject({ variant: "M", m: 1.7 });
});

Deno.test("dotted overrides are applied, JSON-typed, and validated like the file", async () => {
  const raw = applyOverrides(tinyRaw(), [
    "--train.steps=20",
    "--head.lambda=0.5",
    "--train.milestones=[5,10]",
    "--name=x",
  ]);
  const c = parseTrainConfig(raw);
  expect([c.train.steps, c.train.milestones, c.name]).toEqual([20, [5, 10], "x"]);
  expect(c.head).toMatchObject({ type: "sphereface2", lambda: 0.5 });
  expect(tinyRaw().train).toMatchObject({ steps: 12 }); // the input is not mutated
  expect(() => applyOverrides(tinyRaw(), ["--seed.x=1"])).toThrow(/--seed.x=1: seed is not an object/);
  expect(() => applyOverrides(tinyRaw(), ["train.steps=1"])).toThrow(/expected --path.to.key=value/);
  const file = `${await Deno.makeTempDir()}/c.json`;
  await Deno.writeTextFile(file, JSON.stringify(tinyRaw()));
  await expect(loadTrainConfig(file, ["--train.steps=0"])).rejects.toThrow(
    /c.json \(with --train.steps=0\): train.steps: Too small/,
  );
});

Deno.test("invalid configs fail naming the field and the allowed range", () => {
  const bad = (patch: Record<string, unknown>) => () => parseTrainConfig({ ...tinyRaw(), ...patch }, "f.json");
  expect(bad({ head: { type: "sphereface2", lambda: 2 } })).toThrow(
    /f.json: head.lambda: Too big: expected number to be <1/,
  );
  expect(bad({ train: { steps: 10, momentum: 1 } })).toThrow(/train.momentum: Too big/);
  expect(bad({ train: { steps: 10, milestones: [5, 3] } })).toThrow(/train.milestones.1: milestones must increase/);
  expect(bad({ train: { steps: 10, lr: "fast" } })).toThrow(/train.lr: Invalid input: expected number/);
  expect(bad({ model: { type: "sfnet", depth: 4, width: 0.0625, inputSize: 32 } })).toThrow(
    /model.inputSize: model.inputSize \(32\) must equal data.size \(16\)/,
  );
  expect(bad({ data: { kind: "toy", classes: 1, perClass: 2, size: 16 } })).toThrow(/data.classes: Too small/);
  expect(bad({ data: { kind: "mnist" } })).toThrow(/data.kind/);
  expect(bad({ extra: 1 })).toThrow(/Unrecognized key: "extra"/);
  expect(bad({ name: "a b" })).toThrow(/name: use letters/);
  expect(bad({ data: { ...tinyRaw().data as object, noiseRatio: 1.5 } })).toThrow(/data.noiseRatio: Too big/);
});

Deno.test("base + overrides: extends merges objects key by key, a named head resolves, a new type or kind replaces", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = (name: string, value: unknown) => Deno.writeTextFile(`${dir}/${name}`, JSON.stringify(value));
    await write("base.json", { ...tinyRaw(), head: "sec31.sphereface2" });
    await write("child.json", { extends: "base.json", name: "child", head: "sec31.arcface", train: { steps: 7 } });
    await write("grand.json", { extends: "child.json", name: "grand", head: { m: 0.3 }, data: { spread: 0.9 } });
    await write("switch.json", { extends: "base.json", name: "switch", head: { type: "normface" } });
    const base = await loadTrainConfig(`${dir}/base.json`);
    expect(base.head).toEqual(parseHeadConfig({ type: "sphereface2", variant: "C", lambda: 0.7, r: 40, m: 0.4, t: 3 }));
    const child = await loadTrainConfig(`${dir}/child.json`);
    expect(child).toEqual({
      ...base,
      name: "child",
      head: parseHeadConfig({ type: "arcface" }),
      train: { ...base.train, steps: 7 },
    });
    const grand = await loadTrainConfig(`${dir}/grand.json`, ["--head.s=20"]);
    expect(grand.head).toEqual(parseHeadConfig({ type: "arcface", m: 0.3, s: 20 }));
    expect(grand.data).toEqual({ ...base.data, spread: 0.9 });
    expect(grand.train.steps).toBe(7);
    expect((await loadTrainConfig(`${dir}/switch.json`)).head).toEqual(parseHeadConfig({ type: "normface" }));
    // A head named by an override flag.
    expect((await loadTrainConfig(`${dir}/base.json`, ["--head=sec31.cosface"])).head.type).toBe("cosface");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("base + overrides: errors name the file and the field (unknown head, missing base, cycle, not an object)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = (name: string, value: unknown) => Deno.writeTextFile(`${dir}/${name}`, JSON.stringify(value));
    await write("base.json", tinyRaw());
    await write("badhead.json", { extends: "base.json", head: "sec31.nope" });
    await write("nobase.json", { extends: "missing.json", name: "x" });
    await write("a.json", { extends: "b.json" });
    await write("b.json", { extends: "a.json" });
    await write("array.json", [1, 2]);
    await write("badext.json", { extends: 3 });
    await write("invalid.json", { extends: "base.json", train: { steps: 0 } });
    await expect(loadTrainConfig(`${dir}/badhead.json`)).rejects.toThrow(
      /badhead\.json: head: no head named "sec31\.nope".*sec31\.arcface/,
    );
    await expect(loadTrainConfig(`${dir}/nobase.json`)).rejects.toThrow(
      /missing\.json: config file not found \(extended by .*nobase\.json\)/,
    );
    await expect(loadTrainConfig(`${dir}/a.json`)).rejects.toThrow(/extends: .* \(a cycle\)/);
    await expect(loadTrainConfig(`${dir}/array.json`)).rejects.toThrow(
      /array\.json: a train config must be a JSON object, got an array/,
    );
    await expect(loadTrainConfig(`${dir}/badext.json`)).rejects.toThrow(
      /badext\.json: extends: expected the path of a base config/,
    );
    await expect(loadTrainConfig(`${dir}/invalid.json`)).rejects.toThrow(/invalid\.json: train\.steps: Too small/);
    await expect(loadTrainConfig(`${dir}/base.json`, ["--head=sec31.nope"])).rejects.toThrow(
      /base\.json \(with --head=sec31\.nope\): head: no head named/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the shipped train configs share their bases: a derived file states only what differs", async () => {
  const names = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".json"));
  let derived = 0;
  for (const n of names) {
    const own = JSON.parse(await Deno.readTextFile(`${DIR}/${n}`));
    if (typeof own.head === "object") throw new Error(`${n}: head: name a head of configs/heads/ instead of a config`);
    if (own.extends) derived++;
  }
  expect(derived).toBeGreaterThanOrEqual(19);
});
