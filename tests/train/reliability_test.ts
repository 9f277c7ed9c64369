/**
 * Run folders and checkpoints that cannot be corrupted (issue 13, part B): the run-folder lock, the refusal of
 * foreign folders, clean restarts, checksums over the whole checkpoint, leftovers from failures and kills.
 * @module
 */
import { expect } from "expect";
import { decodeCheckpoint, encodeCheckpoint, writeCheckpoint } from "../../lib/train/checkpoint.ts";
import { RUN_FILES, trainRun } from "../../lib/train/loop.ts";
import { writeDirAtomic, writeFileIn } from "../../lib/fs/write.ts";
import { REPO, useBackend } from "../shared.ts";
import { tinyConfig } from "./tiny.ts";

/** The pid of a process that has exited (so a lock or temp file naming it is stale). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
const stepRecords = async (dir: string) =>
  (await Deno.readTextFile(`${dir}/${RUN_FILES.log}`)).trim().split("\n").map((l) => JSON.parse(l))
    .filter((r) => r.type === "step").map((r) => r.step);

Deno.test("run folder lock: two runs into one folder at once, the second refuses naming the lock; a stale lock is taken over", async () => {
  await useBackend("cpu");
  const config = tinyConfig({ train: { steps: 6, batchSize: 8, lr: 0.05, milestones: [4] } });
  const dir = await Deno.makeTempDir();
  const results = await Promise.allSettled([
    trainRun(config, { outDir: dir, quiet: true }),
    trainRun(config, { outDir: dir, quiet: true }),
  ]);
  const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  expect(failed.length).toBe(1);
  expect(String(failed[0].reason)).toMatch(new RegExp(`${dir}.* is in use by process ${Deno.pid}`));
  expect(await stepRecords(dir)).toEqual([1, 2, 3, 4, 5, 6]); // one log, not two interleaved
  expect(names(dir)).not.toContain(RUN_FILES.lock); // released

  // A lock left by a killed process (its pid is dead) is taken over.
  const stale = await Deno.makeTempDir();
  await Deno.writeTextFile(`${stale}/${RUN_FILES.lock}`, JSON.stringify({ pid: await deadPid() }));
  const r = await trainRun(config, { outDir: stale, quiet: true });
  expect(r.steps).toBe(6);
});

Deno.test("run folder: a fresh run refuses a non-empty folder it did not create (a dataset, a foreign run.json)", async () => {
  await useBackend("cpu");
  const config = tinyConfig({ train: { steps: 2, batchSize: 8, lr: 0.05, milestones: [1] } });
  const dataset = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dataset}/pairs.txt`, "10\t300\n");
  await expect(trainRun(config, { outDir: dataset, quiet: true })).rejects.toThrow(
    new RegExp(`refusing to train into ${dataset}: it is not empty`),
  );
  expect(names(dataset)).toEqual(["pairs.txt"]); // nothing written
  const foreign = await Deno.makeTempDir();
  await Deno.writeTextFile(`${foreign}/run.json`, '{"mine": true}\n');
  await expect(trainRun(config, { outDir: foreign, quiet: true })).rejects.toThrow(/not empty/);
  expect(await Deno.readTextFile(`${foreign}/run.json`)).toBe('{"mine": true}\n');
});

Deno.test("run folder: a run killed before its first checkpoint restarts cleanly (fresh log, stale temp files gone)", async () => {
  await useBackend("cpu");
  const config = tinyConfig({
    train: { steps: 6, batchSize: 8, lr: 0.05, milestones: [4] },
    checkpoint: { every: 100 },
    validation: { every: 0, batchSize: 16 },
  });
  const dir = await Deno.makeTempDir();
  // The "kill": training dies at step 3, before any checkpoint; the process's lock and a temp file stay behind.
  await expect(trainRun(config, {
    outDir: dir,
    quiet: true,
    onProgress: (r) => {
      if (r.step === 3) throw new Error("killed");
    },
  })).rejects.toThrow(/killed/);
  const dead = await deadPid();
  await Deno.writeTextFile(`${dir}/${RUN_FILES.lock}`, JSON.stringify({ pid: dead }));
  await Deno.writeTextFile(`${dir}/${RUN_FILES.checkpoint}.tmp-${dead}`, "half a checkpoint");
  expect(names(dir)).not.toContain(RUN_FILES.checkpoint);
  const r = await trainRun(config, { outDir: dir, quiet: true });
  expect(r.steps).toBe(6);
  expect(await stepRecords(dir)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(names(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
});

Deno.test("checkpoint: the checksum covers the header (step, RNG state, lr); any flipped byte is an error naming the file", async () => {
  const tensors = [{ name: "w", shape: [2], data: Float32Array.from([1, 2]) }];
  const bytes = await encodeCheckpoint({ step: 4, nextLr: 0.1, rng: { flip: [1, 2, 3, 4] } }, tensors);
  const text = new TextDecoder().decode(bytes);
  for (const [from, to] of [['"step":4', '"step":5'], ['"nextLr":0.1', '"nextLr":0.2'], ["[1,2,3,4]", "[1,2,3,5]"]]) {
    const at = text.indexOf(from);
    expect(at).toBeGreaterThan(0);
    const bad = bytes.slice();
    bad.set(new TextEncoder().encode(to), at);
    await expect(decodeCheckpoint(bad, "/runs/a/checkpoint.sf2")).rejects.toThrow(
      /\/runs\/a\/checkpoint\.sf2: checksum mismatch/,
    );
  }
  // Every single-byte flip is caught, whatever it hits (magic, length, header, padding, data, checksum).
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i] ^= 0x04;
    await expect(decodeCheckpoint(bad, "c.sf2")).rejects.toThrow(/^c\.sf2: /);
  }
});

Deno.test("atomic writes: a failed write (file too large) leaves no temp file and names the path", async () => {
  const dir = await Deno.makeTempDir();
  const script = `${dir}/write.ts`;
  await Deno.writeTextFile(
    script,
    `import { writeCheckpoint } from "${REPO}lib/train/checkpoint.ts";\n` +
      `await writeCheckpoint("${dir}/out/checkpoint.sf2", { step: 1 }, ` +
      `[{ name: "w", shape: [1 << 20], data: new Float32Array(1 << 20) }]);\n`,
  );
  // RLIMIT_FSIZE with SIGXFSZ ignored: a write past 512 KiB fails with EFBIG, as a full disk fails with ENOSPC.
  const out = await new Deno.Command("bash", {
    args: ["-c", `trap '' XFSZ; ulimit -f 512; exec "${Deno.execPath()}" run -A "${script}"`],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  expect(out.code).not.toBe(0);
  expect(stderr).toMatch(new RegExp(`${dir}/out/checkpoint\\.sf2`));
  expect(names(`${dir}/out`)).toEqual([]);
});

Deno.test("atomic folders: a failed write inside (file too large) names the file and leaves no temp folder", async () => {
  const dir = await Deno.makeTempDir();
  const script = `${dir}/write.ts`;
  await Deno.writeTextFile(
    script,
    `import { writeDirAtomic, writeFileIn } from "${REPO}lib/fs/write.ts";\n` +
      `await writeDirAtomic("${dir}/out", (tmp) => writeFileIn(tmp, "big.bin", new Uint8Array(4 << 20)));\n`,
  );
  const out = await new Deno.Command("bash", {
    args: ["-c", `trap '' XFSZ; ulimit -f 512; exec "${Deno.execPath()}" run -A "${script}"`],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  expect(out.code).not.toBe(0);
  expect(stderr).toMatch(new RegExp(`${dir}/out\\.tmp-\\d+/big\\.bin`));
  expect(names(dir)).toEqual(["write.ts"]);
});

Deno.test("atomic folders: a temp folder left by a killed writer (dead pid) is removed by the next write", async () => {
  const parent = await Deno.makeTempDir();
  const dead = await deadPid();
  await Deno.mkdir(`${parent}/results.tmp-${dead}`);
  await Deno.writeTextFile(`${parent}/results.tmp-${dead}/half.json`, "{");
  await Deno.mkdir(`${parent}/results.tmp-${Deno.pid}-other`); // not a pid suffix: not ours to judge
  await writeDirAtomic(`${parent}/results`, (tmp) => writeFileIn(tmp, "a.json", "{}\n"));
  expect(names(parent)).toEqual(["results", `results.tmp-${Deno.pid}-other`]);
});

Deno.test("checkpoint: files written before the header checksum (format 1) still read", async () => {
  // A format-1 file: magic SF2CKPT1, header JSON with the SHA-256 of the data section only.
  const data = new Uint8Array(Float32Array.from([1, 2]).buffer);
  const sha = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const header = new TextEncoder().encode(JSON.stringify({
    format: "sf2-checkpoint/1",
    state: { step: 2 },
    tensors: [{ name: "w", shape: [2], offset: 0, length: 2 }],
    sha256: sha,
  }));
  const dataStart = Math.ceil((12 + header.length) / 4) * 4;
  const bytes = new Uint8Array(dataStart + data.length);
  bytes.set(new TextEncoder().encode("SF2CKPT1"));
  new DataView(bytes.buffer).setUint32(8, header.length, true);
  bytes.set(header, 12);
  bytes.set(data, dataStart);
  const ck = await decodeCheckpoint(bytes, "old.sf2");
  expect(ck.header.state).toEqual({ step: 2 });
  expect(Array.from(ck.tensors.get("w")!.data)).toEqual([1, 2]);
  // And the current format round-trips through a file.
  const dir = await Deno.makeTempDir();
  await writeCheckpoint(`${dir}/c.sf2`, { step: 1 }, [{ name: "w", shape: [1], data: Float32Array.of(3) }]);
  expect(names(dir)).toEqual(["c.sf2"]);
});

Deno.test("a run.json that is not an object (null, [1,2]) or not JSON is an error naming the file", async () => {
  const { loadTrainedModel } = await import("../../lib/train/restore.ts");
  for (const text of ["null", "[1,2]", "{"]) {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/run.json`, text);
    await expect(loadTrainedModel(dir)).rejects.toThrow(new RegExp(`${dir}/run\\.json: `));
  }
});
