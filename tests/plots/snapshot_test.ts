import assert from "node:assert/strict";
import { assertSnapshot, firstDifference, normalizeSvg } from "../../lib/plots/snapshot.ts";

Deno.test("normalizeSvg: rounds long decimals, one tag per line, no -0", () => {
  assert.equal(
    normalizeSvg('<svg><path d="M0.123456,-0.0001L10,2.5"/></svg>'),
    '<svg>\n<path d="M0.12,0L10,2.5"/>\n</svg>\n',
  );
  assert.equal(normalizeSvg("<g>1.0049999</g>"), normalizeSvg("<g>1.0050001</g>").replace("1.01", "1"));
});

Deno.test("assertSnapshot: missing golden is written and fails; match passes; mismatch names the line; UPDATE rewrites", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/a.svg`;
    await assert.rejects(assertSnapshot("<svg><g/></svg>", path, { update: false }), /did not exist; written now/);
    await assertSnapshot("<svg>  <g/></svg>", path, { update: false });
    await assertSnapshot("<svg><g/></svg>", path, { update: false });
    await assert.rejects(
      assertSnapshot("<svg><h/></svg>", path, { update: false }),
      /line 2:\n {2}expected: <g\/>\n {2}actual: {3}<h\/>/,
    );
    await assertSnapshot("<svg><h/></svg>", path, { update: true });
    await assertSnapshot("<svg><h/></svg>", path, { update: false });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("firstDifference: null when equal, reports a missing line", () => {
  assert.equal(firstDifference("a\nb", "a\nb"), null);
  assert.match(firstDifference("a\nb", "a")!, /line 2:[\s\S]*\(end of file\)/);
});
