/**
 * The whole event pipeline with real processes: devnet node → the pool (its own process, events
 * on, spool dir set) ← three support CPU miners; pool → nats-server (JetStream, provisioned by
 * `tools/nats_provision.ts`'s code) → collector → PostgreSQL and redis-server.
 *
 * One stack serves five steps, each ending with the same full check (`assertPipelineExact`):
 *
 * 1. mining until blocks are found and hundreds of shares are answered;
 * 2. pool-produced events published again, with the same `Nats-Msg-Id` (inside JetStream's
 *    2-minute window) and with another one (as after the window);
 * 3. nats-server stopped while the miners submit (the pool spools), then started again on the
 *    same port and store;
 * 4. PostgreSQL killed while the miners submit, then restarted;
 * 5. redis-server killed while the miners submit, then restarted (append-only file on).
 *
 * The full check compares four independent counts: what the miners saw answered (per worker,
 * accepted and rejected), what the pool counted (its Prometheus metrics) and found (the devnet's
 * chain), what JetStream holds (every event once, in order per subject), and what PostgreSQL
 * (mining_events, shares, blocks, miners) and Redis (worker counters, streams, the settled
 * record: every message of the stream settled, no key per event, recent blocks) hold. Every wait is bounded and says what it waited for.
 *
 * The collector runs in this process (its metrics are read directly); the pool is its own
 * process. Expect about a minute: after the NATS restart, messages the server had handed to the
 * collector just before it stopped come back only when their ack wait (30 s) runs out, which is
 * the redelivery the at-least-once design relies on.
 *
 * Run with `deno task test tests/pipeline_e2e_test.ts`. Needs the Debian packages nats-server,
 * redis-server and postgresql; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "nats";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "nats/jetstream";
import postgres from "postgres";
import { Redis } from "ioredis";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { validateConfig } from "@tbg/shared/config";
import { ALL_EVENT_TYPES, type MiningEvent, parseEvent } from "@tbg/shared/events";
import type { LogProperties, StructuredLogger } from "@tbg/shared/log";
import {
  applyPlan,
  EVENT_PIPELINE_DURABLE,
  GAME_ENGINE_DURABLE,
  MINING_EVENTS_STREAM_NAME,
} from "@tbg/shared/nats";
import { type Collector, startCollector, workerKey } from "@tbg/collector";
import { migrate } from "../tools/migrate.ts";
import { planAll } from "../tools/nats_provision.ts";
import { regtestAddress, type TestAddressType } from "./support/addresses.ts";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import { type PoolProcess, startPoolProcess } from "./support/pool_process.ts";
import { type NatsServerHandle, startNatsServer } from "./support/servers/nats_server.ts";
import { type PostgresServerHandle, startPostgres } from "./support/servers/postgres_server.ts";
import { type RedisServerHandle, startRedisServer } from "./support/servers/redis_server.ts";
import { CpuMiner, StratumClient, type SubmitOutcome } from "./support/stratum_client/mod.ts";

const STREAM = MINING_EVENTS_STREAM_NAME;
/** One share per ~860 hashes: each capped miner answers about 23 shares a second. */
const SHARE_DIFFICULTY = 0.0000002;
/** About one block per 150 shares. */
const NETWORK_DIFFICULTY = 0.00003;
const HASHES_PER_SECOND_PER_MINER = 20_000;
const MINER_TYPES: readonly TestAddressType[] = ["p2wpkh", "p2tr", "p2pkh"];
const WAIT_MS = 45_000;
const POLL_MS = 100;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns true; fails after `timeoutMs` with `what` and the last state
 * `check` reported through `note` (or its last error).
 */
async function waitFor(
  what: string,
  check: (note: (state: string) => void) => Promise<boolean> | boolean,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state = "";
  const note = (text: string) => state = text;
  for (;;) {
    try {
      if (await check(note)) return;
    } catch (error: unknown) {
      state = `last error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${state})`);
    }
    await delay(POLL_MS);
  }
}

/** Keeps the collector's log lines so a failure can show them. */
class MemoryLog implements StructuredLogger {
  readonly category: readonly string[] = ["collector"];
  readonly lines: string[] = [];

  #add(level: string, message: string, properties?: LogProperties): void {
    const at = new Date().toISOString().slice(11, 23);
    this.lines.push(`${at} ${level} ${message} ${JSON.stringify(properties ?? {})}`);
    if (this.lines.length > 300) this.lines.shift();
  }
  trace(): void {}
  debug(): void {}
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

// --- miners ----------------------------------------------------------------------------------

/** What one miner saw answered. */
interface Answers {
  accepted: number;
  rejected: number;
  /** Rejections by the pool's message. */
  readonly reasons: Map<string, number>;
}

/** One support CPU miner and what it saw answered. */
interface Rig extends Answers {
  readonly user: string;
  readonly worker: string;
  readonly client: StratumClient;
  readonly miner: CpuMiner;
}

function countAnswer(answers: Answers, outcome: SubmitOutcome): void {
  if (outcome.accepted) {
    answers.accepted++;
    return;
  }
  answers.rejected++;
  const reason = outcome.error?.[1] ?? "no error";
  answers.reasons.set(reason, (answers.reasons.get(reason) ?? 0) + 1);
}

async function startRigs(port: number): Promise<Rig[]> {
  const rigs: Rig[] = [];
  for (const [i, type] of MINER_TYPES.entries()) {
    const { address } = regtestAddress(type, 40 + i);
    const worker = `rig${i}`;
    const client = await StratumClient.start({
      host: "127.0.0.1",
      port,
      username: `${address}.${worker}`,
    });
    const answers: Answers = { accepted: 0, rejected: 0, reasons: new Map() };
    const miner = new CpuMiner(client, {
      batchNonces: 1024,
      maxHashesPerSecond: HASHES_PER_SECOND_PER_MINER,
      onShare: (outcome) => countAnswer(answers, outcome),
    });
    rigs.push(Object.assign(answers, { user: address, worker, client, miner }));
  }
  return rigs;
}

function answered(rigs: readonly Rig[]): number {
  return rigs.reduce((sum, rig) => sum + rig.accepted + rig.rejected, 0);
}

async function stopMining(rigs: readonly Rig[]): Promise<void> {
  await Promise.all(rigs.map((rig) => rig.miner.stop()));
  for (const rig of rigs) {
    assert.equal(
      rig.miner.stats.submitted,
      rig.accepted + rig.rejected,
      `${rig.worker}: every submit was answered`,
    );
  }
}

// --- the stack -------------------------------------------------------------------------------

interface Stack {
  readonly nats: NatsServerHandle;
  readonly pg: PostgresServerHandle;
  readonly redis: RedisServerHandle;
  readonly devnet: Devnet;
  readonly startHeight: number;
  readonly pool: PoolProcess;
  readonly collector: Collector;
  readonly collectorLog: MemoryLog;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly sql: postgres.Sql;
  readonly rc: Redis;
  readonly rigs: Rig[];
  /** Message ids this test published under besides the events' own (step 2). */
  readonly replayMsgIds: Set<string>;
}

const cleanups: (() => Promise<unknown>)[] = [];

async function startStack(): Promise<Stack> {
  const [nats, pg, redis, devnet] = await Promise.all([
    startNatsServer({ jetstream: true }),
    startPostgres(),
    startRedisServer({ persistent: true }),
    startDevnet({ bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)) }),
  ]);
  cleanups.push(() => nats.stop(), () => pg.stop(), () => redis.stop(), () => devnet.stop());

  // The test's own connection rides out the NATS outage of step 3.
  const nc = await connect({
    servers: nats.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
    timeout: 5_000,
  });
  cleanups.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const plans = await planAll(nc);
  assert.deepEqual(
    plans.map((plan) => `${plan.name}:${plan.action}`),
    [`${STREAM}:create`, `${EVENT_PIPELINE_DURABLE}:create`, `${GAME_ENGINE_DURABLE}:create`],
  );
  for (const plan of plans) await applyPlan(jsm, plan);

  const collectorLog = new MemoryLog();
  const collector = await startCollector({
    config: validateConfig("collector", {
      nats_url: nats.url,
      postgres: { url: pg.url },
      redis: { url: redis.url },
      batch: { max_events: 200, max_wait_ms: 20 },
      metrics: { enabled: false },
      migrate_on_start: true,
    }, "pipeline-e2e"),
    log: collectorLog,
    migrate: (sql, log) => migrate(sql, log),
    drainTimeoutMs: 2_000,
  });
  cleanups.push(() => collector.stop());

  const spoolDir = await Deno.makeTempDir({ prefix: "tbg-pipeline-spool-" });
  cleanups.push(() => Deno.remove(spoolDir, { recursive: true }));
  const pool = await startPoolProcess(devnet, {
    mindiff: SHARE_DIFFICULTY,
    startdiff: SHARE_DIFFICULTY,
    // Aim at the capped miners' own rate, so vardiff leaves the difficulty where it is.
    vardiff: { target_share_interval: 0.045, retarget_interval: 5 },
    rate_limits: { max_shares_per_minute: 10_000 },
    events: { enabled: true, nats_url: nats.url, spool_dir: spoolDir },
  });
  cleanups.push(() => pool.stop());

  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  cleanups.push(() => sql.end({ timeout: 1 }));
  const rc = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  rc.on("error", () => {});
  cleanups.push(() => Promise.resolve(rc.disconnect()));

  const rigs = await startRigs(pool.stratumPort);
  cleanups.push(async () => {
    await Promise.all(rigs.map((rig) => rig.miner.stop()));
    for (const rig of rigs) rig.client.close();
  });
  return {
    nats,
    pg,
    redis,
    devnet,
    startHeight: devnet.chain.tipHeight(),
    pool,
    collector,
    collectorLog,
    nc,
    js: jetstream(nc),
    jsm,
    sql,
    rc,
    rigs,
    replayMsgIds: new Set(),
  };
}

async function closeStack(): Promise<void> {
  // Last in, first out: miners, clients, pool, collector, then the servers.
  for (const cleanup of cleanups.reverse()) {
    await Promise.race([cleanup().catch(() => {}), delay(15_000)]);
  }
  cleanups.length = 0;
}

// --- what the pool reports ---------------------------------------------------------------------

/** Sum of the samples of `name` whose labels include `labels`, from the pool's /metrics. */
async function poolMetric(
  stack: Stack,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${stack.pool.metricsPort}/metrics`);
  const text = await response.text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const label of (match[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      found.set(label[1]!, label[2]!);
    }
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) {
      sum += Number(match[3]);
    }
  }
  return sum;
}

// --- what JetStream holds -----------------------------------------------------------------------

interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string;
  /** The message body as stored. */
  readonly data: Uint8Array;
  readonly event: MiningEvent;
}

/** Every message of the stream, in stream order, read with an ordered consumer. */
async function readStream(stack: Stack): Promise<StoredMessage[]> {
  const lastSeq = (await stack.jsm.streams.info(STREAM)).state.last_seq;
  const out: StoredMessage[] = [];
  if (lastSeq === 0) return out;
  const consumer = await stack.js.consumers.get(STREAM);
  const messages = await consumer.consume({ max_messages: 1_000 });
  const timer = setTimeout(() => messages.stop(), 20_000);
  try {
    for await (const msg of messages) {
      out.push({
        seq: msg.seq,
        subject: msg.subject,
        msgId: msg.headers?.get("Nats-Msg-Id") ?? "",
        data: msg.data,
        event: parseEvent(msg.data),
      });
      if (msg.seq >= lastSeq) break;
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  assert.equal(out.at(-1)?.seq, lastSeq, `read the stream up to its last sequence ${lastSeq}`);
  return out;
}

/**
 * Checks JetStream's side: every message carries its event's id as `Nats-Msg-Id` (or one of the
 * test's replay ids), no event is stored twice under its own id, and within each subject the
 * events come in the order the pool created them (UUIDv7 ids strictly increasing, timestamps
 * never decreasing).
 *
 * @returns The distinct events.
 */
function checkStream(stack: Stack, messages: readonly StoredMessage[]): Map<string, MiningEvent> {
  const events = new Map<string, MiningEvent>();
  const lastBySubject = new Map<string, MiningEvent>();
  for (const message of messages) {
    const { event } = message;
    assert.equal(
      message.subject,
      `mining.events.eu.${event.event}`,
      `subject of seq ${message.seq}`,
    );
    if (stack.replayMsgIds.has(message.msgId)) {
      assert.ok(events.has(event.event_id), `replayed seq ${message.seq} repeats a stored event`);
      continue;
    }
    assert.equal(message.msgId, event.event_id, `Nats-Msg-Id of seq ${message.seq}`);
    assert.ok(
      !events.has(event.event_id),
      `event ${event.event_id} (${event.event}) stored twice, again at seq ${message.seq}`,
    );
    events.set(event.event_id, event);
    const previous = lastBySubject.get(message.subject);
    if (previous !== undefined) {
      assert.ok(
        previous.event_id < event.event_id && previous.timestamp <= event.timestamp,
        `${message.subject} out of order at seq ${message.seq}: ${previous.event_id} ` +
          `(${previous.timestamp}) before ${event.event_id} (${event.timestamp})`,
      );
    }
    lastBySubject.set(message.subject, event);
  }
  return events;
}

// --- the full check -----------------------------------------------------------------------------

/** Accepted and rejected shares of one worker. */
interface ShareCounts {
  accepted: number;
  rejected: number;
}

function countBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function sortedObject(map: ReadonlyMap<string, unknown>): Record<string, unknown> {
  return Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)));
}

async function keysMatching(rc: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  for (let rounds = 0; rounds < 10_000; rounds++) {
    const [next, batch] = await rc.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
    if (cursor === "0") return keys.sort();
  }
  throw new Error(`Cannot list ${pattern}: SCAN did not finish`);
}

/**
 * Waits until the pool has handed every event to JetStream and the collector has acknowledged
 * everything in the stream, then checks that the miners, the pool, JetStream, PostgreSQL and
 * Redis all agree, exactly.
 *
 * @returns The distinct events in the stream.
 */
async function assertPipelineExact(stack: Stack): Promise<Map<string, MiningEvent>> {
  const { jsm, sql, rc, rigs } = stack;
  await waitFor("the pool's emitter to have published everything", async (note) => {
    const [buffered, spoolBytes] = await Promise.all([
      poolMetric(stack, "ckpool_event_buffer_depth"),
      poolMetric(stack, "ckpool_event_spool_bytes"),
    ]);
    note(`buffer ${buffered}, spool ${spoolBytes} bytes`);
    return buffered === 0 && spoolBytes === 0;
  });
  assert.equal(await poolMetric(stack, "ckpool_events_dropped_total"), 0, "events dropped");

  // The stream is quiet once the pool is; the collector must then have acked all of it.
  let messages: StoredMessage[] = [];
  await waitFor("the collector to acknowledge the whole stream", async (note) => {
    const before = (await jsm.streams.info(STREAM)).state.last_seq;
    const info = await jsm.consumers.info(STREAM, EVENT_PIPELINE_DURABLE);
    note(
      `last_seq ${before}, pending ${info.num_pending}, ack pending ${info.num_ack_pending}, ` +
        `ack floor ${info.ack_floor.stream_seq}, redelivered ${info.num_redelivered}`,
    );
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
    if (info.ack_floor.stream_seq < before) return false;
    messages = await readStream(stack);
    return (await jsm.streams.info(STREAM)).state.last_seq === before;
  });
  const events = checkStream(stack, messages);
  const shareEvents = [...events.values()].filter((e) => e.event === "share_submitted");
  const blockEvents = [...events.values()].filter((e) => e.event === "block_found");

  // Miners ↔ pool ↔ JetStream: shares per worker, exactly.
  const minerCounts = new Map<string, ShareCounts>(
    rigs.map((rig) => [workerKey(rig.user, rig.worker), {
      accepted: rig.accepted,
      rejected: rig.rejected,
    }]),
  );
  const streamCounts = new Map<string, ShareCounts>(
    rigs.map((rig) => [workerKey(rig.user, rig.worker), { accepted: 0, rejected: 0 }]),
  );
  for (const event of shareEvents) {
    if (event.event !== "share_submitted") continue;
    const counts = streamCounts.get(workerKey(event.data.user, event.data.worker));
    assert.ok(counts, `share event of an unknown worker ${event.data.user}.${event.data.worker}`);
    if (event.data.accepted) counts.accepted++;
    else counts.rejected++;
  }
  const reasons = rigs.map((rig) => `${rig.worker}: ${JSON.stringify(sortedObject(rig.reasons))}`);
  assert.deepEqual(
    sortedObject(streamCounts),
    sortedObject(minerCounts),
    `share events in JetStream vs shares the miners saw answered (rejects ${reasons.join("; ")})`,
  );
  const totalAccepted = rigs.reduce((sum, rig) => sum + rig.accepted, 0);
  const totalRejected = rigs.reduce((sum, rig) => sum + rig.rejected, 0);
  assert.equal(await poolMetric(stack, "ckpool_shares_total", { valid: "true" }), totalAccepted);
  assert.equal(await poolMetric(stack, "ckpool_shares_total", { valid: "false" }), totalRejected);

  // Blocks: the devnet's chain ↔ the pool ↔ JetStream.
  const chainBlocks = stack.devnet.chain.tipHeight() - stack.startHeight;
  const acceptedBlocks = blockEvents.filter((e) => e.event === "block_found" && e.data.accepted);
  assert.equal(acceptedBlocks.length, chainBlocks, "accepted block_found events vs devnet blocks");
  assert.equal(await poolMetric(stack, "ckpool_blocks_found_total"), chainBlocks);

  // PostgreSQL holds exactly the stream's events, once each.
  const rows = await sql`SELECT event_id::text AS id, event_type FROM mining_events`;
  const stored = new Map(rows.map((row) => [row.id as string, row.event_type as string]));
  assert.equal(stored.size, rows.length, "mining_events holds an event_id twice");
  const missing = [...events.keys()].filter((id) => !stored.has(id));
  const extra = [...stored.keys()].filter((id) => !events.has(id));
  assert.deepEqual(
    { missing: missing.slice(0, 5), extra: extra.slice(0, 5) },
    { missing: [], extra: [] },
    `mining_events vs JetStream (${missing.length} missing, ${extra.length} extra)`,
  );
  const perType = countBy(events.values(), (event) => event.event);
  assert.deepEqual(sortedObject(countBy(stored.values(), (type) => type)), sortedObject(perType));

  const shareRows = await sql`SELECT "user", worker, accepted, count(*)::int AS n
    FROM shares GROUP BY 1, 2, 3`;
  const pgCounts = new Map<string, ShareCounts>(
    rigs.map((rig) => [workerKey(rig.user, rig.worker), { accepted: 0, rejected: 0 }]),
  );
  for (const row of shareRows) {
    const counts = pgCounts.get(workerKey(row.user, row.worker));
    assert.ok(counts, `shares of an unknown worker ${row.user}.${row.worker}`);
    if (row.accepted) counts.accepted = row.n;
    else counts.rejected = row.n;
  }
  assert.deepEqual(sortedObject(pgCounts), sortedObject(minerCounts), "shares view vs miners");
  const minerRows = await sql`SELECT "user", worker, shares_accepted::int AS a,
    shares_rejected::int AS r FROM miners`;
  const summaryCounts = new Map(
    minerRows.map((row) => [workerKey(row.user, row.worker), { accepted: row.a, rejected: row.r }]),
  );
  assert.deepEqual(sortedObject(summaryCounts), sortedObject(minerCounts), "miners vs miners");
  const blockRows = await sql`SELECT hash, event_id::text AS id, accepted FROM blocks`;
  assert.deepEqual(
    blockRows.map((row) => row.hash as string).sort(),
    blockEvents.map((e) => e.event === "block_found" ? e.data.hash : "").sort(),
    "blocks table vs block_found events",
  );
  assert.equal(blockRows.filter((row) => row.accepted).length, chainBlocks);

  // Redis: the same counts.
  for (const [key, counts] of minerCounts) {
    const hash = await rc.hgetall(key);
    assert.deepEqual(
      { accepted: Number(hash.shares_accepted ?? 0), rejected: Number(hash.shares_rejected ?? 0) },
      counts,
      `Redis ${key} counters`,
    );
  }
  for (const type of ALL_EVENT_TYPES) {
    assert.equal(await rc.xlen(`tbg:stream:${type}`), perType.get(type) ?? 0, `tbg:stream:${type}`);
  }
  // The settled record: every message of the stream (copies included) settled, in a few keys.
  assert.deepEqual(await keysMatching(rc, "tbg:dedup:*"), [], "no per-event dedup keys");
  const settled = await keysMatching(rc, "tbg:settled:*");
  const floors = settled.filter((key) => key.endsWith(":floor"));
  assert.equal(floors.length, 1, `one settled record: ${settled.join(", ")}`);
  assert.ok(settled.length <= 3, `the floor and at most two chunks: ${settled.join(", ")}`);
  const lastSeq = (await jsm.streams.info(STREAM)).state.last_seq;
  assert.equal(Number(await rc.get(floors[0]!)), lastSeq, "every message settled in Redis");
  assert.equal(await rc.llen("tbg:blocks:recent"), Math.min(blockEvents.length, 100));
  return events;
}

/** Mines until `minShares` more shares are answered and `minBlocks` more blocks are found. */
async function mine(
  stack: Stack,
  what: string,
  minShares: number,
  minBlocks = 0,
  minMs = 0,
): Promise<void> {
  const shares = answered(stack.rigs) + minShares;
  const height = stack.devnet.chain.tipHeight() + minBlocks;
  const notBefore = Date.now() + minMs;
  await waitFor(what, (note) => {
    note(
      `answered ${answered(stack.rigs)}/${shares}, tip ${stack.devnet.chain.tipHeight()}/${height}`,
    );
    return answered(stack.rigs) >= shares && stack.devnet.chain.tipHeight() >= height &&
      Date.now() >= notBefore;
  }, 60_000);
}

function startMining(stack: Stack): void {
  for (const rig of stack.rigs) rig.miner.start();
}

async function canConnect(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

// --- the test ------------------------------------------------------------------------------------

Deno.test({
  name: "pool events reach PostgreSQL and Redis exactly once, through duplicates and outages",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    let stack: Stack | undefined;
    const step = async (name: string, body: (stack: Stack) => Promise<void>) => {
      const passed = await t.step(name, () => body(stack!));
      if (!passed) throw new Error(`step failed: ${name}`);
    };
    try {
      stack = await startStack();

      await step("miners find blocks; every share and block event lands once", async (stack) => {
        startMining(stack);
        await mine(stack, "300 answered shares and a block", 300, 1);
        await stopMining(stack.rigs);
        const events = await assertPipelineExact(stack);
        const blocks = [...events.values()].filter((e) => e.event === "block_found");
        assert.ok(blocks.length >= 1, "a block_found event");
      });

      await step(
        "a duplicate publish, inside and outside the window, counts once",
        async (stack) => {
          const messages = await readStream(stack);
          const picked = messages.filter((m) => m.event.event === "block_found")
            .concat(messages.filter((m) => m.event.event === "share_submitted").slice(-40))
            .concat(messages.filter((m) => m.event.event === "miner_connected"));
          const dedup = stack.collector.metrics.dedupHits;
          const [pgHits, redisHits] = [dedup.postgres.value, dedup.redis.value];
          const before = (await stack.jsm.streams.info(STREAM)).state.messages;
          for (const { subject, data, msgId } of picked) {
            const again = await stack.js.publish(subject, data, { msgID: msgId });
            assert.equal(again.duplicate, true, `JetStream drops a second ${msgId} in the window`);
          }
          assert.equal((await stack.jsm.streams.info(STREAM)).state.messages, before);
          // After the window JetStream would take the same event again; another msgID does that
          // now. By then the per-event dedup keys of the collectors before the settled record
          // would have expired (24 h): none may be needed.
          for (const key of await keysMatching(stack.rc, "tbg:dedup:*")) await stack.rc.del(key);
          for (const { subject, event, data } of picked) {
            const replayId = `${event.event_id}-replay`;
            stack.replayMsgIds.add(replayId);
            const ack = await stack.js.publish(subject, data, { msgID: replayId });
            assert.equal(ack.duplicate, false);
          }
          assert.equal(
            (await stack.jsm.streams.info(STREAM)).state.messages,
            before + picked.length,
          );
          await assertPipelineExact(stack);
          assert.equal(dedup.postgres.value - pgHits, picked.length, "PostgreSQL dedup hits");
          assert.equal(dedup.redis.value - redisHits, picked.length, "Redis dedup hits");
        },
      );

      await step(
        "nats-server stopped while miners submit: every event arrives once, in order",
        async (stack) => {
          startMining(stack);
          await mine(stack, "shares before the outage", 40);
          const spooledBefore = await poolMetric(stack, "ckpool_events_spooled_total");
          const answeredBefore = answered(stack.rigs);
          stack.nats.kill("SIGTERM");
          await waitFor("nats-server to stop", async () => !(await canConnect(stack.nats.port)));
          await mine(stack, "shares during the outage", 100, 0, 3_000);
          await waitFor("the pool to spool events", async (note) => {
            const spooled = await poolMetric(stack, "ckpool_events_spooled_total");
            note(`spooled ${spooled - spooledBefore}`);
            return spooled - spooledBefore >= 100;
          });
          const answeredDuring = answered(stack.rigs) - answeredBefore;
          await stack.nats.restart();
          await mine(stack, "shares after the outage", 40);
          await stopMining(stack.rigs);
          await assertPipelineExact(stack);
          assert.ok(answeredDuring >= 100, `${answeredDuring} shares answered during the outage`);
        },
      );

      await step(
        "PostgreSQL killed while miners submit: nothing lost, nothing doubled",
        async (stack) => {
          startMining(stack);
          await mine(stack, "shares before the outage", 40);
          stack.pg.kill("SIGKILL");
          await waitFor(
            "the collector to see PostgreSQL down",
            () => stack.collector.metrics.backendUp.postgres.value === 0,
          );
          await mine(stack, "shares during the outage", 100, 0, 3_000);
          const held = await stack.jsm.consumers.info(STREAM, EVENT_PIPELINE_DURABLE);
          assert.ok(held.num_pending + held.num_ack_pending > 0, "events wait in JetStream");
          await stack.pg.restart();
          await mine(stack, "shares after the outage", 40);
          await stopMining(stack.rigs);
          await assertPipelineExact(stack);
          assert.equal(stack.collector.metrics.backendUp.postgres.value, 1);
        },
      );

      await step(
        "redis-server killed while miners submit: nothing lost, nothing doubled",
        async (stack) => {
          startMining(stack);
          await mine(stack, "shares before the outage", 40);
          stack.redis.kill("SIGKILL");
          await waitFor(
            "the collector to see Redis down",
            () => stack.collector.metrics.backendUp.redis.value === 0,
          );
          await mine(stack, "shares during the outage", 100, 0, 3_000);
          const held = await stack.jsm.consumers.info(STREAM, EVENT_PIPELINE_DURABLE);
          assert.ok(held.num_pending + held.num_ack_pending > 0, "events wait in JetStream");
          await stack.redis.restart();
          await mine(stack, "shares after the outage", 40);
          await stopMining(stack.rigs);
          await assertPipelineExact(stack);
          assert.equal(stack.collector.metrics.backendUp.redis.value, 1);
        },
      );
    } catch (error) {
      if (stack !== undefined) {
        const tail = [
          `--- collector log ---`,
          ...stack.collectorLog.lines.slice(-30),
          `--- pool log ---`,
          ...stack.pool.logs.slice(-30).map((line) => JSON.stringify(line)),
        ].join("\n");
        await Deno.stderr.write(new TextEncoder().encode(`${tail}\n`));
      }
      throw error;
    } finally {
      await closeStack();
    }
  },
});
