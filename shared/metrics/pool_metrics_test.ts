import assert from "node:assert/strict";
import { MetricRegistry } from "./registry.ts";
import { ManualClock } from "../engine/clock.ts";
import { RejectReason } from "../engine/share.ts";
import { PoolMetrics, PROTOCOL_ERROR_KINDS, RATE_LIMIT_RULES } from "./pool_metrics.ts";
import { type Exposition, parseExposition, sampleValue } from "./_exposition.ts";

const REQUIRED: ReadonlyArray<readonly [name: string, type: string]> = [
  ["ckpool_connected_miners", "gauge"],
  ["ckpool_shares_total", "counter"],
  ["ckpool_stale_shares_total", "counter"],
  ["ckpool_blocks_found_total", "counter"],
  ["ckpool_hashrate_total", "gauge"],
  ["ckpool_bitcoin_height", "gauge"],
  ["ckpool_block_height", "gauge"],
  ["ckpool_bitcoin_connected", "gauge"],
  ["ckpool_block_submit_failures_total", "counter"],
  ["ckpool_event_emit_latency_us", "histogram"],
  ["ckpool_submit_latency_us", "histogram"],
  ["ckpool_notify_broadcast_ms", "histogram"],
  ["ckpool_memory_bytes", "gauge"],
  ["ckpool_heap_bytes", "gauge"],
  ["ckpool_uptime_seconds", "gauge"],
  ["ckpool_template_age_seconds", "gauge"],
  ["ckpool_node_clock_offset_seconds", "gauge"],
  ["ckpool_rate_limit_rejections_total", "counter"],
  ["ckpool_protocol_errors_total", "counter"],
];

function makeMetrics(clock = new ManualClock(1_000_000)): PoolMetrics {
  return new PoolMetrics({
    region: "eu",
    instance: "eu-1",
    clock,
    rssBytes: () => 123_456_789,
    heapBytes: () => ({ heapUsed: 1_000, heapTotal: 2_000, external: 300 }),
  });
}

async function scrape(metrics: PoolMetrics): Promise<Exposition> {
  return parseExposition(await metrics.registry.metrics());
}

Deno.test("PoolMetrics exports every required metric with HELP and TYPE before any event", async () => {
  const parsed = await scrape(makeMetrics());
  for (const [name, type] of REQUIRED) {
    assert.equal(parsed.type.get(name), type, `TYPE of ${name}`);
    assert.ok((parsed.help.get(name) ?? "").length > 0, `HELP of ${name}`);
    const prefix = type === "histogram" ? `${name}_count` : name;
    assert.ok(parsed.samples.some((sample) => sample.name === prefix), `a sample of ${name}`);
  }
});

Deno.test("PoolMetrics puts region and instance labels on every sample", async () => {
  const parsed = await scrape(makeMetrics());
  assert.ok(parsed.samples.length > 50);
  for (const sample of parsed.samples) {
    assert.equal(sample.labels.region, "eu", sample.name);
    assert.equal(sample.labels.instance, "eu-1", sample.name);
  }
});

Deno.test("PoolMetrics share cells show up as ckpool_shares_total by valid and reason", async () => {
  const metrics = makeMetrics();
  metrics.sharesValid.inc();
  metrics.sharesValid.inc();
  metrics.sharesRejected.low_difficulty.inc();
  metrics.sharesRejected.stale.inc(3);
  const parsed = await scrape(metrics);
  assert.equal(sampleValue(parsed, "ckpool_shares_total", { valid: "true" }), 2);
  assert.equal(
    sampleValue(parsed, "ckpool_shares_total", { valid: "false", reason: "low_difficulty" }),
    1,
  );
  assert.equal(sampleValue(parsed, "ckpool_shares_total", { valid: "false", reason: "stale" }), 3);
  assert.equal(sampleValue(parsed, "ckpool_stale_shares_total"), 3);
  for (const reason of Object.values(RejectReason)) {
    assert.ok(
      parsed.samples.some((s) => s.name === "ckpool_shares_total" && s.labels.reason === reason),
      `series for ${reason} exists`,
    );
  }
  const valid = parsed.samples.find((s) =>
    s.name === "ckpool_shares_total" && s.labels.valid === "true"
  );
  assert.equal(valid?.labels.reason, undefined, "accepted shares carry no reason label");
  assert.deepEqual(metrics.shareCounts(), { total: 6, rejected: 4, stale: 3 });
});

Deno.test("PoolMetrics gauges and counters read back what the engine set", async () => {
  const metrics = makeMetrics();
  metrics.connectedMiners.inc();
  metrics.connectedMiners.inc();
  metrics.connectedMiners.dec();
  metrics.hashrateHps.set(1.5e15);
  metrics.bitcoinHeight.set(880_000);
  metrics.bitcoinConnected.setBoolean(true);
  metrics.blocksFound.inc();
  metrics.blockSubmitFailures.bitcoind.inc();
  metrics.blockSubmitFailures.primary.inc(2);
  metrics.rateLimitRejections.inc("max_shares_per_minute");
  metrics.protocolErrors.inc("invalid_json");
  const parsed = await scrape(metrics);
  assert.equal(sampleValue(parsed, "ckpool_connected_miners"), 1);
  assert.equal(sampleValue(parsed, "ckpool_hashrate_total"), 1.5e15);
  assert.equal(sampleValue(parsed, "ckpool_bitcoin_height"), 880_000);
  assert.equal(sampleValue(parsed, "ckpool_block_height"), 880_000);
  assert.equal(sampleValue(parsed, "ckpool_bitcoin_connected"), 1);
  assert.equal(sampleValue(parsed, "ckpool_blocks_found_total"), 1);
  assert.equal(
    sampleValue(parsed, "ckpool_block_submit_failures_total", { target: "bitcoind" }),
    1,
  );
  assert.equal(sampleValue(parsed, "ckpool_block_submit_failures_total", { target: "primary" }), 2);
  assert.equal(
    sampleValue(parsed, "ckpool_rate_limit_rejections_total", { rule: "max_shares_per_minute" }),
    1,
  );
  assert.equal(sampleValue(parsed, "ckpool_protocol_errors_total", { kind: "invalid_json" }), 1);
});

Deno.test("PoolMetrics lists every known rate-limit rule and protocol error kind at 0", async () => {
  const parsed = await scrape(makeMetrics());
  for (const rule of RATE_LIMIT_RULES) {
    assert.equal(sampleValue(parsed, "ckpool_rate_limit_rejections_total", { rule }), 0);
  }
  for (const kind of PROTOCOL_ERROR_KINDS) {
    assert.equal(sampleValue(parsed, "ckpool_protocol_errors_total", { kind }), 0);
  }
});

Deno.test("PoolMetrics histograms bucket sub-millisecond microsecond latencies", async () => {
  const metrics = makeMetrics();
  for (const us of [0.7, 1.8, 4, 40, 900, 7_000]) metrics.eventEmitLatencyUs.observe(us);
  metrics.submitLatencyUs.observe(12);
  metrics.notifyBroadcastMs.observe(42);
  const parsed = await scrape(metrics);
  const emit = (le: string) => sampleValue(parsed, "ckpool_event_emit_latency_us_bucket", { le });
  assert.equal(emit("1"), 1);
  assert.equal(emit("2"), 2);
  assert.equal(emit("5"), 3);
  assert.equal(emit("50"), 4);
  assert.equal(emit("1000"), 5);
  assert.equal(emit("5000"), 5);
  assert.equal(emit("10000"), 6);
  assert.equal(emit("+Inf"), 6);
  assert.equal(sampleValue(parsed, "ckpool_event_emit_latency_us_count"), 6);
  assert.equal(sampleValue(parsed, "ckpool_submit_latency_us_bucket", { le: "10" }), 0);
  assert.equal(sampleValue(parsed, "ckpool_submit_latency_us_bucket", { le: "25" }), 1);
  assert.equal(sampleValue(parsed, "ckpool_notify_broadcast_ms_bucket", { le: "25" }), 0);
  assert.equal(sampleValue(parsed, "ckpool_notify_broadcast_ms_bucket", { le: "50" }), 1);
});

Deno.test("PoolMetrics computes uptime, template age and memory at scrape time", async () => {
  const clock = new ManualClock(1_000_000);
  const metrics = makeMetrics(clock);
  clock.advance(90_000);
  let parsed = await scrape(metrics);
  assert.equal(sampleValue(parsed, "ckpool_uptime_seconds"), 90);
  assert.equal(sampleValue(parsed, "ckpool_template_age_seconds"), Infinity);
  assert.equal(sampleValue(parsed, "ckpool_memory_bytes"), 123_456_789);
  assert.equal(sampleValue(parsed, "ckpool_heap_bytes", { kind: "used" }), 1_000);
  assert.equal(sampleValue(parsed, "ckpool_heap_bytes", { kind: "total" }), 2_000);
  assert.equal(sampleValue(parsed, "ckpool_heap_bytes", { kind: "external" }), 300);
  metrics.noteTemplate();
  clock.advance(2_500);
  parsed = await scrape(metrics);
  assert.equal(sampleValue(parsed, "ckpool_uptime_seconds"), 92.5);
  assert.equal(sampleValue(parsed, "ckpool_template_age_seconds"), 2.5);
  assert.equal(metrics.templateAgeMs(), 2_500);
});

Deno.test("PoolMetrics exports the node's clock offset from the last template's curtime", async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const metrics = makeMetrics(clock);
  assert.equal(sampleValue(await scrape(metrics), "ckpool_node_clock_offset_seconds"), 0);
  // This host one hour ahead of the node: the node's curtime is an hour behind our clock.
  metrics.noteNodeClock(1_700_000_000 - 3_600, 1_700_000_000_400);
  assert.equal(sampleValue(await scrape(metrics), "ckpool_node_clock_offset_seconds"), -3_600);
  metrics.noteNodeClock(1_700_003_600);
  assert.equal(sampleValue(await scrape(metrics), "ckpool_node_clock_offset_seconds"), 3_600);
});

Deno.test("PoolMetrics reads the process RSS by default", async () => {
  const metrics = new PoolMetrics({ region: "us", instance: "us-1" });
  const parsed = await scrape(metrics);
  assert.ok(sampleValue(parsed, "ckpool_memory_bytes") > 1_000_000);
  assert.ok(sampleValue(parsed, "ckpool_uptime_seconds") >= 0);
});

Deno.test("PoolMetrics instances with their own registries do not interfere", async () => {
  const a = makeMetrics();
  const b = new PoolMetrics({ region: "asia", instance: "asia-1", rssBytes: () => 1 });
  a.sharesValid.inc(5);
  const parsedA = await scrape(a);
  const parsedB = await scrape(b);
  assert.equal(sampleValue(parsedA, "ckpool_shares_total", { valid: "true" }), 5);
  assert.equal(sampleValue(parsedB, "ckpool_shares_total", { valid: "true" }), 0);
  assert.equal(sampleValue(parsedB, "ckpool_connected_miners", { region: "asia" }), 0);
});

Deno.test("PoolMetrics refuses a registry that already holds its metrics", () => {
  const registry = new MetricRegistry();
  new PoolMetrics({ region: "eu", instance: "a", registry });
  assert.throws(() => new PoolMetrics({ region: "eu", instance: "b", registry }));
});
