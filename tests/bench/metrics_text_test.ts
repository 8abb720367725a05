import assert from "node:assert/strict";
import { histogramTotals } from "./metrics_text.ts";

Deno.test("histogramTotals() adds _sum and _count over label sets and ignores buckets", () => {
  const text = [
    "# TYPE ckpool_notify_broadcast_ms histogram",
    'ckpool_notify_broadcast_ms_bucket{le="5",region="eu"} 1',
    'ckpool_notify_broadcast_ms_sum{region="eu"} 12.5',
    'ckpool_notify_broadcast_ms_count{region="eu"} 2',
    'ckpool_notify_broadcast_ms_sum{region="us"} 7.5',
    'ckpool_notify_broadcast_ms_count{region="us"} 1',
    "ckpool_other_sum 99",
  ].join("\n");
  assert.deepEqual(histogramTotals(text, "ckpool_notify_broadcast_ms"), { sum: 20, count: 3 });
});

Deno.test("histogramTotals() reads an unlabelled histogram and not one whose name extends it", () => {
  const text = [
    "ckpool_notify_broadcast_ms_sum 4",
    "ckpool_notify_broadcast_ms_count 1",
    "ckpool_notify_broadcast_ms_total_sum 100",
  ].join("\n");
  assert.deepEqual(histogramTotals(text, "ckpool_notify_broadcast_ms"), { sum: 4, count: 1 });
});
