import assert from "node:assert/strict";
import { ManualClock } from "../engine/clock.ts";
import { PoolMetrics } from "./pool_metrics.ts";
import { RelayMetrics } from "./relay_metrics.ts";
import { parseExposition, sampleValue } from "./_exposition.ts";

function makeRelay(windowMs = 300_000) {
  const clock = new ManualClock(5_000_000);
  const pool = new PoolMetrics({ region: "us", instance: "us-1", clock, rssBytes: () => 1 });
  const relay = new RelayMetrics({
    registry: pool.registry,
    shareCounts: () => pool.shareCounts(),
    clock,
    staleWindowMs: windowMs,
  });
  return { clock, pool, relay };
}

Deno.test("RelayMetrics adds the seed's relay metrics to the pool registry", async () => {
  const { pool, relay } = makeRelay();
  relay.primaryRttMs.set(84.5);
  relay.independentMode.setBoolean(true);
  relay.replicationLagMs.set(12);
  relay.preemptiveCleanJobs.inc();
  const parsed = parseExposition(await pool.registry.metrics());
  for (
    const name of [
      "ckpool_relay_template_latency_ms",
      "ckpool_relay_primary_rtt_ms",
      "ckpool_relay_stale_shares_percent",
      "ckpool_relay_independent_mode",
      "ckpool_nats_replication_lag_ms",
    ]
  ) {
    assert.equal(parsed.type.get(name), "gauge", name);
  }
  assert.equal(parsed.type.get("ckpool_relay_templates_received_total"), "counter");
  assert.equal(sampleValue(parsed, "ckpool_relay_primary_rtt_ms", { region: "us" }), 84.5);
  assert.equal(sampleValue(parsed, "ckpool_relay_independent_mode"), 1);
  assert.equal(sampleValue(parsed, "ckpool_nats_replication_lag_ms"), 12);
  assert.equal(sampleValue(parsed, "ckpool_relay_preemptive_clean_jobs_total"), 1);
  assert.equal(sampleValue(parsed, "ckpool_connected_miners"), 0, "pool metrics still there");
});

Deno.test("RelayMetrics.noteTemplateFromPrimary() sets the latency from the send stamp", async () => {
  const { clock, pool, relay } = makeRelay();
  relay.noteTemplateFromPrimary(clock.nowMs() - 73);
  relay.noteTemplateFromPrimary(1_000, 1_004.5);
  const parsed = parseExposition(await pool.registry.metrics());
  assert.equal(sampleValue(parsed, "ckpool_relay_template_latency_ms"), 4.5);
  assert.equal(sampleValue(parsed, "ckpool_relay_templates_received_total"), 2);
});

Deno.test("RelayMetrics.stalePercent() is 0 before any share and stale/total after", () => {
  const { pool, relay } = makeRelay();
  assert.equal(relay.stalePercent(), 0);
  pool.sharesValid.inc(199);
  pool.sharesRejected.stale.inc();
  assert.equal(relay.stalePercent(), 0.5);
});

Deno.test("RelayMetrics.stalePercent() forgets shares older than the window", () => {
  const { clock, pool, relay } = makeRelay(300_000);
  // A burst of stale shares around a block change...
  pool.sharesValid.inc(90);
  pool.sharesRejected.stale.inc(10);
  assert.equal(relay.stalePercent(), 10);
  // ...then clean work, scraped every 15 s.
  for (let step = 0; step < 40; step++) {
    clock.advance(15_000);
    pool.sharesValid.inc(100);
    relay.stalePercent();
  }
  assert.equal(relay.stalePercent(), 0, "ten minutes later the burst is out of the window");
  pool.sharesRejected.stale.inc(3);
  const percent = relay.stalePercent();
  assert.ok(percent > 0 && percent < 1.5, `${percent}`);
});

Deno.test("RelayMetrics exports the stale percentage at scrape time", async () => {
  const { pool } = makeRelay();
  pool.sharesValid.inc(3);
  pool.sharesRejected.stale.inc();
  const parsed = parseExposition(await pool.registry.metrics());
  assert.equal(sampleValue(parsed, "ckpool_relay_stale_shares_percent"), 25);
});

Deno.test("RelayMetrics refuses a window that is not positive", () => {
  const pool = new PoolMetrics({ region: "us", instance: "x", rssBytes: () => 1 });
  for (const staleWindowMs of [0, -1, NaN, Infinity]) {
    assert.throws(
      () =>
        new RelayMetrics({
          registry: pool.registry,
          shareCounts: () => pool.shareCounts(),
          staleWindowMs,
        }),
      RangeError,
    );
  }
});

Deno.test("RelayMetrics counts block submissions per path and outcome, with their time", async () => {
  const { pool, relay } = makeRelay();
  relay.noteBlockSubmit("local", "accepted", 3);
  relay.noteBlockSubmit("primary", "error", 120);
  relay.noteBlockSubmit("primary", "accepted", 80);
  const parsed = parseExposition(await pool.registry.metrics());
  const count = (path: string, outcome: string) =>
    sampleValue(parsed, "ckpool_relay_block_submit_total", { path, outcome });
  assert.equal(count("local", "accepted"), 1);
  assert.equal(count("local", "rejected"), 0, "every series exists from the start");
  assert.equal(count("primary", "error"), 1);
  assert.equal(count("primary", "accepted"), 1);
  assert.equal(sampleValue(parsed, "ckpool_relay_block_submit_ms_count", { path: "primary" }), 2);
  assert.equal(sampleValue(parsed, "ckpool_relay_block_submit_ms_sum", { path: "local" }), 3);
});

Deno.test("RelayMetrics keeps a template latency histogram beside the gauge", async () => {
  const { pool, relay } = makeRelay();
  relay.noteTemplateFromPrimary(1_000, 1_004);
  relay.noteTemplateFromPrimary(2_000, 1_999);
  const parsed = parseExposition(await pool.registry.metrics());
  assert.equal(sampleValue(parsed, "ckpool_relay_template_latency_ms"), -1, "skew shown as is");
  assert.equal(sampleValue(parsed, "ckpool_relay_template_propagation_ms_count"), 2);
  assert.equal(sampleValue(parsed, "ckpool_relay_template_propagation_ms_bucket", { le: "5" }), 2);
});

Deno.test("RelayMetrics.noteHubReachable() times an outage from its first failed probe", async () => {
  const { clock, pool, relay } = makeRelay();
  const scrape = async () =>
    sampleValue(
      parseExposition(await pool.registry.metrics()),
      "ckpool_relay_hub_unreachable_seconds",
    );
  assert.equal(await scrape(), 0, "never asked: no known outage");
  relay.noteHubReachable(true);
  clock.advance(5_000);
  relay.noteHubReachable(false);
  clock.advance(5_000);
  relay.noteHubReachable(false);
  clock.advance(2_500);
  assert.equal(await scrape(), 7.5, "counted from the first failure, not the latest");
  relay.noteHubReachable(true);
  assert.equal(await scrape(), 0);
  relay.noteHubReachable(false, clock.nowMs() - 1_000);
  assert.equal(relay.hubUnreachableMs(), 1_000);
});
