/**
 * Notebook parameters: a zod schema with defaults (the full run), overridden from the environment variable
 * {@link PARAMS_ENV} holding JSON or the path of a JSON file, so that tests and `deno task notebooks --params`
 * can run a notebook small. One JSON may serve several notebooks: keys a notebook does not know are ignored.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { notebookParams } from "./params.ts";
 * const params = notebookParams(z.object({ steps: z.number().int().min(1).default(300) }));
 * // SF2_NB_PARAMS='{"steps": 20}' → params.steps === 20
 * ```
 * @module
 */
import { z } from "zod";
import { formatZodError } from "../losses/config.ts";

/** The environment variable with the parameters: JSON text (starting with `{`) or a path to a JSON file. */
export const PARAMS_ENV = "SF2_NB_PARAMS";

export interface ParamsOptions {
  /** Replaces `Deno.env.get` (tests). */
  getEnv?: (name: string) => string | undefined;
}

/** The raw parameter object from {@link PARAMS_ENV} (`{}` when unset). */
export function rawParams(options: ParamsOptions = {}): Record<string, unknown> {
  const getEnv = options.getEnv ?? ((name: string) => Deno.env.get(name));
  const value = getEnv(PARAMS_ENV)?.trim();
  if (!value) return {};
  const source = value.startsWith("{") ? `${PARAMS_ENV}` : `${PARAMS_ENV} file ${value}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.startsWith("{") ? value : Deno.readTextFileSync(value));
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Validates the parameters against `schema` (which supplies the defaults); errors name the field. */
export function notebookParams<S extends z.ZodType>(schema: S, options: ParamsOptions = {}): z.output<S> {
  const raw = rawParams(options);
  const result = schema.safeParse(raw);
  if (!result.success) throw new Error(formatZodError(result.error, PARAMS_ENV));
  return result.data;
}
