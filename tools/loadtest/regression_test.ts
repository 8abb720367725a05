import assert from "node:assert/strict";
import type { ComparableRow } from "./regression.ts";
import { compareRuns } from "./regression.ts";

function row(key: ComparableRow["key"], value: number | null, better: "higher" | "lower") {
  return { key, metric: key, unit: "", better, value, verdict: "n/a" } as const;
}

Deno.test("compareRuns() flags a lower-is-better row that grew beyond margin and floor", () => {
  const [c] = compareRuns([row("p99ShareRtt", 10, "lower")], [row("p99ShareRtt", 12, "lower")], 10);
  assert.equal(c!.changePct, 20);
  assert.equal(c!.regressed, true);
  assert.equal(c!.improved, false);
});

Deno.test("compareRuns() flags a higher-is-better row that fell", () => {
  const [c] = compareRuns(
    [row("shareRate", 10_000, "higher")],
    [row("shareRate", 8_000, "higher")],
    10,
  );
  assert.equal(c!.regressed, true);
  const [d] = compareRuns(
    [row("shareRate", 8_000, "higher")],
    [row("shareRate", 10_000, "higher")],
    10,
  );
  assert.equal(d!.improved, true);
  assert.equal(d!.regressed, false);
});

Deno.test("compareRuns() leaves changes within the margin or under the noise floor alone", () => {
  const within = compareRuns(
    [row("p99ShareRtt", 100, "lower")],
    [row("p99ShareRtt", 109, "lower")],
    10,
  );
  assert.equal(within[0]!.regressed, false);
  // 0 → 0.001 %: infinitely worse in relative terms, under the 0.02-point floor.
  const tiny = compareRuns([row("staleRate", 0, "lower")], [row("staleRate", 0.001, "lower")], 10);
  assert.equal(tiny[0]!.changePct, null);
  assert.equal(tiny[0]!.regressed, false);
  const real = compareRuns([row("staleRate", 0, "lower")], [row("staleRate", 0.3, "lower")], 10);
  assert.equal(real[0]!.regressed, true);
});

Deno.test("compareRuns() compares nothing when either side was not measured", () => {
  const [c] = compareRuns([], [row("emissionP99", 0.5, "lower")], 10);
  assert.deepEqual([c!.previous, c!.changePct, c!.regressed], [null, null, false]);
  const [d] = compareRuns(
    [row("emissionP99", 0.5, "lower")],
    [row("emissionP99", null, "lower")],
    10,
  );
  assert.equal(d!.regressed, false);
});
