/**
 * One line naming the machine a result came from (CPU model, logical cores, memory, OS), for results files.
 *
 * @example
 * ```ts
 * import { machineDescription } from "./machine.ts";
 * console.log(await machineDescription()); // "AMD EPYC 7B13, 2 cores, 24 GiB, linux x86_64"
 * ```
 * @module
 */

/** CPU model, logical cores, memory and OS; fields that cannot be read are left out. */
export async function machineDescription(): Promise<string> {
  const parts: string[] = [];
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim();
    if (model) parts.push(model);
  } catch {
    // Not Linux, or /proc not readable: the model is left out.
  }
  parts.push(`${navigator.hardwareConcurrency} cores`);
  try {
    parts.push(`${Math.round(Deno.systemMemoryInfo().total / 2 ** 30)} GiB`);
  } catch {
    // systemMemoryInfo needs --allow-sys.
  }
  parts.push(`${Deno.build.os} ${Deno.build.arch}`);
  return parts.join(", ");
}
