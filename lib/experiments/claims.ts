/**
 * The paper's claims, checked against a grid's results: for each experiment family and dataset a verdict
 * (reproduced / not reproduced / not testable at this scale) with the evidence in numbers, all on the primary
 * metric (10-fold accuracy on the dataset's first pair set) and the seed-spread rule of summary.ts.
 *
 * "Not testable" means the experiment could not speak to the claim: no row of the family beats the
 * random-initialisation control beyond the seed spread (the models did not learn a face representation at this
 * budget), or the results lack the rows; for label noise also when, at the highest ratio, no loss is above the
 * control (the noise erased what all of them learned: nothing to rank). "Not reproduced" means the models learned
 * but the claimed ordering did not show beyond the spread (or the opposite did).
 *
 * @example
 * ```ts
 * import { readReference } from "./reference.ts";
 * import { loadExperiments } from "./spec.ts";
 * import { checkClaims } from "./claims.ts";
 * const results = await readReference("cpu");
 * if (results) for (const c of checkClaims(results, await loadExperiments())) console.log(c.verdict, c.evidence);
 * ```
 * @module
 */
import type { GridResults } from "./grid.ts";
import { CONTROL_CELL } from "./jobs.ts";
import { cellId, type Experiment, type Family, type Role } from "./spec.ts";
import { cellStat, datasetSets, difference, PRIMARY_METRIC, type Stat } from "./summary.ts";

export const VERDICTS = ["reproduced", "not reproduced", "not testable"] as const;
export type Verdict = typeof VERDICTS[number];

export interface ClaimCheck {
  family: Family;
  dataset: string;
  /** The pair set the verdict is read on. */
  set: string;
  claim: string;
  verdict: Verdict;
  evidence: string;
}

/** A finding of the kit that is not a claim of the paper (the gradient forms). */
export interface Finding {
  dataset: string;
  set: string;
  text: string;
}

/** The margins claim's "same range": forms within this many points count as equivalent (see checkFamily). */
export const SAME_RANGE_PP = 2;

const pp = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(1)} pp`;
const show = (label: string, s: Stat) => `${label} ${s.mean.toFixed(1)} ± ${s.std.toFixed(1)}`;

interface Ctx {
  results: GridResults;
  dataset: string;
  set: string;
  control: Stat | null;
}

function rowStats(
  ctx: Ctx,
  e: Experiment,
): Array<{ label: string; role?: Role; x?: number; series?: string; s: Stat | null }> {
  return e.rows.map((r) => ({
    label: r.label,
    role: r.role,
    x: r.x,
    series: r.series,
    s: cellStat(ctx.results, ctx.dataset, cellId(r.head, r.noise), ctx.set, PRIMARY_METRIC),
  }));
}

/** Null when the family learned; otherwise why it is not testable. */
function notTestable(ctx: Ctx, rows: Array<{ label: string; s: Stat | null }>): string | null {
  if (rows.some((r) => !r.s)) return `rows without results: ${rows.filter((r) => !r.s).map((r) => r.label).join(", ")}`;
  if (!ctx.control) return "no random-initialisation control to compare with";
  const best = rows.reduce((a, b) => (b.s!.mean > a.s!.mean ? b : a));
  const d = difference(best.s!, ctx.control);
  if (d.beyond && d.delta > 0) return null;
  return `no row beats the random-init control beyond the seed spread (best: ${show(best.label, best.s!)} vs ` +
    `${show("random init", ctx.control)}, ${
      pp(d.delta)
    }): the models did not learn a face representation at this budget`;
}

/**
 * The best clean-label SphereFace2 cell of the whole grid (other families retune λ, t, m) against the baselines:
 * context for the comparison, not a verdict, since picking the best of many cells on the same test pairs is
 * optimistic.
 */
function bestSphereFace2(ctx: Ctx, configured: Stat, baselines: ReadonlyArray<{ label: string; s: Stat }>): string {
  let best: { id: string; s: Stat } | null = null;
  for (const [id, cell] of Object.entries(ctx.results.cells)) {
    if ((cell.head as { type?: string }).type !== "sphereface2" || cell.noise !== 0) continue;
    const s = cellStat(ctx.results, ctx.dataset, id, ctx.set);
    if (s && (!best || s.mean > best.s.mean)) best = { id, s };
  }
  if (!best || best.s.mean <= configured.mean) return "";
  const top = baselines.reduce((a, b) => (b.s.mean > a.s.mean ? b : a));
  const d = difference(best.s, top.s);
  return ` Context: the best SphereFace2 setting of the grid, ${best.id} (${best.s.mean.toFixed(1)} ± ${
    best.s.std.toFixed(1)
  }), ` +
    `is ${pp(d.delta)} from the best baseline (${top.label}${
      d.beyond ? ", beyond the spread" : ", within the spread"
    }), ` +
    "but it was picked on the same test pairs, so this is optimistic.";
}

function checkFamily(ctx: Ctx, e: Experiment): ClaimCheck {
  const rows = rowStats(ctx, e);
  const base = { family: e.family, dataset: ctx.dataset, set: ctx.set, claim: e.claim };
  const why = notTestable(ctx, rows);
  if (why) return { ...base, verdict: "not testable", evidence: why };
  const by = (pred: (r: typeof rows[number]) => boolean) => rows.filter(pred).map((r) => ({ ...r, s: r.s! }));
  // The rows the claim is about, by their declared role (the loader checks each family has them).
  const role = (name: Role) => {
    const found = by((r) => r.role === name);
    if (!found.length) {
      throw new Error(
        `experiment ${e.family}: the claim needs a row with role "${name}" (configs/experiments/${e.family}.json)`,
      );
    }
    return found;
  };
  const order = [...rows].sort((a, b) => b.s!.mean - a.s!.mean).map((r) => `${r.label} ${r.s!.mean.toFixed(1)}`);
  const ranking = `ranking: ${order.join(" > ")}`;

  switch (e.family) {
    case "lambda": {
      const paper = role("paper")[0], small = role("weak")[0];
      const better = by((r) => r.role !== "paper").filter((r) => {
        const d = difference(r.s, paper.s);
        return d.beyond && d.delta > 0;
      });
      const smallHurts = difference(paper.s, small.s);
      const ok = better.length === 0 && smallHurts.beyond && smallHurts.delta > 0;
      return {
        ...base,
        verdict: ok ? "reproduced" : "not reproduced",
        evidence: `${ranking}. ` +
          (better.length
            ? `Beyond the seed spread, ${
              better.map((r) => `${r.label} (${pp(r.s.mean - paper.s.mean)})`).join(", ")
            } beat(s) λ = ${paper.x}. `
            : `No λ beats ${paper.x} beyond the seed spread. `) +
          `λ = ${paper.x} vs ${small.x}: ${pp(smallHurts.delta)} (${
            smallHurts.beyond ? "beyond" : "within"
          } the spread).`,
      };
    }
    case "t": {
      const t1 = role("baseline")[0];
      const gains = by((r) => r.role !== "baseline" && (r.x ?? -Infinity) > (t1.x ?? Infinity))
        .map((r) => ({ r, d: difference(r.s, t1.s) }));
      const best = gains.reduce((a, b) => (b.d.delta > a.d.delta ? b : a));
      const ok = best.d.beyond && best.d.delta > 0;
      return {
        ...base,
        verdict: ok ? "reproduced" : "not reproduced",
        evidence:
          `${ranking}. Best t > 1 vs t = 1: ${best.r.label} ${pp(best.d.delta)} (${
            best.d.beyond ? "beyond" : "within"
          } the spread); ` +
          gains.map(({ r, d }) => `${r.label.split(" (")[0]}: ${pp(d.delta)}${d.beyond ? "*" : ""}`).join(", ") +
          " (* beyond the spread).",
      };
    }
    case "margins": {
      const margins = by((r) => r.role !== "through-g");
      const trained = margins.filter((r) => {
        const d = difference(r.s, ctx.control!);
        return d.beyond && d.delta > 0;
      });
      // "The same range" as an equivalence margin: a difference counts against the claim only when it is both
      // beyond the seed spread and larger than SAME_RANGE_PP (with tight seeds, 0.5 pp can be "beyond the spread").
      const beyond: string[] = [], apart: string[] = [];
      let largest = 0;
      for (let i = 0; i < margins.length; i++) {
        for (let j = i + 1; j < margins.length; j++) {
          const d = difference(margins[i].s, margins[j].s);
          largest = Math.max(largest, Math.abs(d.delta));
          if (!d.beyond) continue;
          const text = `${margins[i].label} vs ${margins[j].label}: ${pp(d.delta)}`;
          (Math.abs(d.delta) > SAME_RANGE_PP ? apart : beyond).push(text);
        }
      }
      const ok = trained.length === margins.length && apart.length === 0;
      return {
        ...base,
        verdict: ok ? "reproduced" : "not reproduced",
        evidence:
          `${ranking}. ${trained.length}/${margins.length} margin forms beat the random-init control beyond the spread; ` +
          `largest difference between forms ${largest.toFixed(1)} pp; ` +
          (apart.length
            ? `beyond the spread and more than ${SAME_RANGE_PP} pp apart: ${apart.join("; ")}.`
            : `none is both beyond the spread and more than ${SAME_RANGE_PP} pp` +
              (beyond.length ? ` (beyond the spread but within ${SAME_RANGE_PP} pp: ${beyond.join("; ")}).` : ".")),
      };
    }
    case "comparison": {
      const sf2 = role("paper")[0];
      const others = by((r) => r.role !== "paper").map((r) => ({ r, d: difference(sf2.s, r.s) }));
      const beaten = others.filter((o) => o.d.beyond && o.d.delta > 0);
      const lost = others.filter((o) => o.d.beyond && o.d.delta < 0);
      return {
        ...base,
        verdict: beaten.length === others.length ? "reproduced" : "not reproduced",
        // Each loss minus SphereFace2: the sign of the table's Δ column (row minus the reference row, SphereFace2).
        evidence: `${ranking}. Each loss minus SphereFace2: ` +
          others.map(({ r, d }) => `${r.label} ${pp(-d.delta)}${d.beyond ? "*" : ""}`).join(", ") +
          ` (* beyond the spread): ahead of ${beaten.length}/${others.length} beyond the spread` +
          (lost.length ? `, behind ${lost.map((o) => o.r.label).join(", ")}` : "") + "." +
          bestSphereFace2(ctx, sf2.s, others.map((o) => o.r)),
      };
    }
    case "noise": {
      const top = Math.max(...rows.map((r) => r.x ?? 0));
      const paperRows = role("paper");
      const subject = paperRows[0].series!;
      // The clean end of the axis: the lowest ratio of the paper's series (0 in the committed file).
      const clean = Math.min(...paperRows.map((r) => r.x ?? 0));
      const at = (series: string, x: number) => {
        const found = by((r) => r.series === series && r.x === x)[0];
        if (!found) throw new Error(`experiment noise: no row of series ${series} at ratio ${x}`);
        return found;
      };
      const sf2 = at(subject, top), sf2Clean = at(subject, clean);
      const rivals = [...new Set(rows.map((r) => r.series).filter((s) => s && s !== subject))] as string[];
      const parts = rivals.map((name) => {
        const d = difference(sf2.s, at(name, top).s);
        const drop = at(name, clean).s.mean - at(name, top).s.mean;
        return { name, d, drop };
      });
      const sf2Drop = sf2Clean.s.mean - sf2.s.mean;
      const ok = parts.every((p) => p.d.beyond && p.d.delta > 0);
      const drops = `Drop from noise ${clean} to ${top}: ${subject} ${sf2Drop.toFixed(1)} pp, ` +
        parts.map((p) => `${p.name} ${p.drop.toFixed(1)} pp`).join(", ") + ".";
      // Where the noise has erased what every loss learned, the losses sit at the control and cannot be ranked.
      const atTop = [{ name: subject, s: sf2.s }, ...rivals.map((name) => ({ name, s: at(name, top).s }))];
      const learned = atTop.filter((r) => {
        const d = difference(r.s, ctx.control!);
        return d.beyond && d.delta > 0;
      });
      if (!learned.length) {
        return {
          ...base,
          verdict: "not testable",
          evidence: `At noise ${top} no loss beats the random-init control beyond the spread (` +
            atTop.map((r) => show(r.name, r.s)).join(", ") + ` vs ${show("random init", ctx.control!)}): the noise ` +
            `erased what training learned, so the losses cannot be ranked there. ${drops}`,
        };
      }
      return {
        ...base,
        verdict: ok ? "reproduced" : "not reproduced",
        evidence: `At noise ${top}: ${subject} minus ` +
          parts.map((p) => `${p.name} ${pp(p.d.delta)}${p.d.beyond ? "*" : ""}`).join(", ") +
          ` (* beyond the spread). ${drops}`,
      };
    }
  }
}

/** One verdict per family and dataset of the results (families missing from the results are skipped). */
export function checkClaims(results: GridResults, experiments: readonly Experiment[]): ClaimCheck[] {
  const out: ClaimCheck[] = [];
  for (const dataset of results.datasets.map((d) => d.name)) {
    const set = datasetSets(results, dataset)[0];
    if (!set) continue;
    const ctx: Ctx = { results, dataset, set, control: cellStat(results, dataset, CONTROL_CELL, set) };
    for (const e of experiments) out.push(checkFamily(ctx, e));
  }
  return out;
}

/** The gradient-form comparison (detached vs through g, variant C) per dataset: the kit's own finding. */
export function gradientFormFindings(results: GridResults, margins: Experiment): Finding[] {
  // The paper's row of the margins family is variant C with the detached gradient; its "through-g" row the same
  // head with the gradient through g.
  const detachedRow = margins.rows.find((r) => r.role === "paper");
  const throughRow = margins.rows.find((r) => r.role === "through-g");
  if (!detachedRow || !throughRow) return [];
  const out: Finding[] = [];
  for (const dataset of results.datasets.map((d) => d.name)) {
    const set = datasetSets(results, dataset)[0];
    const a = cellStat(results, dataset, cellId(throughRow.head, 0), set);
    const b = cellStat(results, dataset, cellId(detachedRow.head, 0), set);
    if (!a || !b) continue;
    const d = difference(a, b);
    out.push({
      dataset,
      set,
      text:
        `through g ${a.mean.toFixed(1)} ± ${a.std.toFixed(1)} vs detached ${b.mean.toFixed(1)} ± ${
          b.std.toFixed(1)
        }: ` +
        `${pp(d.delta)}, ` +
        (a.n < 2 || b.n < 2
          ? "one seed: no spread to compare with"
          : `${d.beyond ? "beyond" : "within"} the seed-to-seed spread`),
    });
  }
  return out;
}
