/**
 * Small Markdown helpers for reports: a pipe table and number formatting that prints missing values as "–".
 *
 * @example
 * ```ts
 * import { fixed, markdownTable } from "./markdown.ts";
 * markdownTable(["setting", "b₀"], [["C", fixed(5.784568, 5)]], ["left", "right"]);
 * // | setting | b₀ |
 * // | :-- | --: |
 * // | C | 5.78457 |
 * ```
 * @module
 */

export type Align = "left" | "right" | "center";
export type Cell = string | number | boolean | null | undefined;

/**
 * A GitHub-flavoured Markdown pipe table. Cells are converted with `String` (null/undefined print "–"); pipes
 * and newlines inside cells are escaped so a cell can never break the table. `align` defaults to left.
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  align: readonly Align[] = [],
): string {
  for (const [i, row] of rows.entries()) {
    if (row.length !== headers.length) {
      throw new Error(`markdownTable: row ${i} has ${row.length} cells, expected ${headers.length}`);
    }
  }
  const rule = headers.map((_, i) => ({ left: ":--", right: "--:", center: ":-:" })[align[i] ?? "left"]);
  const line = (cells: readonly Cell[]) => `| ${cells.map(cell).join(" | ")} |`;
  return [line(headers), `| ${rule.join(" | ")} |`, ...rows.map(line)].join("\n") + "\n";
}

function cell(value: Cell): string {
  if (value === null || value === undefined) return "–";
  return String(value).replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** `x.toFixed(digits)`, or "–" when x is null, undefined or not finite. */
export function fixed(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits);
}

/** Scientific notation with `digits` significant digits after the point (e.g. 2.2e-16), "–" when missing. */
export function sci(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toExponential(digits);
}
