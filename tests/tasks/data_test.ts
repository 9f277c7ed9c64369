import { expect } from "expect";
import { downloadLfw, stagingDir } from "../../lib/data/download.ts";
import { openLfw } from "../../lib/data/lfw.ts";
import { LFW_DIR, lfwTest, runDeno } from "../shared.ts";

const LFW = LFW_DIR ?? "";

/** A loopback HTTP server over the located LFW folder (Range supported); `hook` can fail or alter requests. */
function serveLfw(hook?: (path: string) => Response | Uint8Array | undefined) {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    requests++;
    const path = decodeURIComponent(new URL(req.url).pathname);
    const hooked = hook?.(path);
    if (hooked instanceof Response) return hooked;
    let body: Uint8Array;
    try {
      body = hooked ?? await Deno.readFile(`${LFW}${path}`);
    } catch {
      return new Response("not found", { status: 404 });
    }
    const range = req.headers.get("range")?.match(/^bytes=(\d+)-$/);
    if (range) return new Response(body.subarray(Number(range[1])) as Uint8Array<ArrayBuffer>, { status: 206 });
    return new Response(body as Uint8Array<ArrayBuffer>);
  });
  const { port } = server.addr as Deno.NetAddr;
  return { base: `http://127.0.0.1:${port}`, server, requests: () => requests };
}

const PEOPLE = ["Aaron_Eckhart", "Abel_Pacheco", "George_HW_Bush", "Betsy_Coffin", "Zico"];

lfwTest("data lfw (library): subset download verifies checksums, reports the image the server lacks", async () => {
  const { base, server } = serveLfw();
  const root = await Deno.makeTempDir();
  try {
    const s = await downloadLfw(`${root}/lfw`, { base, people: PEOPLE, quiet: true });
    expect(s.missing).toEqual(["Betsy_Coffin/Betsy_Coffin_0001.jpg"]);
    expect(s.images).toBe(1 + 4 + 13 + 3 - 0);
    expect(await Deno.readFile(`${root}/lfw/images/Abel_Pacheco/Abel_Pacheco_0004.jpg`))
      .toEqual(await Deno.readFile(`${LFW}/images/Abel_Pacheco/Abel_Pacheco_0004.jpg`));
    await expect(Deno.stat(stagingDir(`${root}/lfw`))).rejects.toThrow();
    expect((await downloadLfw(`${root}/lfw`, { base, quiet: true })).alreadyPresent).toBe(true);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

lfwTest(
  "data lfw (library): an interrupted download leaves no dataset, then resumes (Range) on the next run",
  async () => {
    let broken = true;
    const cut = "/images/George_HW_Bush/George_HW_Bush_0005.jpg";
    const { base, server } = serveLfw((path) => {
      if (!broken) return undefined;
      if (path.startsWith("/images/Zico/")) return new Response("busy", { status: 503 });
      // A transfer cut short: the first bytes only (as if the connection dropped).
      if (path === cut) return Deno.readFileSync(`${LFW}${cut}`).subarray(0, 100);
    });
    const root = await Deno.makeTempDir();
    try {
      await expect(downloadLfw(`${root}/lfw`, { base, people: PEOPLE, quiet: true, concurrency: 2 }))
        .rejects.toThrow(
          /(Zico_000\d\.jpg: download failed \(HTTP 503\); run the same command again to resume|not a complete JPEG)/,
        );
      await expect(Deno.stat(`${root}/lfw`)).rejects.toThrow();
      const staged = [...Deno.readDirSync(`${stagingDir(`${root}/lfw`)}/images`)].length;
      expect(staged).toBeGreaterThan(0);
      broken = false;
      const s = await downloadLfw(`${root}/lfw`, { base, people: PEOPLE, quiet: true });
      expect(s.images).toBe(21);
      expect(await Deno.readFile(`${root}/lfw${cut}`)).toEqual(await Deno.readFile(`${LFW}${cut}`));
      const lfw = await openLfw(`${root}/lfw`);
      expect(lfw.landmarks.size).toBe(13233);
    } finally {
      await server.shutdown();
      await Deno.remove(root, { recursive: true });
    }
  },
);

lfwTest(
  "data lfw (library): a failure stops the other transfers before the run returns (no writer left behind)",
  async () => {
    // Aaron's image arrives slowly and never finishes; Abel's arrives broken. The run must fail, and by the time it
    // does, Aaron's transfer must be aborted: a worker still writing `.part` files would race the next run.
    let cancelled = false;
    let stream: ReadableStreamDefaultController<Uint8Array> | undefined;
    const slow = "/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg";
    const { base, server } = serveLfw((path) => {
      if (path.startsWith("/images/Abel_Pacheco/")) return new Uint8Array([0xff, 0xd8, 1, 2, 3]);
      if (path !== slow) return undefined;
      const head = Deno.readFileSync(`${LFW}${slow}`).subarray(0, 100);
      return new Response(
        new ReadableStream<Uint8Array>({
          start: (c) => {
            stream = c;
            c.enqueue(head);
          },
          cancel: () => {
            cancelled = true;
          },
        }),
      );
    });
    const root = await Deno.makeTempDir();
    try {
      await expect(downloadLfw(`${root}/lfw`, { base, people: PEOPLE, quiet: true, concurrency: 2 }))
        .rejects.toThrow(/Abel_Pacheco_0001\.jpg: not a complete JPEG/);
      await new Promise((r) => setTimeout(r, 50));
      expect(cancelled).toBe(true);
    } finally {
      if (!cancelled) stream?.close(); // else the server's shutdown would wait for it forever
      await server.shutdown();
      await Deno.remove(root, { recursive: true });
    }
  },
);

lfwTest("data lfw (library): a checksum mismatch fails naming the URL and leaves nothing at --dir", async () => {
  const { base, server } = serveLfw((path) =>
    path === "/pairs.txt" ? new TextEncoder().encode(Deno.readTextFileSync(`${LFW}/pairs.txt`) + "x\n") : undefined
  );
  const root = await Deno.makeTempDir();
  try {
    await expect(downloadLfw(`${root}/lfw`, { base, people: PEOPLE, quiet: true }))
      .rejects.toThrow(/\/pairs\.txt: checksum mismatch: SHA-256 [0-9a-f]{64}, expected ea42330c/);
    await expect(Deno.stat(`${root}/lfw`)).rejects.toThrow();
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

lfwTest("deno task data lfw: full download from a loopback mirror of LFW, then data check", async () => {
  const { base, server } = serveLfw();
  const root = await Deno.makeTempDir();
  try {
    const r = await runDeno(["tasks/data.ts", "lfw", "--dir", `${root}/lfw`, "--url", base, "--concurrency", "16"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(s.images).toBe(13232);
    expect(s.missing).toEqual(["Betsy_Coffin/Betsy_Coffin_0001.jpg"]);
    expect(r.stderr).toMatch(/lfw images \[#+\] 13233\/13233 100%/);
    const strict = await runDeno(["tasks/data.ts", "check", "--dir", `${root}/lfw`]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/pairsDevTest\.txt:585: identity Betsy_Coffin not found/);
    const loose = await runDeno(["tasks/data.ts", "check", "--dir", `${root}/lfw`, "--skip-incomplete"]);
    expect(loose.code).toBe(0);
    const c = JSON.parse(loose.stdout.trim());
    expect(c.view1).toEqual({ trainIdentities: 4038, trainImages: 9525, testPairs: 999, droppedTestPairs: 1 });
    expect(c.view2).toEqual({ folds: 10, pairs: 6000, droppedPairs: 0 });
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task data synthetic: writes the LFW layout with a progress bar; bad flags exit 2 and write nothing", async () => {
  const root = await Deno.makeTempDir();
  try {
    const args = [
      "tasks/data.ts",
      "synthetic",
      "--dir",
      `${root}/syn`,
      "--identities",
      "20",
      "--images-per-identity",
      "3",
    ];
    const r = await runDeno([...args, "--size", "32", "--folds", "2", "--pairs-per-fold", "10"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/synthetic 20×3 @32px \[#+\] 60\/60 100%/);
    expect(JSON.parse(r.stdout.trim()).images).toBe(60);
    const c = await runDeno(["tasks/data.ts", "check", "--dir", `${root}/syn`]);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout.trim()).view2).toEqual({ folds: 2, pairs: 40, droppedPairs: 0 });
    const bad = await runDeno([...args.slice(0, 4), "--identities", "3"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--identities: Too small/);
    const tooMany = await runDeno([...args.slice(0, 3), `${root}/none`, "--pairs-per-fold", "999"]);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/requested but only/);
    await expect(Deno.stat(`${root}/none`)).rejects.toThrow();
    expect((await runDeno(["tasks/data.ts", "nope"])).code).toBe(2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
