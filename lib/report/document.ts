/**
 * A report as a list of blocks (headings, paragraphs, lists, tables, figures), rendered to Markdown (figures
 * linked as files) and to one standalone HTML page (figures inlined as SVG), so both say exactly the same.
 * Inline text may use `code` and **bold**.
 *
 * @example
 * ```ts
 * import { toHtml, toMarkdown, type Block } from "./document.ts";
 * const blocks: Block[] = [{ kind: "heading", level: 1, text: "Results" }, { kind: "paragraph", text: "**Done**." }];
 * console.log(toMarkdown(blocks), toHtml(blocks, "Results"));
 * ```
 * @module
 */
import { type Align, type Cell, markdownTable } from "../render/markdown.ts";
import type { Figure } from "./loss_figures.ts";
import { escapeHtml } from "../render/display.ts";

export type Block =
  | { kind: "heading"; level: 1 | 2 | 3 | 4; text: string }
  | { kind: "paragraph"; text: string }
  | { kind: "list"; items: string[] }
  | { kind: "table"; headers: string[]; rows: Cell[][]; align?: Align[] }
  | { kind: "figure"; figure: Figure }
  /** A section already written as Markdown; `html` overrides its conversion by {@link markdownToHtml}. */
  | { kind: "markdown"; markdown: string; html?: string; svgFor?: (src: string) => string | undefined };

/** Markdown, figures as `![title](<figureDir>/<file>)` plus their caption in italics. */
export function toMarkdown(blocks: readonly Block[], figureDir = "figures"): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case "heading":
        out.push(`${"#".repeat(b.level)} ${b.text}`);
        break;
      case "paragraph":
        out.push(b.text);
        break;
      case "list":
        out.push(b.items.map((i) => `- ${i}`).join("\n"));
        break;
      case "table":
        out.push(markdownTable(b.headers, b.rows, b.align).trimEnd());
        break;
      case "figure":
        out.push(`![${b.figure.title}](${figureDir}/${b.figure.file})\n\n*${b.figure.caption}*`);
        break;
      case "markdown":
        out.push(b.markdown.trimEnd());
    }
  }
  return out.join("\n\n") + "\n";
}

/** Escaped text with `code` and **bold** turned into tags. */
export function inlineHtml(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>").replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
}

const STYLE =
  `body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem}
th{background:#f4f4f4}td.right{text-align:right}figure{margin:1rem 0}figcaption{font-style:italic;color:#555}
code{background:#f4f4f4;padding:0 .2rem}`;

/**
 * HTML of the Markdown subset the kit's report sections use: ATX headings, pipe tables, `- ` lists, images
 * (inlined as SVG when `svgFor` knows the file) and paragraphs with `code`, **bold** and *italic*.
 */
export function markdownToHtml(
  markdown: string,
  svgFor: (src: string) => string | undefined = () => undefined,
): string {
  // Italics only outside code spans: `a*b*` stays literal.
  const inline = (t: string) =>
    t.split(/(`[^`]+`)/).map((part, k) =>
      k % 2
        ? `<code>${escapeHtml(part.slice(1, -1))}</code>`
        : inlineHtml(part).replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
    ).join("");
  const out: string[] = [];
  for (const chunk of markdown.split(/\n\s*\n/)) {
    const text = chunk.trim();
    if (!text) continue;
    const lines = text.split("\n");
    const heading = /^(#{1,6})\s+(.*)$/.exec(text);
    const image = /^!\[([^\]]*)\]\(([^)]+)\)$/.exec(text);
    if (heading && lines.length === 1) out.push(`<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`);
    else if (image) {
      const svg = svgFor(image[2]);
      out.push(svg ? `<figure>${svg}</figure>` : `<img src="${escapeHtml(image[2])}" alt="${escapeHtml(image[1])}">`);
    } else if (lines.every((l) => l.startsWith("|"))) {
      const cells = (l: string) =>
        l.slice(1, l.endsWith("|") ? -1 : undefined).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
      const rule = cells(lines[1] ?? "");
      const right = rule.map((c) => c.endsWith(":") && !c.startsWith(":"));
      const row = (l: string, tag: string) =>
        `<tr>${
          cells(l).map((c, i) => `<${tag}${right[i] ? ' class="right"' : ""}>${inline(c)}</${tag}>`).join("")
        }</tr>`;
      out.push(
        `<table><thead>${row(lines[0], "th")}</thead><tbody>${
          lines.slice(2).map((l) => row(l, "td")).join("")
        }</tbody></table>`,
      );
    } else if (lines.every((l) => /^\s*- /.test(l) || /^\s{2,}\S/.test(l))) {
      const items = text.split(/\n(?=\s*- )/).map((i) => i.replace(/^\s*- /, "").replace(/\n\s*/g, " "));
      out.push(`<ul>${items.map((i) => `<li>${inline(i)}</li>`).join("")}</ul>`);
    } else out.push(`<p>${inline(lines.join(" "))}</p>`);
  }
  return out.join("\n");
}

/** One standalone HTML page (no external files), figures inlined. */
export function toHtml(blocks: readonly Block[], title: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>${STYLE}</style></head><body>\n${blocksHtml(blocks)}\n</body></html>\n`;
}

/** The HTML of some blocks (a fragment: what {@link toHtml} puts in the page's body; notebooks show it inline). */
export function blocksHtml(blocks: readonly Block[]): string {
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case "heading":
        body.push(`<h${b.level}>${inlineHtml(b.text)}</h${b.level}>`);
        break;
      case "paragraph":
        body.push(`<p>${inlineHtml(b.text)}</p>`);
        break;
      case "list":
        body.push(`<ul>${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join("")}</ul>`);
        break;
      case "table": {
        const cls = (i: number) => (b.align?.[i] === "right" ? ` class="right"` : "");
        const cell = (v: Cell) => inlineHtml(v === null || v === undefined ? "–" : String(v));
        body.push(
          `<table><thead><tr>${b.headers.map((h) => `<th>${inlineHtml(h)}</th>`).join("")}</tr></thead><tbody>` +
            b.rows.map((r) => `<tr>${r.map((v, i) => `<td${cls(i)}>${cell(v)}</td>`).join("")}</tr>`).join("") +
            "</tbody></table>",
        );
        break;
      }
      case "figure":
        body.push(`<figure>${b.figure.svg}<figcaption>${inlineHtml(b.figure.caption)}</figcaption></figure>`);
        break;
      case "markdown":
        body.push(b.html ?? markdownToHtml(b.markdown, b.svgFor));
    }
  }
  return body.join("\n");
}
