import assert from "node:assert/strict";
import { formatDuration } from "../../lib/cli/progress.ts";

Deno.test("formatDuration: seconds, minutes, hours; rounding carries into the next unit (no 22m60s)", () => {
  assert.equal(formatDuration(42.4), "42s");
  assert.equal(formatDuration(59.6), "1m00s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(1379.6), "23m00s");
  assert.equal(formatDuration(3599.6), "1h00m");
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(Number.POSITIVE_INFINITY), "?");
  assert.equal(formatDuration(Number.NaN), "?");
});
