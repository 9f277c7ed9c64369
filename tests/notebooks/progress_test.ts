import assert from "node:assert/strict";
import type { MimeBundle } from "../../lib/render/display.ts";
import { jupyterApi, progress, progressBundle, type ProgressSink } from "../../lib/notebook/progress.ts";

function recorder(): ProgressSink & { calls: Array<{ text: string; id: string; update: boolean }> } {
  const calls: Array<{ text: string; id: string; update: boolean }> = [];
  return {
    calls,
    show: (bundle: MimeBundle, id: string, update: boolean) => {
      calls.push({ text: String(bundle["text/plain"]), id, update });
      return Promise.resolve();
    },
  };
}

Deno.test("progress: one display created then updated in place, throttled, final state always shown", async () => {
  const sink = recorder();
  let now = 0;
  const bar = progress("train", 10, { sink, intervalMs: 100, now: () => now });
  for (let step = 1; step <= 10; step++) {
    now += 30;
    await bar.update(step, `loss ${step}`);
  }
  await bar.done("finished");
  const { calls } = sink;
  assert.equal(calls[0].update, false, "the first state creates the display");
  assert.ok(calls.slice(1).every((c) => c.update), "later states update it");
  assert.ok(calls.every((c) => c.id === calls[0].id), "one display id");
  // 10 steps 30 ms apart with a 100 ms interval: step 1, then about every 4th step, plus step 10 and done.
  assert.ok(calls.length >= 3 && calls.length <= 6, `${calls.length} shown`);
  assert.match(calls.at(-2)!.text, /^train: 10\/10 \(100 %\) .*loss 10$/);
  assert.match(calls.at(-1)!.text, /finished$/);
  assert.equal(bar.shown, calls.length);
});

Deno.test("progress: outside the Jupyter kernel there is no Deno.jupyter API (and reading it does not throw)", () => {
  assert.equal(jupyterApi(), null);
});

Deno.test("progress: the HTML state escapes the note", () => {
  const state = { label: "x", done: 1, total: 2, detail: "<b>", seconds: 0.5, eta: NaN, final: false };
  const html = String(progressBundle(state)["text/html"]);
  assert.match(html, /<progress value="1" max="2"/);
  assert.match(html, /&lt;b&gt;/);
});
