/**
 * Provisions the MINING_EVENTS stream on a real nats-server and checks its de-duplication.
 *
 * Run with:
 *
 *   deno test --allow-run=nats-server --allow-net=127.0.0.1 --allow-read=/tmp \
 *     --allow-write=/tmp --allow-env=PATH tests/nats_stream_test.ts
 *
 * (`/tmp` is where `Deno.makeTempDir` puts the server's directory; use `$TMPDIR` if that is set.
 * `--allow-env=PATH` is only for the missing-binary test.)
 *
 * Needs the `nats-server` binary (Debian package "nats-server"); fails, never skips, without it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "nats";
import { jetstream, jetstreamManager } from "nats/jetstream";
import { encodeEvent, EventType, makeEvent, parseEvent } from "@tbg/shared/events";
import {
  eventSubject,
  MINING_EVENTS_STREAM,
  MINING_EVENTS_STREAM_NAME,
  miningEventsStreamConfig,
} from "@tbg/shared/nats";
import { type NatsServerHandle, startNatsServer } from "./support/servers/nats_server.ts";

const USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";

async function withServer(
  body: (server: NatsServerHandle, nc: NatsConnection) => Promise<void>,
): Promise<void> {
  const server = await startNatsServer({ jetstream: true });
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: server.url, reconnect: false, timeout: 5_000 });
    await body(server, nc);
  } finally {
    await nc?.close();
    await server.stop();
  }
  await assert.rejects(Deno.stat(server.dir), Deno.errors.NotFound);
}

function sampleEvent() {
  return makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
    user: USER,
    worker: "rig1",
    session_id: "0a1b2c3d",
    job_id: "6a",
    share_diff: 4096,
    pool_diff: 1024,
    accepted: true,
    block_candidate: false,
  });
}

Deno.test("MINING_EVENTS provisions on nats-server with the configured limits", async () => {
  await withServer(async (_server, nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add(miningEventsStreamConfig());
    const info = await jsm.streams.info(MINING_EVENTS_STREAM_NAME);
    const config = info.config;
    assert.equal(config.name, MINING_EVENTS_STREAM.name);
    assert.deepEqual(config.subjects, [...MINING_EVENTS_STREAM.subjects]);
    assert.equal(config.storage, "file");
    assert.equal(config.retention, "limits");
    assert.equal(config.discard, "old");
    assert.equal(config.max_age, MINING_EVENTS_STREAM.max_age);
    assert.equal(config.max_bytes, MINING_EVENTS_STREAM.max_bytes);
    assert.equal(config.duplicate_window, MINING_EVENTS_STREAM.duplicate_window);
    assert.equal(config.num_replicas, 1);
  });
});

Deno.test("MINING_EVENTS drops a second publish with the same event_id as msgID", async () => {
  await withServer(async (_server, nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add(miningEventsStreamConfig());
    const js = jetstream(nc);
    const event = sampleEvent();
    const subject = eventSubject(event.region, event.event);
    const first = await js.publish(subject, encodeEvent(event), { msgID: event.event_id });
    const second = await js.publish(subject, encodeEvent(event), { msgID: event.event_id });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);

    const other = sampleEvent();
    const third = await js.publish(subject, encodeEvent(other), { msgID: other.event_id });
    assert.equal(third.duplicate, false);
    assert.equal(third.seq, first.seq + 1);

    const info = await jsm.streams.info(MINING_EVENTS_STREAM_NAME);
    assert.equal(info.state.messages, 2);
    const stored = await jsm.streams.getMessage(MINING_EVENTS_STREAM_NAME, { seq: first.seq });
    assert.ok(stored !== null);
    assert.equal(stored.subject, "mining.events.eu.share_submitted");
    assert.equal(stored.header.get("Nats-Msg-Id"), event.event_id);
    assert.deepEqual(parseEvent(stored.data), event);
  });
});

Deno.test("MINING_EVENTS keeps its messages across a SIGKILL and restart of nats-server", async () => {
  await withServer(async (server, nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add(miningEventsStreamConfig());
    const event = sampleEvent();
    await jetstream(nc).publish(eventSubject("eu", event.event), encodeEvent(event), {
      msgID: event.event_id,
    });
    await nc.close();

    const pidBefore = server.pid;
    server.kill("SIGKILL");
    await server.restart();
    assert.notEqual(server.pid, pidBefore);

    const nc2 = await connect({ servers: server.url, reconnect: false, timeout: 5_000 });
    try {
      const jsm2 = await jetstreamManager(nc2);
      const info = await jsm2.streams.info(MINING_EVENTS_STREAM_NAME);
      assert.equal(info.state.messages, 1);
      const stored = await jsm2.streams.getMessage(MINING_EVENTS_STREAM_NAME, { seq: 1 });
      assert.ok(stored !== null);
      assert.deepEqual(parseEvent(stored.data), event);
    } finally {
      await nc2.close();
    }
  });
});

Deno.test("startNatsServer() reports the Debian package when the binary is missing", async () => {
  const path = Deno.env.get("PATH") ?? "";
  Deno.env.set("PATH", "/nonexistent");
  try {
    await assert.rejects(startNatsServer(), /install the Debian package "nats-server"/);
  } finally {
    Deno.env.set("PATH", path);
  }
});

Deno.test("startNatsServer() applies extraConfig", async () => {
  const server = await startNatsServer({ jetstream: false, extraConfig: "max_payload: 2MB" });
  try {
    const nc = await connect({ servers: server.url, reconnect: false, timeout: 5_000 });
    try {
      assert.equal(nc.info?.max_payload, 2 * 1024 * 1024);
      assert.equal(nc.info?.jetstream ?? false, false);
    } finally {
      await nc.close();
    }
  } finally {
    await server.stop();
  }
});

Deno.test("startNatsServer() fails with the server's own error and cleans up on bad config", async () => {
  const parentDir = await Deno.makeTempDir({ prefix: "tbg-nats-test-" });
  try {
    await assert.rejects(
      startNatsServer({ parentDir, extraConfig: "max_payload: {{ not valid" }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(
          error.message,
          /^Cannot start nats-server on 127\.0\.0\.1:\d+: the process exited/,
        );
        assert.match(error.message, /--- stderr ---\nnats-server: Parse error on line \d+/);
        return true;
      },
    );
    const left = await Array.fromAsync(Deno.readDir(parentDir));
    assert.deepEqual(left.map((entry) => entry.name), []);
  } finally {
    await Deno.remove(parentDir, { recursive: true });
  }
});
