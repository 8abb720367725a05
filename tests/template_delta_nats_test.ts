/**
 * Template deltas against real nats-servers, with mainnet-sized synthetic templates (2,000
 * transactions, about 550 kB in full) published by the primary's {@link TemplatePublisher}:
 *
 * - a relay that starts while the last live message is a delta fetches the full template at
 *   once, then follows deltas;
 * - a relay that misses a delta (its connection cut while two templates go out) recovers by
 *   fetching the full template, and counts it;
 * - a new block goes out in full; the primary's bytes-per-kind metrics match what was sent;
 * - over a hub and a leaf (the relay region's link through a bridge that counts bytes), a
 *   refresh costs the link a few kB instead of the whole template, and a late relay's full
 *   fetch (direct get through the hub's JetStream domain) costs about one template;
 * - a stream an older primary set up (one subject, no direct get) is updated in place, and a
 *   relay of the first format, which reads only full templates, still gets every template;
 * - a relay upgraded before its primary still gets the template (late, from the heartbeat
 *   check, through the stream API since that stream has no direct get).
 *
 * Needs `nats-server` (Debian package "nats-server"); fails, never skips, without it. Every wait
 * is bounded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "nats";
import { DeliverPolicy, jetstream, jetstreamManager } from "nats/jetstream";
import { MetricRegistry } from "@tbg/shared/metrics";
import type { BlockTemplate } from "@tbg/shared/engine";
import {
  decodeTemplateMessage,
  encodeHeartbeat,
  encodeTemplateMessage,
  isPrimaryTemplateUpdate,
  MINING_TEMPLATES_STREAM_NAME,
  PersistentNatsConnection,
  type PrimaryTemplateUpdate,
  type PublishInfo,
  TemplateDistributionMetrics,
  TemplatePublisher,
  TEMPLATES_WILDCARD,
  templatesStreamConfig,
} from "@tbg/shared/templates";
import { startLatencyBridge } from "./support/latency_bridge.ts";
import { startNatsServer } from "./support/servers/nats_server.ts";
import { startNatsTopology } from "./support/servers/nats_topology.ts";
import { refreshed, SyntheticMempool, syntheticTemplate } from "./support/template_fixtures.ts";
import { MemoryLog, relaySource, waitFor } from "./support/template_relay.ts";

const TX_COUNT = 2_000;
const STARTUP: PublishInfo = { reason: "startup", source: "startup", receivedAtMs: 0 };
const REFRESH: PublishInfo = { reason: "refresh", source: "timer", receivedAtMs: 0 };
const NEW_BLOCK: PublishInfo = { reason: "new_block", source: "zmq", receivedAtMs: 0 };

/** Prints a measured figure (kept in the test output for the report). */
function report(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
}

/** The primary's publisher on its own connection, with metrics on a fresh registry. */
function startPrimary(servers: string[], log: MemoryLog) {
  const link = new PersistentNatsConnection({ servers, name: "eu-0-templates", log });
  const metrics = new TemplateDistributionMetrics(new MetricRegistry());
  // Heartbeats once a minute: they would otherwise add to the bytes measured on the link.
  const publisher = new TemplatePublisher({
    link,
    network: "regtest",
    region: "eu",
    instance: "eu-0",
    log,
    metrics,
    heartbeatIntervalMs: 60_000,
  });
  publisher.start();
  link.start();
  return {
    publisher,
    metrics,
    /** Publishes and waits until JetStream stored both messages. */
    async publish(template: BlockTemplate, info: PublishInfo): Promise<number> {
      const meta = publisher.publish(template, { ...info, receivedAtMs: Date.now() });
      assert.ok(meta !== null, log.lines.join("\n"));
      await waitFor(
        `template ${meta.sequence} stored`,
        () => publisher.lastAckedSequence >= meta.sequence || undefined,
        undefined,
        log,
      );
      return meta.sequence;
    },
    async stop(): Promise<void> {
      await publisher.stop();
      await link.close();
    },
  };
}

/** What the relay's engine gets must be the primary's template (its own arrival time aside). */
function assertSameTemplate(update: PrimaryTemplateUpdate, template: BlockTemplate): void {
  assert.deepEqual(
    { ...update.template, receivedAtMs: 0 },
    { ...template, receivedAtMs: 0 },
    `sequence ${update.message.sequence}`,
  );
}

function collect(updates: PrimaryTemplateUpdate[]) {
  return (update: unknown) => {
    assert.ok(isPrimaryTemplateUpdate(update as PrimaryTemplateUpdate));
    updates.push(update as PrimaryTemplateUpdate);
  };
}

Deno.test({
  name: "relays follow deltas, fetch the full template when they start or miss one",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer();
    // The relay reaches the server through a bridge, so its connection alone can be cut.
    const bridge = await startLatencyBridge({ target: { hostname: "127.0.0.1", port: nats.port } });
    const log = new MemoryLog();
    const relayLog = new MemoryLog();
    const primary = startPrimary([nats.url], log);
    const source = relaySource(`nats://127.0.0.1:${bridge.port}`, relayLog);
    const updates: PrimaryTemplateUpdate[] = [];
    const mempool = new SyntheticMempool(11);
    try {
      const t1 = syntheticTemplate(mempool.take(TX_COUNT));
      await primary.publish(t1, STARTUP);
      const t2 = syntheticTemplate(refreshed(t1.transactions, mempool, 5, 3));
      await primary.publish(t2, REFRESH);
      const full1 = encodeTemplateMessage({
        epoch: primary.publisher.epoch,
        sequence: 1,
        ...STARTUP,
        templateAtMs: 0,
        sentAtMs: 0,
        cleanJobs: true,
        originRegion: "eu",
        network: "regtest",
        template: t1,
      }).length;
      const sent = primary.metrics;
      assert.equal(sent.templateMessagesSent.full.value, 1, "the first template has no base");
      assert.equal(sent.templateBytesSent.full.value, full1);
      assert.equal(sent.templateMessagesSent.delta.value, 1);
      const delta2 = sent.templateBytesSent.delta.value;
      assert.ok(delta2 * 100 < full1, `refresh delta ${delta2} B, full ${full1} B`);

      // A relay that starts now: the live message is a delta it has no base for, so it fetches
      // the full template before anything else.
      await source.start(collect(updates));
      assert.equal(updates.length, 1);
      assert.equal(updates[0]!.kind, "full");
      assert.equal(updates[0]!.message.sequence, 2);
      assert.equal(updates[0]!.replayed, true);
      assertSameTemplate(updates[0]!, t2);
      assert.equal(source.counters.fullFetches.start.value, 1);

      // The next refresh arrives as a delta and makes the same template.
      const t3 = syntheticTemplate(refreshed(t2.transactions, mempool, 4, 2));
      await primary.publish(t3, REFRESH);
      const third = await waitFor(
        "template 3",
        () => updates.find((u) => u.message.sequence === 3),
      );
      assert.equal(third.kind, "delta");
      assert.equal(third.replayed, false);
      assert.ok(third.sizeBytes * 100 < full1, `${third.sizeBytes} B`);
      assertSameTemplate(third, t3);
      assert.equal(source.deltasApplied, 1);

      // Cut the relay off while two refreshes go out: the live subject then holds a delta on
      // template 4, which the relay never saw.
      bridge.partition({ mode: "reset" });
      await waitFor("the relay disconnected", () => !source.connected || undefined);
      const t4 = syntheticTemplate(refreshed(t3.transactions, mempool, 3, 3));
      await primary.publish(t4, REFRESH);
      const t5 = syntheticTemplate(refreshed(t4.transactions, mempool, 6, 1));
      await primary.publish(t5, REFRESH);
      assert.equal(sent.templateMessagesSent.delta.value, 4);
      bridge.heal();
      const fifth = await waitFor(
        "template 5 after the cut",
        () => updates.find((u) => u.message.sequence === 5),
        undefined,
        relayLog,
      );
      assert.equal(fifth.kind, "full", "recovered by fetching the full template");
      assertSameTemplate(fifth, t5);
      assert.equal(source.counters.fullFetches.base_missing.value, 1, relayLog.lines.join("\n"));
      assert.equal(updates.find((u) => u.message.sequence === 4), undefined);

      // Deltas flow again from the fetched template.
      const t6 = syntheticTemplate(refreshed(t5.transactions, mempool, 2, 2));
      await primary.publish(t6, REFRESH);
      const sixth = await waitFor(
        "template 6",
        () => updates.find((u) => u.message.sequence === 6),
      );
      assert.equal(sixth.kind, "delta");
      assertSameTemplate(sixth, t6);

      // A new block: nearly everything is new, so the full template is the smaller message.
      const t7 = syntheticTemplate(mempool.take(TX_COUNT), { height: t6.height + 1 });
      await primary.publish(t7, NEW_BLOCK);
      const seventh = await waitFor(
        "template 7",
        () => updates.find((u) => u.message.sequence === 7),
      );
      assert.equal(seventh.kind, "full");
      assert.equal(seventh.cleanJobs, true);
      assertSameTemplate(seventh, t7);
      assert.equal(sent.templateMessagesSent.full.value, 2);
      assert.equal(sent.templateMessagesSent.delta.value, 5);
      assert.equal(sent.templatesPublished.value, 7);
      assert.equal(source.rejectedMessages, 0, relayLog.lines.join("\n"));
      report(
        `template sizes, ${TX_COUNT} txs: full ${full1} B; refresh delta (+5/-3 txs) ${delta2} B; ` +
          `refresh delta (+4/-2) ${third.sizeBytes} B; new block sent in full ${seventh.sizeBytes} B`,
      );
    } finally {
      await source.stop();
      await primary.stop();
      await bridge.close();
      await nats.stop();
    }
  },
});

Deno.test({
  name: "over a hub and leaf, a refresh costs the region link a few kB instead of the template",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const topology = await startNatsTopology({
      leaves: [{ region: "us-east" }],
      provisionStreams: false,
    });
    const log = new MemoryLog();
    const relayLog = new MemoryLog();
    const lateLog = new MemoryLog();
    const primary = startPrimary([topology.hub.url], log);
    const leaf = topology.leaf("us-east");
    const onLeaf = { jetstreamDomain: topology.hub.domain };
    const source = relaySource(leaf.url, relayLog, onLeaf);
    const late = relaySource(leaf.url, lateLog, onLeaf);
    const updates: PrimaryTemplateUpdate[] = [];
    const lateUpdates: PrimaryTemplateUpdate[] = [];
    const mempool = new SyntheticMempool(23);
    const linkBytes = () => leaf.bridge.stats().downstreamBytes;
    /** Bytes hub → leaf while `action` runs and until `done` holds (then a short settle). */
    const measure = async (what: string, action: () => Promise<unknown>, done: () => boolean) => {
      const before = linkBytes();
      await action();
      await waitFor(what, () => done() || undefined, undefined, relayLog);
      return linkBytes() - before;
    };
    try {
      const t1 = syntheticTemplate(mempool.take(TX_COUNT));
      await primary.publish(t1, STARTUP);
      const full = primary.metrics.templateBytesSent.full.value;
      const startBytes = await measure(
        "the relay's first template",
        () => source.start(collect(updates)),
        () => updates.length === 1,
      );
      assertSameTemplate(updates[0]!, t1);

      const t2 = syntheticTemplate(refreshed(t1.transactions, mempool, 5, 3));
      const refreshBytes = await measure(
        "the refresh",
        () => primary.publish(t2, REFRESH),
        () => updates.length === 2,
      );
      assert.equal(updates[1]!.kind, "delta");
      assertSameTemplate(updates[1]!, t2);

      // A relay that starts now fetches the full template by direct get through the hub's
      // domain: raw bytes, so about one template on the link (the stream API's base64 JSON
      // would be a third more).
      const lateBytes = await measure(
        "the late relay's template",
        () => late.start(collect(lateUpdates)),
        () => lateUpdates.length === 1,
      );
      assert.equal(lateUpdates[0]!.kind, "full");
      assertSameTemplate(lateUpdates[0]!, t2);
      assert.equal(late.counters.fullFetches.start.value, 1);

      const t3 = syntheticTemplate(mempool.take(TX_COUNT), { height: t2.height + 1 });
      const blockBytes = await measure(
        "the new block at both relays",
        () => primary.publish(t3, NEW_BLOCK),
        () => updates.length === 3 && lateUpdates.length === 2,
      );
      assert.equal(updates[2]!.kind, "full");
      assertSameTemplate(updates[2]!, t3);
      assertSameTemplate(lateUpdates[1]!, t3);

      report(
        `hub → us-east link bytes, ${TX_COUNT}-tx template (${full} B in full): relay start ` +
          `${startBytes} B; refresh (+5/-3 txs) ${refreshBytes} B; late relay's full fetch ` +
          `${lateBytes} B; new block to two relays ${blockBytes} B`,
      );
      assert.ok(startBytes >= full && startBytes < full * 1.05, `start ${startBytes} B`);
      assert.ok(refreshBytes * 50 < full, `refresh ${refreshBytes} B on the link`);
      assert.ok(lateBytes >= full && lateBytes < full * 1.05, `late fetch ${lateBytes} B`);
      assert.ok(blockBytes >= 2 * full && blockBytes < 2.1 * full, `new block ${blockBytes} B`);
    } finally {
      await Promise.all([source.stop(), late.stop()]);
      await primary.stop();
      await topology.stop();
    }
  },
});

Deno.test({
  name: "a stream an older primary set up is updated in place; first-format relays keep working",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer();
    const admin = await connect({ servers: nats.url });
    const log = new MemoryLog();
    const relayLog = new MemoryLog();
    let primary: ReturnType<typeof startPrimary> | undefined;
    const source = relaySource(nats.url, relayLog);
    const mempool = new SyntheticMempool(5);
    try {
      // What the previous release created: full templates only, no direct get.
      const jsm = await jetstreamManager(admin);
      const { allow_direct: _direct, ...older } = templatesStreamConfig();
      await jsm.streams.add({ ...older, subjects: [TEMPLATES_WILDCARD] });
      // A relay of the previous release: an ordered consumer on the full subject only.
      const oldRelay: number[] = [];
      const consumer = await jetstream(admin).consumers.get(MINING_TEMPLATES_STREAM_NAME, {
        filter_subjects: "mining.templates.regtest",
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
      const messages = await consumer.consume({
        callback: (msg) => {
          oldRelay.push(decodeTemplateMessage(msg.data).sequence);
        },
      });

      primary = startPrimary([nats.url], log);
      const t1 = syntheticTemplate(mempool.take(300));
      await primary.publish(t1, STARTUP);
      const info = await jsm.streams.info(MINING_TEMPLATES_STREAM_NAME);
      assert.deepEqual(info.config.subjects, templatesStreamConfig().subjects);
      assert.equal(info.config.allow_direct, true);
      const t2 = syntheticTemplate(refreshed(t1.transactions, mempool, 3, 1));
      await primary.publish(t2, REFRESH);
      assert.equal(primary.metrics.templateMessagesSent.delta.value, 1);

      const updates: PrimaryTemplateUpdate[] = [];
      await source.start(collect(updates));
      assertSameTemplate(updates[0]!, t2);
      await waitFor("both templates at the old relay", () => oldRelay.length >= 2 || undefined);
      assert.deepEqual(oldRelay, [1, 2]);
      messages.stop();
      const stored = await jsm.streams.info(MINING_TEMPLATES_STREAM_NAME);
      assert.equal(stored.state.messages, 2, "one full and one live message per network");
    } finally {
      await source.stop();
      await primary?.stop();
      await admin.close();
      await nats.stop();
    }
  },
});

Deno.test({
  name: "a relay upgraded before its primary fetches the full template the old primary stores",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer();
    const admin = await connect({ servers: nats.url });
    const relayLog = new MemoryLog();
    const source = relaySource(nats.url, relayLog);
    let beat: ReturnType<typeof setInterval> | undefined;
    try {
      const jsm = await jetstreamManager(admin);
      const { allow_direct: _direct, ...older } = templatesStreamConfig();
      await jsm.streams.add({ ...older, subjects: [TEMPLATES_WILDCARD] });
      // The old primary: full templates on mining.templates.regtest, heartbeats announcing them.
      const epoch = Date.now();
      const template = syntheticTemplate(new SyntheticMempool(3).take(50));
      await jetstream(admin).publish(
        "mining.templates.regtest",
        encodeTemplateMessage({
          epoch,
          sequence: 1,
          sentAtMs: Date.now(),
          templateAtMs: Date.now(),
          ...STARTUP,
          cleanJobs: true,
          originRegion: "eu",
          network: "regtest",
          template,
        }),
      );
      let heartbeat = 0;
      beat = setInterval(() => {
        admin.publish(
          "mining.heartbeat.eu",
          encodeHeartbeat({
            region: "eu",
            network: "regtest",
            instance: "eu-old",
            epoch,
            sequence: ++heartbeat,
            sentAtMs: Date.now(),
            templateSequence: 1,
            templatesHealthy: true,
          }),
        );
      }, 100);
      const updates: PrimaryTemplateUpdate[] = [];
      await Promise.race([
        source.start(collect(updates)),
        waitFor("the template", () => undefined, 15_000, relayLog),
      ]);
      assertSameTemplate(updates[0]!, template);
      assert.equal(source.counters.fullFetches.behind.value, 1);
    } finally {
      clearInterval(beat);
      await source.stop();
      await admin.close();
      await nats.stop();
    }
  },
});
