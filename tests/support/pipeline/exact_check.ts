/**
 * The pipeline's full check: after the pool has handed every event to JetStream and the
 * collector has acknowledged the whole stream, four independent counts must agree exactly —
 * what the miners saw answered (per worker, accepted and rejected), what the pool counted (its
 * Prometheus metrics) and found (the devnet's chain), what JetStream holds (every event once, in
 * order per subject), and what PostgreSQL (mining_events, shares, blocks, miners) and Redis
 * (worker counters, streams, the settled record: every message of the stream settled, no key
 * per event, recent blocks) hold.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ALL_EVENT_TYPES, type MiningEvent, parseEvent } from "@tbg/shared/events";
import { EVENT_PIPELINE_DURABLE, MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { workerKey } from "@tbg/collector";
import { poolMetric, type Stack, waitFor } from "./stack.ts";
import { keysMatching } from "../redis_keys.ts";
import type { Devnet } from "../devnet/mod.ts";

const STREAM = MINING_EVENTS_STREAM_NAME;

// --- what JetStream holds -----------------------------------------------------------------------

export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string;
  /** The message body as stored. */
  readonly data: Uint8Array;
  readonly event: MiningEvent;
}

/** Every message of the stream, in stream order, read with an ordered consumer. */
export async function readStream(stack: Pick<Stack, "js" | "jsm">): Promise<StoredMessage[]> {
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

/** Where the pool's own counters started, when its process was restarted mid-test. */
export interface PoolCounterBaseline {
  /** Shares the miners saw accepted before the current pool process started. */
  readonly accepted: number;
  /** Shares the miners saw rejected before it started. */
  readonly rejected: number;
  /** The devnet's tip height when it started. */
  readonly height: number;
}

/**
 * Waits until the pool has handed every event to JetStream and the collector has acknowledged
 * everything in the stream, then checks that the miners, the pool, JetStream, PostgreSQL and
 * Redis all agree, exactly.
 *
 * @param baseline the miners' counts and the tip when the pool process started, if it was
 *   restarted (its metrics count from there); the test's start by default.
 * @param node the node whose chain holds every block the pool found (the standby node when the
 *   first was down while blocks were found); the stack's devnet by default.
 * @returns The distinct events in the stream.
 */
export async function assertPipelineExact(
  stack: Stack,
  baseline: PoolCounterBaseline = { accepted: 0, rejected: 0, height: stack.startHeight },
  node: Devnet = stack.devnet,
): Promise<Map<string, MiningEvent>> {
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
  assert.equal(
    await poolMetric(stack, "ckpool_shares_total", { valid: "true" }),
    totalAccepted - baseline.accepted,
    "accepted shares the current pool process counted",
  );
  assert.equal(
    await poolMetric(stack, "ckpool_shares_total", { valid: "false" }),
    totalRejected - baseline.rejected,
    "rejected shares the current pool process counted",
  );

  // Blocks: the devnet's chain ↔ the pool ↔ JetStream.
  const chainBlocks = node.chain.tipHeight() - stack.startHeight;
  const acceptedBlocks = blockEvents.filter((e) => e.event === "block_found" && e.data.accepted);
  assert.equal(acceptedBlocks.length, chainBlocks, "accepted block_found events vs devnet blocks");
  assert.equal(
    await poolMetric(stack, "ckpool_blocks_found_total"),
    node.chain.tipHeight() - baseline.height,
    "blocks the current pool process found",
  );

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
