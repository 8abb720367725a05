/**
 * `NatsMonitorExporter` against a real nats-server's monitoring port: what `/varz` and `/jsz`
 * say about the server, the MINING_EVENTS stream and its durable consumer becomes
 * `nats_server_*` and `jetstream_*` series; a server that stops answering sets
 * `nats_server_up` to 0 and drops the rest; a monitor that answers garbage, too much or nothing
 * fails the poll with a reason, within the timeout.
 *
 * Needs nats-server (Debian package "nats-server").
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "nats";
import { jetstream, jetstreamManager } from "nats/jetstream";
import { MetricRegistry } from "@tbg/shared/metrics";
import {
  MAX_MONITOR_BODY_BYTES,
  miningEventsStreamConfig,
  NatsMonitorExporter,
} from "@tbg/shared/nats";
import { pickFreePort, startNatsServer } from "./support/servers/nats_server.ts";
import { readScrape } from "./support/exported_metrics.ts";

/** The value of the first sample line `name{...labels containing every given pair} value`. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const text = match[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`))) {
      return Number(match[3]);
    }
  }
  return undefined;
}

Deno.test({
  name: "NatsMonitorExporter exports a real server's connections, stream and consumer backlog",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const monitorPort = pickFreePort();
    const nats = await startNatsServer({
      serverName: "hub-test",
      extraConfig: `http: "127.0.0.1:${monitorPort}"`,
    });
    const registry = new MetricRegistry();
    const failures: unknown[] = [];
    const exporter = new NatsMonitorExporter({
      url: `http://127.0.0.1:${monitorPort}`,
      pollMs: 60_000,
      timeoutMs: 2_000,
      registry,
      onFailure: (error) => failures.push(error),
    });
    const nc = await connect({ servers: nats.url });
    try {
      const config = miningEventsStreamConfig();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add(config);
      await jsm.consumers.add(config.name, {
        durable_name: "event-pipeline",
        ack_policy: "explicit",
      });
      const js = jetstream(nc);
      for (let i = 0; i < 7; i++) await js.publish("mining.events.eu.share_submitted", "{}");

      assert.equal(await exporter.pollOnce(), true, String(failures[0]));
      const text = await registry.metrics();
      assert.equal(sample(text, "nats_server_up"), 1);
      assert.equal(
        sample(text, "nats_server_info", { server: "hub-test" }),
        1,
      );
      assert.ok(sample(text, "nats_server_connections", { server: "hub-test" })! >= 1);
      assert.ok(sample(text, "nats_server_in_msgs_total")! >= 7);
      const stream = { stream: config.name };
      assert.equal(sample(text, "jetstream_stream_messages", stream), 7);
      assert.equal(sample(text, "jetstream_stream_last_seq", stream), 7);
      assert.equal(sample(text, "jetstream_stream_consumer_count", stream), 1);
      const durable = { stream: config.name, consumer: "event-pipeline" };
      assert.equal(sample(text, "jetstream_consumer_num_pending", durable), 7);
      assert.equal(sample(text, "jetstream_consumer_num_ack_pending", durable), 0);
      assert.ok(sample(text, "jetstream_storage_bytes")! > 0);
      // Exposition the tests' reader (and so Prometheus) accepts.
      assert.ok(readScrape(text).series.has("jetstream_consumer_num_pending"));

      await nc.close();
      await nats.stop();
      assert.equal(await exporter.pollOnce(), false);
      assert.match(String(failures[0]), /Cannot poll http:\/\/127\.0\.0\.1:\d+\/(varz|jsz)/);
      const after = await registry.metrics();
      assert.equal(sample(after, "nats_server_up"), 0);
      assert.equal(sample(after, "jetstream_stream_messages"), undefined, "no stale figures");
    } finally {
      await exporter.stop();
      await nc.close().catch(() => {});
      await nats.stop();
    }
  },
});

Deno.test("NatsMonitorExporter fails a poll on garbage, an oversized body and silence, within the timeout", async () => {
  type Answer = "garbage" | "huge" | "hang" | "wrong";
  let answer = "garbage" as Answer;
  const hang = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    switch (answer) {
      case "garbage":
        return new Response("<html>not json</html>");
      case "wrong":
        return Response.json({ server_name: 42 });
      case "huge": {
        // Streamed without a length, so only the reader's cap can stop it.
        const chunk = new Uint8Array(64 * 1024).fill(0x20);
        let sent = 0;
        return new Response(
          new ReadableStream({
            pull(controller) {
              if (sent > 2 * MAX_MONITOR_BODY_BYTES) return controller.close();
              sent += chunk.byteLength;
              controller.enqueue(chunk);
            },
          }),
        );
      }
      case "hang":
        await hang.promise;
        return new Response("{}");
    }
  });
  const exporters: NatsMonitorExporter[] = [];
  try {
    const expectations: [Answer, RegExp][] = [
      ["garbage", /the body is not JSON/],
      ["wrong", /Cannot read NATS monitoring JSON: varz/],
      ["huge", /exceeds the cap/],
      // Without the timeout this poll would wait for ever: the reason proves it fired.
      ["hang", /timed out/],
    ];
    for (const [kind, reason] of expectations) {
      answer = kind;
      const failures: unknown[] = [];
      const exporter = new NatsMonitorExporter({
        url: `http://127.0.0.1:${server.addr.port}`,
        pollMs: 60_000,
        timeoutMs: 300,
        registry: new MetricRegistry(),
        onFailure: (error) => failures.push(error),
      });
      exporters.push(exporter);
      assert.equal(await exporter.pollOnce(), false, kind);
      assert.equal(failures.length, 1, kind);
      assert.match(String(failures[0]), reason, kind);
      assert.equal(exporter.up, false);
    }
  } finally {
    hang.resolve();
    for (const exporter of exporters) await exporter.stop();
    await server.shutdown();
  }
});

Deno.test("NatsMonitorExporter refuses a URL with a path or another scheme", () => {
  for (const url of ["http://127.0.0.1:8222/varz", "https://127.0.0.1:8222", "127.0.0.1:8222"]) {
    assert.throws(
      () =>
        new NatsMonitorExporter({
          url,
          pollMs: 1000,
          timeoutMs: 100,
          registry: new MetricRegistry(),
        }),
      /is not "http:\/\/host:port"/,
    );
  }
});
