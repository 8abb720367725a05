import assert from "node:assert/strict";
import type { TemplateUpdate } from "@tbg/shared/bitcoind";
import { ManualClock } from "@tbg/shared/engine";
import { PoolMetrics, RelayMetrics } from "@tbg/shared/metrics";
import { RelayMode } from "./failover_policy.ts";
import { relayMetricsObserver } from "./relay_observer.ts";
import { SubmitOutcome, SubmitPath } from "./dual_submit.ts";

function setup() {
  const clock = new ManualClock(1_000_000);
  const pool = new PoolMetrics({ region: "us-east", instance: "relay-us-east-0", clock });
  const relay = new RelayMetrics({
    registry: pool.registry,
    shareCounts: () => pool.shareCounts(),
    clock,
  });
  const observer = relayMetricsObserver(
    relay,
    pool,
    (update) => (update as { sentAtMs?: number }).sentAtMs,
  );
  return { pool, relay, observer };
}

const update = (receivedAtMs: number, sentAtMs?: number): TemplateUpdate =>
  ({
    gbt: {},
    reason: "refresh",
    source: "timer",
    receivedAtMs,
    ...(sentAtMs === undefined ? {} : { sentAtMs }),
  }) as TemplateUpdate;

Deno.test("relayMetricsObserver() sets the independent gauge and counts each activation once", () => {
  const { relay, observer } = setup();
  observer.modeChanged(RelayMode.passthrough);
  assert.equal(relay.independentMode.value, 0);
  observer.modeChanged(RelayMode.independent);
  observer.modeChanged(RelayMode.independent);
  assert.equal(relay.independentMode.value, 1);
  assert.equal(relay.independentActivations.value, 1);
  observer.modeChanged(RelayMode.passthrough);
  observer.modeChanged(RelayMode.independent);
  assert.equal(relay.independentActivations.value, 2);
});

Deno.test("relayMetricsObserver() measures latency from the send stamp to the update's receipt", () => {
  const { relay, observer } = setup();
  observer.primaryTemplate(update(5_012, 5_000));
  assert.equal(relay.templateLatencyMs.value, 12);
  // A replayed template has no usable stamp: counted, latency untouched.
  observer.primaryTemplate(update(9_000));
  assert.equal(relay.templateLatencyMs.value, 12);
  assert.equal(relay.templatesReceived.value, 2);
});

Deno.test("relayMetricsObserver() counts block paths and failures of the primary path", () => {
  const { pool, relay, observer } = setup();
  observer.blockSubmitPath(SubmitPath.local, SubmitOutcome.accepted, 4);
  observer.blockSubmitPath(SubmitPath.primary, SubmitOutcome.error, 5_000);
  assert.equal(relay.blockSubmits.local.accepted.value, 1);
  assert.equal(relay.blockSubmits.primary.error.value, 1);
  assert.equal(pool.blockSubmitFailures.primary.value, 1);
  observer.preemptiveCleanJobs();
  assert.equal(relay.preemptiveCleanJobs.value, 1);
});
