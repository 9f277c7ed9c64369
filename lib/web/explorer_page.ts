/// <reference lib="dom" />
/**
 * `explorer.html`'s script (bundled by `deno task web build`): the controls (variant, gradient form, λ, r, m, t, K)
 * → {@link explore} → Observable Plot charts of the target and non-target loss and |dℓ/dcos θ| against cos θ at
 * b = b₀, with the decision boundaries and the variant's paper setting (grey, dashed) for reference. The shown b₀ is
 * also in `<output id="b0" data-b0>`; the controls are mirrored in the URL so a setting can be linked.
 * @module
 */
import * as Plot from "@observablehq/plot";
import {
  controlRanges,
  explore,
  type ExplorerControls,
  type ExplorerView,
  paperControls,
  parseControls,
} from "./explorer.ts";

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const NUMERIC = ["lambda", "r", "m", "t", "numClasses"] as const;
const fmt = (
  v: number | null,
) => (v === null ? "none in [−1, 1]" : `cos θ = ${v.toFixed(4)} (θ = ${(Math.acos(v) * 180 / Math.PI).toFixed(1)}°)`);

function readForm(): ExplorerControls {
  const input: Record<string, string> = {
    variant: $<HTMLSelectElement>("#variant").value,
    gradForm: $<HTMLSelectElement>("#gradForm").value,
  };
  for (const k of NUMERIC) input[k] = $<HTMLInputElement>(`#${k}`).value;
  return parseControls(input);
}

function writeForm(c: ExplorerControls): void {
  $<HTMLSelectElement>("#variant").value = c.variant;
  $<HTMLSelectElement>("#gradForm").value = c.gradForm;
  $<HTMLSelectElement>("#gradForm").disabled = c.variant !== "C";
  const ranges = controlRanges(c.variant);
  const paper = paperControls(c.variant);
  for (const k of NUMERIC) {
    const el = $<HTMLInputElement>(`#${k}`);
    Object.assign(el, { min: String(ranges[k].min), max: String(ranges[k].max), step: String(ranges[k].step) });
    el.value = String(c[k]);
    $(`#${k}-value`).textContent = String(c[k]);
    $(`#${k}-paper`).textContent = `paper: ${paper[k]}`;
  }
}

function chart(view: ExplorerView, y: "loss" | "grad", label: string): Element {
  const marks: Plot.Markish[] = [
    Plot.ruleY([0]),
    Plot.line(view.rows.filter((r) => r.setting === "paper"), {
      x: "cos",
      y,
      z: "term",
      stroke: "#999",
      strokeDasharray: "4,3",
    }),
    Plot.line(view.rows.filter((r) => r.setting === "current"), { x: "cos", y, stroke: "term", strokeWidth: 2 }),
  ];
  const rules = [
    { cos: view.boundaries.target, what: "target boundary" },
    { cos: view.boundaries.nonTarget, what: "non-target boundary" },
  ].filter((r) => r.cos !== null);
  marks.push(Plot.ruleX(rules, { x: "cos", stroke: "what", strokeDasharray: "2,2" }));
  return Plot.plot({
    width: 620,
    height: 300,
    x: { label: "cos θ", domain: [-1, 1] },
    y: { label, grid: true },
    color: { legend: true, domain: ["target", "nonTarget", "target boundary", "non-target boundary"] },
    marks,
  });
}

function render(): void {
  const error = $("#error");
  try {
    const controls = readForm();
    writeForm(controls);
    const view = explore(controls);
    error.textContent = "";
    const b0 = $("#b0");
    b0.textContent = view.b0.toFixed(6);
    b0.setAttribute("data-b0", String(view.b0));
    $("#paper-b0").textContent = view.paperB0.toFixed(6);
    $("#boundary-target").textContent = fmt(view.boundaries.target);
    $("#boundary-nontarget").textContent = fmt(view.boundaries.nonTarget);
    $("#loss-chart").replaceChildren(chart(view, "loss", "loss per term (lw/r scaled)"));
    $("#grad-chart").replaceChildren(chart(view, "grad", "|dℓ/dcos θ|"));
    const q = new URLSearchParams(Object.entries(controls).map(([k, v]) => [k, String(v)]));
    history.replaceState(null, "", `?${q}`);
  } catch (err) {
    error.textContent = (err as Error).message;
  }
}

function start(): void {
  const q = Object.fromEntries(new URLSearchParams(location.search));
  let initial: ExplorerControls;
  try {
    initial = parseControls(q);
  } catch (err) {
    $("#error").textContent = `URL: ${(err as Error).message}; showing the paper setting`;
    initial = paperControls("C");
  }
  writeForm(initial);
  $("#variant").addEventListener("change", () => {
    // A new variant starts from its own paper margin (C's 0.4 is out of M's range).
    const v = $<HTMLSelectElement>("#variant").value as ExplorerControls["variant"];
    $<HTMLInputElement>("#m").value = String(paperControls(v).m);
    if (v !== "C") $<HTMLSelectElement>("#gradForm").value = "detached";
    render();
  });
  $("#gradForm").addEventListener("change", render);
  for (const k of NUMERIC) $(`#${k}`).addEventListener("input", render);
  $("#reset").addEventListener("click", () => {
    writeForm(paperControls($<HTMLSelectElement>("#variant").value as ExplorerControls["variant"]));
    render();
  });
  render();
}

start();
