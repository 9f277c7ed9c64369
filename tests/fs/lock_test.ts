import { expect } from "expect";
import { acquireLock, LockedError } from "../../lib/fs/lock.ts";

Deno.test("acquireLock: of many concurrent callers exactly one wins, every other is refused naming the live owner", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (let round = 0; round < 200; round++) {
      const lock = `${dir}/run.lock`;
      // A reader must never find the lock half-written (empty): it would take it for a dead owner's and remove it.
      const results = await Promise.allSettled(Array.from({ length: 16 }, () => acquireLock(lock, "folder")));
      const won = results.filter((r) => r.status === "fulfilled") as PromiseFulfilledResult<() => void>[];
      const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
      expect({ round, won: won.length }).toEqual({ round, won: 1 });
      for (const l of lost) {
        expect(l.reason).toBeInstanceOf(LockedError);
        expect(String(l.reason)).toMatch(new RegExp(`folder is in use by process ${Deno.pid}`));
      }
      won[0].value();
      expect([...Deno.readDirSync(dir)].map((e) => e.name)).toEqual([]); // released, no temporary left
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
