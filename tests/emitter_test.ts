/**
 * The event emitter against a real nats-server with JetStream: direct publishing, a NATS outage
 * in the middle of a stream of events (SIGKILL, then restart on the same port and store), a
 * stratum restart with events left in the spool, the buffer-full spill, and spool segments kept
 * until JetStream acknowledges them.
 *
 * Run with:
 *
 *   deno test --allow-run=nats-server --allow-net=127.0.0.1 --allow-read=/tmp \
 *     --allow-write=/tmp tests/emitter_test.ts
 *
 * (`/tmp` holds the servers' directories and the spool directories; use `$TMPDIR` if that is
 * set. Everything a test makes there is removed when it ends.)
 *
 * Needs the `nats-server` binary (Debian package "nats-server"); fails, never skips, without it.
 * Every wait is bounded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "nats";
import { jetstream, jetstreamManager } from "nats/jetstream";
import {
  EmitterMode,
  type EmitterTuning,
  EventEmitter,
  listSegments,
  natsConnector,
  readSegment,
} from "@tbg/shared/emitter";
import {
  ALL_EVENT_TYPES,
  type EventPayloads,
  EventType,
  type MiningEvent,
  parseEvent,
} from "@tbg/shared/events";
import type { LogProperties, StructuredLogger } from "@tbg/shared/log";
import { PoolMetrics } from "@tbg/shared/metrics";
import { MINING_EVENTS_STREAM_NAME, miningEventsStreamConfig } from "@tbg/shared/nats";
import { type NatsServerHandle, startNatsServer } from "./support/servers/nats_server.ts";

const REGION = "eu";
const USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const WAIT_MS = 60_000;
const POLL_MS = 20;

/** Keeps log lines so a failed wait can show what the emitter reported. */
class MemoryLog implements StructuredLogger {
  readonly category: readonly string[] = ["emitter-test"];
  readonly lines: string[];

  constructor(lines: string[] = []) {
    this.lines = lines;
  }

  #add(level: string, message: string, properties?: LogProperties): void {
    if (this.lines.length < 1_000) {
      this.lines.push(`${level} ${message} ${JSON.stringify(properties ?? {})}`);
    }
  }
  trace(message: string, properties?: LogProperties): void {
    this.#add("trace", message, properties);
  }
  debug(message: string, properties?: LogProperties): void {
    this.#add("debug", message, properties);
  }
  info(message: string, properties?: LogProperties): void {
    this.#add("info", message, properties);
  }
  warn(message: string, properties?: LogProperties): void {
    this.#add("warn", message, properties);
  }
  error(message: string, properties?: LogProperties): void {
    this.#add("error", message, properties);
  }
  fatal(message: string, properties?: LogProperties): void {
    this.#add("fatal", message, properties);
  }
  with(): StructuredLogger {
    return this;
  }
  getChild(): StructuredLogger {
    return this;
  }
  isEnabledFor(): boolean {
    return true;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  log: MemoryLog,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      assert.fail(`Timed out after ${timeoutMs} ms waiting for ${what}\n${log.lines.join("\n")}`);
    }
    await delay(POLL_MS);
  }
}

/** A valid payload of each type carrying `seq`, so per-subject emit order can be checked. */
function payload<T extends EventType>(type: T, seq: number): EventPayloads[T] {
  const worker = `w${seq}`;
  const sessionId = "0a1b2c3d";
  const hash = seq.toString(16).padStart(64, "0");
  const payloads: { [K in EventType]: EventPayloads[K] } = {
    share_submitted: {
      user: USER,
      worker: "rig1",
      session_id: sessionId,
      job_id: String(seq),
      share_diff: 4096,
      pool_diff: 1024,
      accepted: true,
      block_candidate: false,
    },
    block_found: {
      user: USER,
      worker,
      height: 100,
      hash,
      reward_sats: 312_500_000,
      region: REGION,
      accepted: true,
      submitted_to: ["local"],
    },
    miner_connected: {
      user: USER,
      worker,
      session_id: sessionId,
      ip: "127.0.0.1",
      user_agent: "bitaxe/2.0",
      resumed: false,
    },
    miner_disconnected: {
      user: USER,
      worker,
      session_id: sessionId,
      ip: "127.0.0.1",
      reason: "closed",
      duration_s: 60,
      shares_accepted: 10,
      shares_rejected: 0,
    },
    diff_updated: {
      user: USER,
      worker,
      session_id: sessionId,
      old_diff: 512,
      new_diff: 1024,
      reason: "vardiff",
    },
    hashrate_update: {
      user: USER,
      worker,
      hashrate_1m: 1e12,
      hashrate_5m: 1e12,
      hashrate_1h: 1e12,
      shares_1m: 4,
    },
    new_block_network: { height: seq, hash, prev_hash: hash, source: "zmq" },
    share_best_diff: {
      user: USER,
      worker,
      best_diff: 1e6,
      previous_best: 1e5,
      scope: "worker",
    },
    asicboost_detected: {
      user: USER,
      worker,
      session_id: sessionId,
      version_mask: "1fffe000",
      version_bits: "00002000",
    },
  };
  return payloads[type];
}

function seqOf(event: MiningEvent): number {
  switch (event.event) {
    case EventType.ShareSubmitted:
      return Number(event.data.job_id);
    case EventType.NewBlockNetwork:
      return event.data.height;
    default:
      return Number(event.data.worker.slice(1));
  }
}

/** Emits events `from`..`from + count - 1`, cycling through the nine types. */
function emitRange(emitter: EventEmitter, from: number, count: number): void {
  for (let seq = from; seq < from + count; seq++) {
    const type = ALL_EVENT_TYPES[seq % ALL_EVENT_TYPES.length]!;
    emitter.emit(type, payload(type, seq));
  }
}

interface StoredEvent {
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly event: MiningEvent;
}

async function streamMessages(url: string): Promise<number> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Reads the whole stream in order with an ordered consumer. */
async function readStream(url: string): Promise<StoredEvent[]> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).state.messages;
    const consumer = await jetstream(nc).consumers.get(MINING_EVENTS_STREAM_NAME);
    const stored: StoredEvent[] = [];
    for (let round = 0; round < 1_000 && stored.length < total; round++) {
      const batch = await consumer.fetch({ max_messages: 2_000, expires: 2_000 });
      for await (const message of batch) {
        stored.push({
          subject: message.subject,
          msgId: message.headers?.get("Nats-Msg-Id"),
          event: parseEvent(message.data),
        });
      }
    }
    assert.equal(stored.length, total, "read every message of the stream");
    return stored;
  } finally {
    await nc.close();
  }
}

/**
 * Checks that the stream holds events 0..count-1 exactly once each, under their own subject and
 * message id, and in emit order per subject.
 */
function assertExactlyOnceInOrder(stored: readonly StoredEvent[], count: number): void {
  const ids = new Set<string>();
  const seqs = new Set<number>();
  const lastSeqBySubject = new Map<string, number>();
  for (const { subject, msgId, event } of stored) {
    assert.equal(subject, `mining.events.${REGION}.${event.event}`);
    assert.equal(msgId, event.event_id, "Nats-Msg-Id is the event id");
    assert.ok(!ids.has(event.event_id), `event ${event.event_id} stored twice`);
    ids.add(event.event_id);
    const seq = seqOf(event);
    assert.ok(!seqs.has(seq), `emitted event #${seq} stored twice`);
    seqs.add(seq);
    const last = lastSeqBySubject.get(subject) ?? -1;
    assert.ok(seq > last, `${subject}: #${seq} stored after #${last}`);
    lastSeqBySubject.set(subject, seq);
  }
  assert.equal(stored.length, count);
  for (let seq = 0; seq < count; seq++) assert.ok(seqs.has(seq), `event #${seq} missing`);
}

async function provisionStream(url: string): Promise<void> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 5_000 });
  try {
    await (await jetstreamManager(nc)).streams.add(miningEventsStreamConfig());
  } finally {
    await nc.close();
  }
}

interface Harness {
  readonly server: NatsServerHandle;
  readonly spoolDir: string;
  readonly log: MemoryLog;
  newEmitter(
    options?: {
      bufferSize?: number;
      tuning?: Partial<EmitterTuning>;
      /** Called with every frame the emitter's NATS client writes to its socket. */
      onWrite?: (frame: Uint8Array) => void;
    },
  ): { emitter: EventEmitter; metrics: PoolMetrics };
}

async function withHarness(
  options: { stream: boolean },
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  const server = await startNatsServer({ jetstream: true });
  const dir = await Deno.makeTempDir({ prefix: "tbg-emitter-test-" });
  const emitters: EventEmitter[] = [];
  const log = new MemoryLog();
  try {
    if (options.stream) await provisionStream(server.url);
    const harness: Harness = {
      server,
      spoolDir: `${dir}/spool`,
      log,
      newEmitter(settings = {}) {
        const metrics = new PoolMetrics({ region: REGION, instance: "stratum-eu-0" });
        const emitter = new EventEmitter({
          region: REGION,
          source: "stratum-eu-0",
          include: ALL_EVENT_TYPES,
          bufferSize: settings.bufferSize ?? 65_536,
          spoolDir: `${dir}/spool`,
          connector: async () => {
            const nc = await natsConnector({
              servers: [server.url],
              name: "stratum-eu-0",
              connectTimeoutMs: 1_000,
            })();
            const onWrite = settings.onWrite;
            if (onWrite !== undefined) {
              // The client's socket writes: it gathers what was published until its flush.
              const transport = (nc as unknown as {
                protocol: { transport: { send(frame: Uint8Array): void } };
              }).protocol.transport;
              const send = transport.send.bind(transport);
              transport.send = (frame: Uint8Array) => {
                onWrite(frame);
                send(frame);
              };
            }
            return nc;
          },
          metrics,
          log,
          tuning: { retryInitialMs: 20, retryMaxMs: 250, ...settings.tuning },
        });
        emitters.push(emitter);
        return { emitter, metrics };
      },
    };
    await body(harness);
  } finally {
    for (const emitter of emitters) await emitter.drain(0);
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Waits until nothing accepts connections on the killed server's port. */
async function waitDown(server: NatsServerHandle, log: MemoryLog): Promise<void> {
  await waitFor("nats-server to exit", async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: server.port })).close();
      return false;
    } catch {
      return true;
    }
  }, log);
}

async function spooledRecordsOnDisk(spoolDir: string): Promise<number> {
  let records = 0;
  for (const segment of await listSegments(spoolDir)) {
    records += (await readSegment(segment.path)).records.length;
  }
  return records;
}

function idle(emitter: EventEmitter): boolean {
  const status = emitter.status();
  return status.mode === EmitterMode.Direct && status.buffered === 0 &&
    status.spooledRecords === 0;
}

Deno.test("EventEmitter publishes 10,000 mixed events to MINING_EVENTS exactly once, in order", async () => {
  await withHarness({ stream: true }, async ({ server, newEmitter, log }) => {
    const { emitter, metrics } = newEmitter();
    await emitter.start();
    const total = 10_000;
    for (let from = 0; from < total; from += 500) {
      emitRange(emitter, from, 500);
      await delay(0);
    }
    await waitFor("every event acknowledged", () => metrics.eventsPublished.value >= total, log);
    await emitter.drain(5_000);

    assertExactlyOnceInOrder(await readStream(server.url), total);
    assert.equal(metrics.eventsSpooled.value, 0, "nothing went to the spool");
    assert.equal(metrics.eventPublishErrors.value, 0);
    assert.equal(metrics.eventsDropped.value, 0);
    const text = await metrics.registry.metrics();
    assert.match(text, /^ckpool_events_published_total\{[^}]*\} 10000$/m);
    assert.match(text, /^ckpool_event_emit_latency_us_count\{[^}]*\} 10000$/m);
    assert.match(text, /^ckpool_event_buffer_depth\{[^}]*\} 0$/m);
    assert.match(text, /^ckpool_event_spool_bytes\{[^}]*\} 0$/m);
    assert.match(text, /^ckpool_event_publish_errors_total\{[^}]*\} 0$/m);
    assert.match(text, /^ckpool_events_spooled_total\{[^}]*\} 0$/m);
    assert.match(text, /^ckpool_events_dropped_total\{[^}]*\} 0$/m);
  });
});

Deno.test("EventEmitter lets events of nearby turns share a write to NATS (publishLingerMs)", async () => {
  await withHarness({ stream: true }, async ({ server, newEmitter, log }) => {
    const events = 20;
    const published: number[] = [];
    for (const [i, lingerMs] of [0, 1_000].entries()) {
      let writes = 0;
      const { emitter, metrics } = newEmitter({
        tuning: { publishLingerMs: lingerMs },
        onWrite: (frame) => {
          if (new TextDecoder().decode(frame).includes("HPUB ")) writes++;
        },
      });
      await emitter.start();
      // One event a turn, as a pool answering one share at a time emits them.
      for (let seq = i * events; seq < (i + 1) * events; seq++) {
        emitRange(emitter, seq, 1);
        await delay(0);
      }
      await waitFor("every event acknowledged", () => metrics.eventsPublished.value >= events, log);
      await emitter.drain(5_000);
      published.push(writes);
    }
    // Without a linger (almost) every event leaves in the turn it was emitted in; with one, the
    // events of the turns that follow the first join it (at least four a write, unless four turns
    // of this loop take over a second).
    assert.ok(published[0]! >= events * 3 / 4, `socket writes with publishes: ${published}`);
    assert.ok(published[1]! <= events / 4, `socket writes with publishes: ${published}`);
    assertExactlyOnceInOrder(await readStream(server.url), 2 * events);
  });
});

Deno.test("EventEmitter loses and duplicates nothing across a NATS SIGKILL and restart", async () => {
  await withHarness({ stream: true }, async ({ server, spoolDir, newEmitter, log }) => {
    const { emitter, metrics } = newEmitter();
    await emitter.start();
    const perTick = 20;
    const ticks = 300;
    const burst = 3_000;
    let next = 0;
    let restarting: Promise<void> | null = null;
    for (let tick = 0; tick < ticks; tick++) {
      emitRange(emitter, next, perTick);
      next += perTick;
      if (tick === 80) {
        // A burst first, so the kill lands with publishes in flight and more waiting behind them.
        emitRange(emitter, next, burst);
        next += burst;
        await delay(1);
        server.kill("SIGKILL");
      }
      if (tick === 160) {
        assert.ok(emitter.status().spooledRecords > 0, "the spool grew during the outage");
        assert.ok((await listSegments(spoolDir)).length > 0, "segment files on disk");
        restarting = server.restart();
      }
      await delay(2);
    }
    await restarting;
    const total = next;
    await waitFor("the spool replayed and direct mode resumed", () => idle(emitter), log);
    await waitFor(
      "every event in the stream",
      async () => await streamMessages(server.url) >= total,
      log,
    );
    await emitter.drain(5_000);

    assertExactlyOnceInOrder(await readStream(server.url), total);
    assert.ok(metrics.eventsSpooled.value > 0);
    assert.ok(metrics.eventPublishErrors.value > 0);
    assert.equal(metrics.eventsDropped.value, 0);
    assert.deepEqual(await listSegments(spoolDir), [], "replayed segments deleted");
  });
});

Deno.test("EventEmitter delivers events spooled by an earlier process when a new one starts", async () => {
  await withHarness({ stream: true }, async ({ server, spoolDir, newEmitter, log }) => {
    server.kill("SIGKILL");
    await waitDown(server, log);
    const first = newEmitter();
    await first.emitter.start();
    const total = 3_000;
    emitRange(first.emitter, 0, total);
    await first.emitter.drain(300);
    assert.equal(await spooledRecordsOnDisk(spoolDir), total, "all events on disk after drain");
    assert.equal(first.metrics.eventsDropped.value, 0);
    // As if the process had crashed in the middle of one more write.
    const last = (await listSegments(spoolDir)).at(-1)!;
    await Deno.writeFile(last.path, new Uint8Array([0, 0, 1, 0, 7, 7, 7]), { append: true });

    await server.restart();
    const second = newEmitter();
    await second.emitter.start();
    assert.equal(second.emitter.status().mode, EmitterMode.Spool, "replays the old spool first");
    await waitFor("the old spool replayed", () => idle(second.emitter), log);
    await second.emitter.drain(5_000);

    assertExactlyOnceInOrder(await readStream(server.url), total);
    assert.equal(second.metrics.eventsPublished.value, total);
    assert.ok(log.lines.some((line) => line.includes("torn final record")));
    assert.deepEqual(await listSegments(spoolDir), []);
  });
});

Deno.test("EventEmitter spills to the spool when the ring is full, and still delivers in order", async () => {
  await withHarness({ stream: true }, async ({ server, newEmitter, log }) => {
    const { emitter, metrics } = newEmitter({ bufferSize: 64 });
    await emitter.start();
    const total = 5_000;
    emitRange(emitter, 0, total); // one synchronous burst: the ring holds 64
    assert.ok(emitter.status().buffered === total);
    await waitFor("the spill replayed", () => idle(emitter), log);
    await waitFor(
      "every event in the stream",
      async () => await streamMessages(server.url) >= total,
      log,
    );
    await emitter.drain(5_000);

    assertExactlyOnceInOrder(await readStream(server.url), total);
    assert.ok(metrics.eventsSpooled.value >= total - 64, "the overflow went to the spool");
    assert.equal(metrics.eventsDropped.value, 0);
  });
});

Deno.test("EventEmitter keeps spool segments until JetStream acknowledges every record", async () => {
  // JetStream is up but no stream captures the subjects: every publish is refused.
  await withHarness({ stream: false }, async ({ server, spoolDir, newEmitter, log }) => {
    const { emitter, metrics } = newEmitter();
    await emitter.start();
    const total = 100;
    emitRange(emitter, 0, total);
    await waitFor("the events spooled", () => emitter.status().spooledRecords === total, log);
    await waitFor(
      "several replays refused",
      () => metrics.eventPublishErrors.value > 3 * total,
      log,
    );
    assert.equal(await spooledRecordsOnDisk(spoolDir), total, "segments kept after failed replays");
    assert.equal(metrics.eventsPublished.value, 0);

    await provisionStream(server.url);
    await waitFor("the spool replayed", () => idle(emitter), log);
    assert.deepEqual(await listSegments(spoolDir), []);
    await emitter.drain(5_000);
    assertExactlyOnceInOrder(await readStream(server.url), total);
  });
});

Deno.test("EventEmitter drops events only once the spool bound and the memory bound are both reached", async () => {
  await withHarness({ stream: true }, async ({ server, newEmitter, log }) => {
    server.kill("SIGKILL");
    // Else the first connect could wait on a dying server while memory fills.
    await waitDown(server, log);
    const maxSpoolBytes = 16 * 1024;
    const { emitter, metrics } = newEmitter({
      bufferSize: 50,
      tuning: { maxSpoolBytes, maxOverflowBytes: 32 * 1024 },
    });
    await emitter.start();
    const total = 1_000;
    for (let from = 0; from < total; from += 10) {
      emitRange(emitter, from, 10);
      await delay(1);
    }
    await waitFor("events dropped", () => metrics.eventsDropped.value > 0, log);
    assert.ok(metrics.eventSpoolBytes.value >= maxSpoolBytes, "the spool was full first");
    const full = log.lines.findIndex((line) => line.includes("event spool is full"));
    const dropping = log.lines.findIndex((line) => line.includes("dropping events"));
    assert.ok(
      full >= 0 && dropping > full,
      `spool full is reported before any drop\n${log.lines.join("\n")}`,
    );

    await server.restart();
    await waitFor("the spool replayed", () => idle(emitter), log);
    await emitter.drain(5_000);
    const stored = await readStream(server.url);
    assert.equal(
      stored.length + metrics.eventsDropped.value,
      total,
      "every event stored or counted",
    );
    const seen = new Set<number>();
    const lastBySubject = new Map<string, number>();
    for (const { subject, event } of stored) {
      const seq = seqOf(event);
      assert.ok(!seen.has(seq));
      seen.add(seq);
      assert.ok(seq > (lastBySubject.get(subject) ?? -1), `${subject}: #${seq} out of order`);
      lastBySubject.set(subject, seq);
    }
  });
});

Deno.test("EventEmitter ignores event types not in include and drops events emitted after drain", async () => {
  await withHarness({ stream: true }, async ({ server, spoolDir }) => {
    const metrics = new PoolMetrics({ region: REGION, instance: "stratum-eu-1" });
    const emitter = new EventEmitter({
      region: REGION,
      source: "stratum-eu-1",
      include: [EventType.BlockFound],
      bufferSize: 16,
      spoolDir,
      connector: natsConnector({ servers: [server.url], name: "t", connectTimeoutMs: 1_000 }),
      metrics,
      log: new MemoryLog(),
    });
    await emitter.start();
    emitter.emit(EventType.ShareSubmitted, payload(EventType.ShareSubmitted, 0));
    emitter.emit(EventType.BlockFound, payload(EventType.BlockFound, 1));
    await emitter.drain(5_000);
    emitter.emit(EventType.BlockFound, payload(EventType.BlockFound, 2));
    assert.equal(metrics.eventsDropped.value, 1);
    const stored = await readStream(server.url);
    assert.deepEqual(stored.map((s) => [s.event.event, seqOf(s.event)]), [["block_found", 1]]);
  });
});

Deno.test("EventEmitter.drain() on an emitter never started publishes what was emitted", async () => {
  await withHarness({ stream: true }, async ({ server, newEmitter }) => {
    const { emitter, metrics } = newEmitter();
    emitRange(emitter, 0, 50);
    await emitter.drain(5_000);
    assertExactlyOnceInOrder(await readStream(server.url), 50);
    assert.equal(metrics.eventsPublished.value, 50);
  });
});

Deno.test("EventEmitter.start() fails when the spool directory cannot be made", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tbg-emitter-test-" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    const emitter = new EventEmitter({
      region: REGION,
      source: "s",
      include: ALL_EVENT_TYPES,
      bufferSize: 16,
      spoolDir: `${dir}/file/spool`,
      connector: natsConnector({
        servers: ["nats://127.0.0.1:1"],
        name: "s",
        connectTimeoutMs: 100,
      }),
      metrics: new PoolMetrics({ region: REGION, instance: "s" }),
      log: new MemoryLog(),
    });
    await assert.rejects(emitter.start());
    await emitter.drain(0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
