/**
 * Command-line flags for tasks: `--key value` / `--key=value` parsed against a zod schema, so a bad flag is
 * reported as `--batch: Too small: expected number to be >=1` and every knob has a typed default.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseFlags } from "./flags.ts";
 * const { flags, positionals } = parseFlags(["head", "--batch", "64"], z.object({ batch: z.coerce.number().default(256) }));
 * // flags.batch === 64, positionals = ["head"]
 * ```
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { type BackendChoice, type BackendRequest, initBackend, parseBackendRequest } from "../backend/select.ts";

export interface ParsedFlags<T> {
  flags: T;
  positionals: string[];
}

/**
 * Splits argv into positionals and `--key value` pairs (a bare `--flag` is `true`), then validates. The flags
 * named in `options.paths` are paths the user typed: given relative, they resolve with {@link userPath} (defaults
 * the schema fills in stay kit-relative).
 */
export function parseFlags<S extends z.ZodType>(
  argv: readonly string[],
  schema: S,
  program = "task",
  options: { paths?: readonly string[] } = {},
): ParsedFlags<z.output<S>> {
  const raw: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const body = arg.slice(2);
    const eq = body.indexOf("=");
    if (eq >= 0) {
      raw[camel(body.slice(0, eq))] = body.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      raw[camel(body)] = argv[++i];
    } else {
      raw[camel(body)] = true;
    }
  }
  for (const key of options.paths ?? []) {
    if (typeof raw[key] === "string" && raw[key] !== "") raw[key] = userPath(raw[key] as string);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      if (issue.code === "unrecognized_keys") {
        return `${program}: unknown flag ${issue.keys.map((k) => `--${kebab(k)}`).join(", ")}`;
      }
      const key = issue.path.length ? `--${kebab(String(issue.path[0]))}` : "(flags)";
      return `${program}: ${key}: ${issue.message}`;
    });
    throw new UsageError(lines.join("\n"));
  }
  return { flags: result.data, positionals };
}

/** A bad command line: tasks print the message without a stack trace and exit with status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `--backend auto|tensorflow|wasm|cpu|webgpu`, shared by every task (the env variable SF2_BACKEND also works). */
export const backendFlag = z.string().optional().transform((v, ctx) => {
  if (v === undefined) return undefined;
  try {
    return parseBackendRequest(v, "value");
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message.replace(/^value: /, "") });
    return z.NEVER;
  }
});

/** Initialises the backend a task asked for and prints the choice on stderr, as every task must. */
export async function startBackend(requested: BackendRequest | undefined): Promise<BackendChoice> {
  const choice = await initBackend(requested ? { requested } : {});
  console.error(choice.message);
  return choice;
}

/**
 * The help of the running task: its module doc comment (the first `/** … *\/` block of `Deno.mainModule`, which
 * every task opens with its usage), so `--help` and the documentation cannot drift apart. With a subcommand
 * (`data lfw --help`), only the paragraphs about it when the doc has some.
 */
export function taskHelp(argv: readonly string[] = Deno.args, mainModule = Deno.mainModule): string {
  let source = "";
  try {
    source = Deno.readTextFileSync(new URL(mainModule));
  } catch {
    return "no help available (the task's source cannot be read)";
  }
  const m = /\/\*\*([\s\S]*?)\*\//.exec(source);
  if (!m) return "no help available";
  const text = m[1].split("\n").map((l) => l.replace(/^\s*\* ?/, "")).filter((l) => !l.startsWith("@module"))
    .join("\n").trim();
  const sub = argv.find((a) => !a.startsWith("-"));
  if (sub) {
    const word = sub.replace(/[^\w-]/g, "");
    const paragraphs = text.split(/\n\s*\n/).filter((p) =>
      new RegExp(`^\`deno task [\\w-]+ ${word}[\\s\`\\[]`).test(p)
    );
    if (paragraphs.length) return paragraphs.join("\n\n");
  }
  return text;
}

/** The first paragraph of {@link taskHelp}: the usage line(s). */
export function taskUsage(argv: readonly string[] = Deno.args): string {
  return taskHelp(argv).split(/\n\s*\n/)[0];
}

/**
 * Runs a task's main function. `--help` or `-h` anywhere prints {@link taskHelp} and exits 0 without running
 * anything (the one help mechanism of every task and subcommand). Usage errors print their message and exit 2;
 * an error carrying an `exitCode` (training stopped by Ctrl-C: 130) prints its message and exits with it; other
 * errors print the message (and the stack when SF2_DEBUG is set) and exit 1.
 */
export async function runTask(main: () => Promise<number | void>): Promise<never> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(taskHelp());
    Deno.exit(0);
  }
  try {
    const code = await main();
    Deno.exit(code ?? 0);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      Deno.exit(2);
    }
    const e = err as Error & { exitCode?: unknown };
    console.error(`error: ${e.message}`);
    if (Deno.env.get("SF2_DEBUG")) console.error(e.stack);
    Deno.exit(typeof e.exitCode === "number" ? e.exitCode : 1);
  }
}

/**
 * A path the user typed, resolved against the directory the command was started in: `deno task` runs tasks in
 * the kit root and says where it was started in `INIT_CWD`, so `deno task align face.jpg` from a photo folder
 * reads that folder's `face.jpg`. Defaults the kit chooses (`results/…`, `data/cache/…`) stay kit-relative.
 */
export function userPath(path: string): string {
  const base = Deno.env.get("INIT_CWD");
  // Unchanged when started in the kit root, so messages show the path as typed.
  return base === undefined || isAbsolute(path) || resolve(base) === Deno.cwd() ? path : resolve(base, path);
}

/** `--shard I/N` (1 ≤ I ≤ N): which share of a job list this process runs; parsed to `[I, N]`. */
export const shardFlag = z.string().optional().transform((v, ctx) => {
  if (v === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) {
    ctx.addIssue({ code: "custom", message: `expected I/N with 1 ≤ I ≤ N, e.g. 1/2; got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return [Number(m[1]), Number(m[2])] as [number, number];
});
