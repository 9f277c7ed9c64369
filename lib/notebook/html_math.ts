/**
 * Maths that renders offline in a notebook's HTML export: the TeX of Markdown cells and Markdown outputs
 * (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`) is typeset at export time with KaTeX (npm `katex`) into HTML, and KaTeX's
 * stylesheet is inlined with its fonts as data URIs. The page needs no script and no network: nbconvert's
 * template loads MathJax from a CDN (or a local path that does not exist), so maths never rendered offline.
 *
 * @example
 * ```ts
 * import { renderMathInHtml } from "./html_math.ts";
 * const { html, rendered } = renderMathInHtml(await Deno.readTextFile("results/notebooks/02/02.html"));
 * ```
 * @module
 */
import katex from "katex";
import { parseHTML } from "linkedom";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Class of the elements nbconvert gives rendered Markdown (cells and `text/markdown` outputs). */
const RENDERED = "rendered_html";
/** Elements whose text is never maths. */
const SKIP = new Set(["PRE", "CODE", "SCRIPT", "STYLE", "TEXTAREA"]);
/** Delimiters, longest first: display `$$…$$` and `\[…\]`, inline `\(…\)` and `$…$` (not `$` followed by space;
 * it may span a line break, which `deno fmt` puts into long inline formulas). */
const MATH = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$(?!\s)((?:\\\$|[^$])+?)\$/g;

/** The little of linkedom's DOM used here (Deno's type library has no DOM). */
interface DomNode {
  nodeType: number;
  textContent: string | null;
  tagName: string;
  innerHTML: string;
  childNodes: ArrayLike<DomNode>;
  nextSibling: DomNode | null;
  parentNode: DomNode | null;
  parentElement: DomNode | null;
  closest(selector: string): DomNode | null;
  getAttribute(name: string): string | null;
  remove(): void;
  replaceChild(child: DomNode, old: DomNode): void;
  appendChild(child: DomNode): void;
  outerHTML: string;
}
interface DomDocument {
  querySelectorAll(selector: string): ArrayLike<DomNode>;
  createElement(name: string): DomNode;
  head: DomNode;
  documentElement: DomNode;
}

export interface MathRender {
  html: string;
  /** Number of formulas typeset. */
  rendered: number;
  /** Formulas KaTeX rejected (shown as red source in the page), with KaTeX's message. */
  errors: string[];
}

/** Typesets one TeX formula to HTML (errors are rendered in red and reported, not thrown). */
export function renderTex(tex: string, displayMode: boolean): { html: string; error?: string } {
  try {
    return { html: katex.renderToString(tex, { displayMode, throwOnError: true, output: "html" }) };
  } catch (err) {
    return {
      html: katex.renderToString(tex, { displayMode, throwOnError: false, output: "html" }),
      error: `${(err as Error).message} in: ${tex.slice(0, 80)}`,
    };
  }
}

/**
 * Typesets the maths of an nbconvert HTML export, removes its MathJax scripts and inlines KaTeX's CSS and fonts.
 * Only text inside rendered Markdown is touched (code, outputs of code and tables of numbers are left alone).
 */
export function renderMathInHtml(page: string): MathRender {
  const { document } = parseHTML(page) as unknown as { document: DomDocument };
  let rendered = 0;
  const errors: string[] = [];
  const roots = Array.from(document.querySelectorAll(`.${RENDERED}`)).filter((el) =>
    !el.parentElement?.closest(`.${RENDERED}`)
  );
  for (const root of roots) {
    const texts: DomNode[] = [];
    const walk = (node: DomNode) => {
      for (const child of Array.from(node.childNodes)) {
        if (child.nodeType !== 3) continue;
        // The parser may split one run of text at entities (`&lt;`): merge adjacent text nodes first.
        while (child.nextSibling?.nodeType === 3) {
          child.textContent = (child.textContent ?? "") + (child.nextSibling.textContent ?? "");
          child.nextSibling!.remove();
        }
      }
      for (const child of Array.from(node.childNodes)) {
        if (child.nodeType === 3) texts.push(child);
        else if (child.nodeType === 1 && !SKIP.has(child.tagName)) walk(child);
      }
    };
    walk(root);
    for (const text of texts) {
      const value = text.textContent ?? "";
      if (!/[$\\]/.test(value)) continue;
      let html = "";
      let last = 0;
      let found = false;
      for (const m of value.matchAll(MATH)) {
        const tex = m[1] ?? m[2] ?? m[3] ?? m[4];
        const display = m[1] !== undefined || m[2] !== undefined;
        const out = renderTex(tex.trim(), display);
        if (out.error) errors.push(out.error);
        html += escapeText(value.slice(last, m.index)) + out.html;
        last = m.index! + m[0].length;
        rendered++;
        found = true;
      }
      if (!found) continue;
      html += escapeText(value.slice(last));
      const span = document.createElement("span");
      span.innerHTML = html;
      text.parentNode!.replaceChild(span, text);
    }
  }
  for (const script of Array.from(document.querySelectorAll("script"))) {
    const src = script.getAttribute("src") ?? "";
    if (/mathjax/i.test(src) || /MathJax/.test(script.textContent ?? "")) script.remove();
  }
  const style = document.createElement("style");
  style.textContent = katexCss();
  document.head.appendChild(style);
  // The template's comments about loading MathJax go too: nothing in the page refers to it any more.
  const html = document.documentElement.outerHTML.replace(/<!--(?:(?!-->)[\s\S])*?mathjax[\s\S]*?-->\s*/gi, "");
  return { html: "<!DOCTYPE html>\n" + html, rendered, errors };
}

let cssCache: string | undefined;

/** KaTeX's stylesheet with its woff2 fonts inlined as data URIs (other formats dropped: every browser reads woff2). */
export function katexCss(): string {
  if (cssCache) return cssCache;
  const cssPath = createRequire(import.meta.url).resolve("katex/dist/katex.min.css");
  const css = Deno.readTextFileSync(cssPath);
  const fontsDir = dirname(cssPath);
  cssCache = css.replace(/src:([^;}]+)/g, (_all, list: string) => {
    const woff2 = /url\(([^)]+\.woff2)\)\s*format\("woff2"\)/.exec(list);
    if (!woff2) return `src:${list}`;
    const bytes = Deno.readFileSync(join(fontsDir, woff2[1].replace(/^["']|["']$/g, "")));
    return `src:url(data:font/woff2;base64,${base64(bytes)}) format("woff2")`;
  });
  return cssCache;
}

function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
