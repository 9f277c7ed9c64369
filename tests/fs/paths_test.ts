import { expect } from "expect";
import { isDir, isFile, pathExists } from "../../lib/fs/paths.ts";

Deno.test("pathExists, isFile, isDir: missing paths are false, links are seen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f.txt`, "x");
    await Deno.symlink(`${dir}/gone`, `${dir}/dangling`);
    expect(await pathExists(`${dir}/f.txt`)).toBe(true);
    expect(await pathExists(`${dir}/nope`)).toBe(false);
    expect(await pathExists(`${dir}/dangling`)).toBe(true); // the link itself is there
    expect(await isFile(`${dir}/f.txt`)).toBe(true);
    expect(await isFile(dir)).toBe(false);
    expect(await isDir(dir)).toBe(true);
    expect(await isDir(`${dir}/dangling`)).toBe(false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
