import assert from "node:assert/strict";
import { CollectorMetrics } from "./collector_metrics.ts";

Deno.test("CollectorMetrics exports every series at zero before the first batch", async () => {
  const metrics = new CollectorMetrics();
  const text = await metrics.registry.metrics();
  for (
    const line of [
      'collector_events_total{type="share_submitted"} 0',
      'collector_events_total{type="asicboost_detected"} 0',
      "collector_invalid_events_total 0",
      "collector_batch_size_count 0",
      "collector_batch_duration_ms_count 0",
      "collector_consumer_lag 0",
      'collector_dedup_hits_total{store="postgres"} 0',
      'collector_dedup_hits_total{store="redis"} 0',
      'collector_errors_total{stage="postgres"} 0',
      'collector_errors_total{stage="redis_event"} 0',
      'collector_backend_up{backend="nats"} 0',
      'collector_backend_up{backend="postgres"} 0',
      'collector_backend_up{backend="redis"} 0',
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `missing: ${line}`);
  }
});

Deno.test("CollectorMetrics cells show up in the exposition", async () => {
  const metrics = new CollectorMetrics();
  metrics.events.block_found.inc(2);
  metrics.backendUp.redis.set(1);
  metrics.batchSize.observe(600);
  const lines = (await metrics.registry.metrics()).split("\n");
  assert.ok(lines.includes('collector_events_total{type="block_found"} 2'));
  assert.ok(lines.includes('collector_backend_up{backend="redis"} 1'));
  assert.ok(lines.includes('collector_batch_size_bucket{le="500"} 0'));
  assert.ok(lines.includes('collector_batch_size_bucket{le="1000"} 1'));
});

Deno.test("CollectorMetrics histograms keep their bucket bounds", async () => {
  const metrics = new CollectorMetrics();
  metrics.batchSize.observe(1);
  metrics.batchDurationMs.observe(1);
  const bounds = (text: string, name: string) =>
    text.split("\n").filter((line) => line.startsWith(`${name}_bucket{`)).map((line) =>
      /le="([^"]+)"/.exec(line)?.[1]
    );
  const text = await metrics.registry.metrics();
  assert.deepEqual(bounds(text, "collector_batch_size"), [
    ..."1 5 10 25 50 100 250 500 1000 2500 5000 10000".split(" "),
    "+Inf",
  ]);
  assert.deepEqual(bounds(text, "collector_batch_duration_ms"), [
    ..."0.5 1 2 5 10 25 50 100 250 500 1000 2500 5000".split(" "),
    "+Inf",
  ]);
});
