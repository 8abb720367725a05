import assert from "node:assert/strict";
import {
  bucketDelta,
  bucketMaxBound,
  bucketQuantile,
  fractionAtOrBelow,
  histogramBuckets,
  histogramTotals,
} from "./metrics_text.ts";

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

const EMIT = [
  'ckpool_event_emit_latency_us_bucket{le="10",region="eu"} 50',
  'ckpool_event_emit_latency_us_bucket{le="20",region="eu"} 90',
  'ckpool_event_emit_latency_us_bucket{le="1000",region="eu"} 99',
  'ckpool_event_emit_latency_us_bucket{le="+Inf",region="eu"} 100',
].join("\n");

Deno.test("histogramBuckets() reads cumulative counts by bound, +Inf as Infinity", () => {
  assert.deepEqual(
    [...histogramBuckets(EMIT, "ckpool_event_emit_latency_us")],
    [[10, 50], [20, 90], [1000, 99], [Infinity, 100]],
  );
});

Deno.test("bucketQuantile() interpolates inside the bucket holding the rank", () => {
  const buckets = histogramBuckets(EMIT, "ckpool_event_emit_latency_us");
  assert.equal(bucketQuantile(buckets, 0.5), 10);
  assert.equal(bucketQuantile(buckets, 0.7), 15);
  assert.equal(bucketQuantile(buckets, 0.25), 5);
  // The 99.5th observation is in +Inf: the highest finite bound is all that is known.
  assert.equal(bucketQuantile(buckets, 0.995), 1000);
  assert.equal(bucketQuantile(new Map(), 0.5), null);
});

Deno.test("bucketDelta(), bucketMaxBound() and fractionAtOrBelow() work on a window", () => {
  const before = histogramBuckets(EMIT, "ckpool_event_emit_latency_us");
  const after = new Map([[10, 150], [20, 190], [1000, 199], [Infinity, 200]]);
  const window = bucketDelta(before, after);
  assert.deepEqual([...window], [[10, 100], [20, 100], [1000, 100], [Infinity, 100]]);
  assert.equal(bucketMaxBound(window), 10);
  assert.equal(fractionAtOrBelow(window, 1000), 1);
  assert.equal(bucketMaxBound(before), Infinity);
  assert.equal(fractionAtOrBelow(before, 1000), 0.99);
});
