/**
 * `ckpool_nats_replication_lag_ms` as a relay measures it, on the real hub + leaf topology: 0
 * while the hub keeps up, growing with the age of the first unforwarded event while the leaf's
 * link to the hub is cut, 0 again once the hub has sourced the backlog; and 0 for a relay whose
 * events go straight to the hub. Also the primary's ping answer, which `ckpool_relay_primary_rtt_ms`
 * is measured with, through the leaf.
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "nats";
import { jetstream } from "nats/jetstream";
import { pingPrimary, regionInboxPrefix, servePrimaryPing } from "@tbg/shared/nats";
import { ReplicationLagProbe, type ReplicationLagReading } from "@tbg/relay";
import { startNatsTopology } from "./support/servers/nats_topology.ts";

const REGION = "us-east";

async function publishEvents(nc: NatsConnection, count: number, tag: string): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < count; i++) {
    await js.publish(`mining.events.${REGION}.share_submitted`, `{"n":${i}}`, {
      msgID: `${tag}-${i}`,
    });
  }
}

async function measureUntil(
  probe: ReplicationLagProbe,
  nc: NatsConnection,
  what: string,
  accept: (reading: ReplicationLagReading) => boolean,
  timeoutMs = 15_000,
): Promise<ReplicationLagReading> {
  const deadline = Date.now() + timeoutMs;
  let last: ReplicationLagReading | undefined;
  while (Date.now() < deadline) {
    last = await probe.measure(nc);
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last reading ${JSON.stringify(last)}`);
}

Deno.test({
  name: "replication lag: 0 in step, the backlog's age during a partition, 0 after healing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const topology = await startNatsTopology({ leaves: [{ region: REGION }] });
    const leaf = topology.leaf(REGION);
    // As the relay connects (relay/relay_runtime.ts): replies cross the link on its region's inboxes.
    const nc = await connect({ servers: leaf.url, inboxPrefix: regionInboxPrefix(leaf.region) });
    const hubNc = await connect(topology.hub.connectOptions());
    try {
      const probe = new ReplicationLagProbe({ region: REGION, timeoutMs: 1_000 });
      assert.equal(probe.edgeStream, "MINING_EVENTS_US_EAST");
      await publishEvents(nc, 3, "before");
      const inStep = await measureUntil(
        probe,
        nc,
        "the hub to hold the first events",
        (r) => r.mode === "edge" && r.hubReachable && r.lagMs === 0,
      );
      assert.deepEqual(inStep, { mode: "edge", lagMs: 0, pending: 0, hubReachable: true });

      leaf.bridge.partition({ mode: "reset" });
      const cutAt = Date.now();
      await publishEvents(nc, 4, "during");
      await new Promise((r) => setTimeout(r, 1_200));
      const cut = await measureUntil(
        probe,
        nc,
        "an unreachable hub",
        (r) => r.mode === "edge" && !r.hubReachable,
      );
      assert.equal(cut.mode, "edge");
      if (cut.mode !== "edge") return;
      assert.equal(cut.pending, 4, "the events published after the cut");
      assert.ok(cut.lagMs !== undefined && cut.lagMs >= 1_000, `lag ${cut.lagMs} ms`);
      assert.ok(cut.lagMs! <= Date.now() - cutAt + 50, "no older than the cut");

      leaf.bridge.heal();
      const healed = await measureUntil(
        probe,
        nc,
        "the hub to catch up",
        (r) => r.mode === "edge" && r.hubReachable && r.lagMs === 0,
        30_000,
      );
      assert.deepEqual(healed, { mode: "edge", lagMs: 0, pending: 0, hubReachable: true });

      // A relay publishing straight to the hub has nothing waiting at an edge.
      assert.deepEqual(await probe.measure(hubNc), { mode: "direct", lagMs: 0 });
    } finally {
      await nc.close();
      await hubNc.close();
      await topology.stop();
    }
  },
});

Deno.test({
  name: "the primary's ping answer reaches a relay through its leaf node",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const topology = await startNatsTopology({
      leaves: [{ region: REGION, link: { delayMs: 40 } }],
      provisionStreams: false,
    });
    const primaryNc = await connect(topology.hub.connectOptions());
    const relayNc = await connect({
      servers: topology.leaf(REGION).url,
      inboxPrefix: regionInboxPrefix(REGION),
    });
    try {
      const subscription = servePrimaryPing(primaryNc, { region: "eu", instance: "stratum-eu-0" });
      await primaryNc.flush();
      const deadline = Date.now() + 10_000;
      let result;
      while (result === undefined) {
        try {
          result = await pingPrimary(relayNc, 2_000);
        } catch (error) {
          // The subscription's interest crosses the leaf link a moment after it is made.
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.equal(result.region, "eu");
      assert.equal(result.instance, "stratum-eu-0");
      assert.ok(result.rttMs >= 80, `two 40 ms crossings, got ${result.rttMs} ms`);
      subscription.unsubscribe();
    } finally {
      await relayNc.close();
      await primaryNc.close();
      await topology.stop();
    }
  },
});
