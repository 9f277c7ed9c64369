/**
 * The GPU check as one file for a bare Linux machine with a GPU (`deno task gpu-pack`): the running Deno binary,
 * exactly the kit modules `tasks/gpu_check.ts` imports, the PyTorch twin's scripts, and a Deno cache holding only
 * the npm packages that step loads, with a `deno.json` and `deno.lock` restricted to them (so Deno, run with
 * `--cached-only`, neither reaches the network nor asks for the kit's other packages: sharp, playwright, face-api…),
 * plus `run.sh`, which runs the check from where the archive was unpacked. Source maps are left out (two thirds
 * of tfjs's bytes; nothing loads them). Deno's WebGPU reaches the GPU through Vulkan, so this machine's Vulkan
 * loader (`libvulkan.so.1`, 0.5 MiB, libc only) goes in too, for a target that lacks one; the GPU's own Vulkan
 * driver (NVIDIA's ICD) must be on the target. Compressed with `xz -T1 -9`: about 35 MiB. The Deno binary is the
 * one running the build: the target must have the same OS and architecture (Linux x86-64, glibc).
 *
 * @example
 * ```ts
 * import { planGpuPack } from "./gpu_pack.ts";
 * const plan = await planGpuPack();
 * console.log(plan.packages.map((p) => p.key)); // tfjs and its dependencies, tfjs-backend-webgpu, zod…
 * ```
 * @module
 */
import { REPO_ROOT } from "../fs/paths.ts";

/** The step the pack runs. */
export const GPU_CHECK_ENTRY = "tasks/gpu_check.ts";
/**
 * npm packages the step imports by name at run time, which `deno info` cannot see: lib/backend/select.ts imports
 * the WebGPU backend dynamically (only when WebGPU is asked for).
 */
export const DYNAMIC_NPM_IMPORTS = ["@tensorflow/tfjs-backend-webgpu"] as const;
/** The PyTorch twin (lib/bench/train_task.ts runs the first; it imports the second). */
export const TORCH_TWIN_FILES = ["tasks/reference/bench_train_torch.py", "tasks/reference/torch_env.py"] as const;
/** The folder every file of the archive lies under. */
export const PACK_ROOT = "sf2-gpu-check";
/** Where the Vulkan loader is looked for on the building machine (Debian/Ubuntu, Fedora, others). */
export const VULKAN_LOADER_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
  "/usr/lib64/libvulkan.so.1",
  "/usr/lib/libvulkan.so.1",
] as const;
/** The size the pack must stay under (the limit). */
export const PACK_LIMIT_BYTES = 64 * 1024 * 1024;

/** One npm package of the pack: its lock key (`name@version[_peers]`) and where this clone has its files. */
export interface PackPackage {
  key: string;
  name: string;
  version: string;
  localPath: string;
}

/** What goes into the pack, computed from `deno info --json` and the kit's own deno.json and deno.lock. */
export interface GpuPackPlan {
  /** Kit files (repository-relative) the step loads, the twin's scripts included. */
  files: string[];
  /** The npm packages the step loads, with their dependencies. */
  packages: PackPackage[];
  /** The pack's deno.json: the kit's, its imports restricted to the step's, no node_modules folder. */
  denoJson: Record<string, unknown>;
  /** The pack's deno.lock: the kit's entries for those packages only (frozen, so nothing is re-resolved). */
  lock: Record<string, unknown>;
}

interface DenoInfo {
  modules: { specifier: string }[];
  npmPackages: Record<string, { name: string; version: string; dependencies?: string[]; localPath?: string }>;
}

type Lock = {
  version: string;
  specifiers: Record<string, string>;
  npm: Record<string, unknown>;
  workspace?: { dependencies?: string[]; packageJson?: unknown };
};

/**
 * Pure part of {@link planGpuPack}: from the module graph (`deno info --json GPU_CHECK_ENTRY`), the kit's deno.json
 * and deno.lock, the files and packages the step needs and the pack's restricted config and lock. Throws naming the
 * package when an import cannot be traced to the lock (the pack would then fail offline on the GPU machine).
 */
export function planFromInfo(
  info: DenoInfo,
  denoJson: { imports: Record<string, string> } & Record<string, unknown>,
  lock: Lock,
  repoUrl: string,
): GpuPackPlan {
  const files = info.modules.map((m) => m.specifier).filter((s) => s.startsWith(repoUrl))
    .map((s) => decodeURIComponent(s.slice(repoUrl.length)));
  // Roots: the npm packages in the static graph (`npm:/name@version/…`) and the dynamic imports, by name.
  const rootNames = new Set<string>(DYNAMIC_NPM_IMPORTS);
  for (const m of info.modules) {
    const hit = /^npm:\/?((?:@[^/]+\/)?[^@/]+)@/.exec(m.specifier);
    if (hit) rootNames.add(hit[1]);
  }
  const imports: Record<string, string> = {};
  const specifiers: Record<string, string> = {};
  const rootKeys: string[] = [];
  for (const name of rootNames) {
    const target = denoJson.imports[name];
    if (!target) throw new Error(`deno.json: no import for "${name}", which ${GPU_CHECK_ENTRY} loads`);
    const resolved = lock.specifiers[target];
    if (!resolved) throw new Error(`deno.lock: no entry for ${target} (imported as "${name}")`);
    imports[name] = target;
    specifiers[target] = resolved;
    rootKeys.push(`${name}@${resolved}`);
  }
  const packages: PackPackage[] = [];
  const seen = new Set<string>();
  const stack = [...rootKeys];
  while (stack.length) {
    const key = stack.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const p = info.npmPackages[key];
    if (!p) throw new Error(`deno info: npm package ${key} is not in the resolved graph (deno.lock out of date?)`);
    if (!p.localPath) throw new Error(`npm package ${key} has no local copy: run \`deno install\` in the kit first`);
    packages.push({ key, name: p.name, version: p.version, localPath: p.localPath });
    stack.push(...(p.dependencies ?? []));
  }
  packages.sort((a, b) => a.key.localeCompare(b.key));
  const npm: Record<string, unknown> = {};
  for (const p of packages) {
    if (!(p.key in lock.npm)) throw new Error(`deno.lock: no npm entry ${p.key}`);
    npm[p.key] = lock.npm[p.key];
  }
  const { tasks: _tasks, fmt: _fmt, lint: _lint, ...rest } = denoJson;
  return {
    files: [...files, ...TORCH_TWIN_FILES].sort(),
    packages,
    denoJson: { ...rest, nodeModulesDir: "none", lock: { frozen: true }, imports },
    lock: {
      version: lock.version,
      specifiers,
      npm,
      workspace: { dependencies: Object.keys(imports).map((n) => imports[n]).sort() },
    },
  };
}

async function denoOutput(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd, stderr: "piped", stdout: "piped" }).output();
  if (!out.success) {
    throw new Error(`deno ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim().slice(0, 400)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Reads the module graph of {@link GPU_CHECK_ENTRY} and the kit's config, and plans the pack. */
export async function planGpuPack(repo: string = REPO_ROOT): Promise<GpuPackPlan> {
  const root = repo.endsWith("/") ? repo : repo + "/";
  const info = JSON.parse(await denoOutput(["info", "--json", GPU_CHECK_ENTRY], root)) as DenoInfo;
  const denoJson = JSON.parse(await Deno.readTextFile(root + "deno.json"));
  const lock = JSON.parse(await Deno.readTextFile(root + "deno.lock")) as Lock;
  return planFromInfo(info, denoJson, lock, new URL(`file://${root}`).href);
}

/** The pack's entry script; `$@` are gpu-check's flags. */
export const RUN_SH = `#!/bin/sh
# The SphereFace2 kit's GPU check, packed by \`deno task gpu-pack\`. Runs offline from this folder:
#   ./run.sh [--steps 10] [--batch 64] [--size 56] [--width 0.25] [--classes 1000] [--python PYTHON] [--allow-software]
# The kit trains on WebGPU (this folder's Deno); the PyTorch twin runs on CUDA with --python, else the first
# python3 on PATH (it needs torch with CUDA; without it the check reports the kit alone). Last line: JSON.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export DENO_DIR="$here/cache" DENO_NO_UPDATE_CHECK=1
# WebGPU needs a Vulkan loader; the packed one is used only where the system has none. The GPU's Vulkan driver
# comes from the system (NVIDIA's driver; in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics).
if [ -e vulkan/libvulkan.so.1 ] && ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libvulkan\\.so\\.1 '; then
  export LD_LIBRARY_PATH="$here/vulkan\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
case " $* " in
*" --python"*) exec ./deno run -A --cached-only ${GPU_CHECK_ENTRY} "$@" ;;
*) exec ./deno run -A --cached-only ${GPU_CHECK_ENTRY} --python "$(command -v python3 || echo /usr/bin/python3)" "$@" ;;
esac
`;

async function firstExisting(paths: readonly string[]): Promise<string | null> {
  for (const p of paths) {
    try {
      if ((await Deno.stat(p)).isFile) return p;
    } catch {
      // not here
    }
  }
  return null;
}

async function copyTree(src: string, dst: string, skip: (name: string) => boolean): Promise<number> {
  await Deno.mkdir(dst, { recursive: true });
  let bytes = 0;
  for await (const e of Deno.readDir(src)) {
    const from = `${src}/${e.name}`, to = `${dst}/${e.name}`;
    if (e.isDirectory) bytes += await copyTree(from, to, skip);
    else if (e.isSymlink) await Deno.symlink(await Deno.readLink(from), to);
    else if (!skip(e.name)) {
      await Deno.copyFile(from, to);
      bytes += (await Deno.stat(to)).size;
    }
  }
  return bytes;
}

/** Options of {@link buildGpuPack}. */
export interface GpuPackOptions {
  /** The archive to write (`.tar.xz`); written through a temporary sibling, so it is whole or absent. */
  out: string;
  /** The kit to pack (default: this one). */
  repo?: string;
  /** xz preset, 0-9 (default 9: smallest). */
  level?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** What {@link buildGpuPack} wrote. */
export interface GpuPackResult {
  out: string;
  bytes: number;
  uncompressedBytes: number;
  files: number;
  packages: string[];
  deno: string;
  /** The Vulkan loader packed, or null when this machine has none. */
  vulkanLoader: string | null;
}

/**
 * Builds the pack: stages {@link PACK_ROOT}/ in a temporary folder (the Deno binary that runs this, the step's
 * kit files, the restricted deno.json/deno.lock, `cache/npm/registry.npmjs.org/NAME/VERSION/` copied from this
 * clone's installed packages, so no network is needed, and run.sh), then `tar | xz -T1` into `out`.
 */
export async function buildGpuPack(o: GpuPackOptions): Promise<GpuPackResult> {
  const repo = (o.repo ?? REPO_ROOT).replace(/\/?$/, "/");
  const log = o.log ?? ((line: string) => console.error(line));
  const plan = await planGpuPack(repo);
  log(`gpu-pack: ${plan.files.length} kit files, ${plan.packages.length} npm packages`);
  const stage = await Deno.makeTempDir({ prefix: "sf2-gpu-pack-" });
  const tmpOut = `${o.out}.tmp-${Deno.pid}`;
  try {
    const dir = `${stage}/${PACK_ROOT}`;
    let bytes = 0;
    for (const f of plan.files) {
      await Deno.mkdir(`${dir}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.copyFile(repo + f, `${dir}/${f}`);
      bytes += (await Deno.stat(`${dir}/${f}`)).size;
    }
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(plan.denoJson, null, 2) + "\n");
    await Deno.writeTextFile(`${dir}/deno.lock`, JSON.stringify(plan.lock, null, 2) + "\n");
    await Deno.writeTextFile(`${dir}/run.sh`, RUN_SH, { mode: 0o755 });
    await Deno.chmod(`${dir}/run.sh`, 0o755);
    for (const p of plan.packages) {
      bytes += await copyTree(
        p.localPath,
        `${dir}/cache/npm/registry.npmjs.org/${p.name}/${p.version}`,
        (n) => n.endsWith(".map"),
      );
    }
    const vulkanFound = await firstExisting(VULKAN_LOADER_PATHS);
    if (vulkanFound) {
      await Deno.mkdir(`${dir}/vulkan`);
      await Deno.copyFile(vulkanFound, `${dir}/vulkan/libvulkan.so.1`);
      bytes += (await Deno.stat(`${dir}/vulkan/libvulkan.so.1`)).size;
    } else log("gpu-pack: no Vulkan loader (libvulkan.so.1) on this machine: the target must have its own");
    await Deno.copyFile(Deno.execPath(), `${dir}/deno`);
    await Deno.chmod(`${dir}/deno`, 0o755);
    bytes += (await Deno.stat(`${dir}/deno`)).size;
    log(`gpu-pack: staged ${(bytes / 2 ** 20).toFixed(1)} MiB; compressing (xz -T1 -${o.level ?? 9}, a minute or two)`);
    const level = o.level ?? 9;
    const cmd = `set -o pipefail; tar -C "$1" --owner=0 --group=0 --numeric-owner -cf - "$2" | xz -T1 -${level} > "$3"`;
    const out = await new Deno.Command("bash", {
      args: ["-c", cmd, "bash", stage, PACK_ROOT, tmpOut],
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`tar | xz into ${tmpOut} failed: ${new TextDecoder().decode(out.stderr).trim().slice(0, 400)}`);
    }
    await Deno.rename(tmpOut, o.out);
    const size = (await Deno.stat(o.out)).size;
    return {
      out: o.out,
      bytes: size,
      uncompressedBytes: bytes,
      files: plan.files.length,
      packages: plan.packages.map((p) => p.key),
      deno: Deno.execPath(),
      vulkanLoader: vulkanFound,
    };
  } finally {
    await Deno.remove(tmpOut).catch(() => {});
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}
