import assert from "node:assert/strict";
import { fleetWindow, metricSum, readFleetScrape } from "./fleet_metrics.ts";

function exposition(emit: [string, number][], shares: number, stale: number): string {
  return [
    "# TYPE ckpool_event_emit_latency_us histogram",
    ...emit.map(([le, n]) => `ckpool_event_emit_latency_us_bucket{le="${le}",region="eu"} ${n}`),
    `ckpool_event_emit_latency_us_count{region="eu"} ${emit.at(-1)?.[1] ?? 0}`,
    `ckpool_shares_total{valid="false",reason="low_difficulty",region="eu"} ${shares - stale}`,
    `ckpool_shares_total{valid="false",reason="stale",region="eu"} ${stale}`,
    `ckpool_stale_shares_total{region="eu"} ${stale}`,
    `ckpool_events_published_total{region="eu"} ${shares}`,
    `ckpool_heap_bytes{kind="used",region="eu"} ${shares * 10}`,
    `ckpool_heap_bytes{kind="total",region="eu"} ${shares * 20}`,
    `ckpool_heap_bytes{kind="external",region="eu"} 7`,
  ].join("\n");
}

Deno.test("metricSum() adds a metric over its label sets and nothing with a longer name", () => {
  const text = exposition([["+Inf", 0]], 10, 2);
  assert.equal(metricSum(text, "ckpool_shares_total"), 10);
  assert.equal(metricSum(text, "ckpool_stale_shares_total"), 2);
  assert.equal(metricSum(text, "ckpool_shares"), 0);
});

Deno.test("fleetWindow() merges the pools and takes what the window added", () => {
  const before = readFleetScrape([
    exposition([["100", 10], ["1000", 10], ["+Inf", 10]], 100, 0),
    exposition([["100", 0], ["1000", 0], ["+Inf", 0]], 0, 0),
  ]);
  const after = readFleetScrape([
    exposition([["100", 60], ["1000", 110], ["+Inf", 110]], 1100, 1),
    exposition([["100", 50], ["1000", 100], ["+Inf", 100]], 1000, 1),
  ]);
  const w = fleetWindow(before, after);
  assert.equal(w.emissions, 200);
  assert.equal(w.shares, 2000);
  assert.equal(w.stale, 2);
  assert.equal(w.staleRatePct, 0.1);
  assert.equal(w.published, 2000);
  // The heap gauges are summed over the pools, each kind on its own.
  assert.equal(after.heapUsedBytes, 21_000);
  assert.equal(after.heapTotalBytes, 42_000);
  // 200 emissions: 100 at ≤ 100 µs, 100 in (100, 1000]; the 198th lies 98 % into that bucket.
  assert.ok(Math.abs(w.emissionP99Ms! - 0.982) < 1e-9, String(w.emissionP99Ms));
});

Deno.test("fleetWindow() gives null rates for a window without shares", () => {
  const s = readFleetScrape([exposition([["+Inf", 0]], 0, 0)]);
  const w = fleetWindow(s, s);
  assert.equal(w.emissionP99Ms, null);
  assert.equal(w.staleRatePct, null);
});
