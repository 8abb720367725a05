/**
 * Reads back where a region's events are (its leaf's edge stream, the hub's MINING_EVENTS,
 * PostgreSQL) so the scenarios can prove convergence: every event once, in order, nothing lost,
 * and as many share events as the miners got answers.
 *
 * @module
 */
import type { NatsConnection } from "nats";
import { DeliverPolicy, jetstream, jetstreamManager } from "nats/jetstream";
import type postgres from "postgres";
import { parseEvent } from "@tbg/shared/events";
import type { HubEvent } from "../event_convergence.ts";

const READ_BATCH = 1_000;
const DEFAULT_TIMEOUT_MS = 30_000;

/** Parses `Nats-Stream-Source: <stream>:<hash> <seq>` (nats-server 2.9 form). */
function parseSourceHeader(value: string): { stream: string; seq: number } | undefined {
  const match = /^([^:\s]+)(?::\S*)?\s+(\d+)/.exec(value);
  if (match === null) return undefined;
  return { stream: match[1] as string, seq: Number(match[2]) };
}

/**
 * Every message of `stream` on `subject` (wildcards allowed), in stream order, read with an
 * ordered consumer (thousands per second, unlike one request per sequence).
 *
 * @param nc A connection to the server holding the stream.
 * @param stream Stream name.
 * @param subject Subject filter, e.g. `mining.events.us-east.>`.
 * @param timeoutMs Longest time for the whole read.
 * @returns The messages as {@link HubEvent}s (source fields set when the message was sourced).
 * @throws {Error} If the messages counted at the start do not all arrive in time.
 */
export async function readStreamEvents(
  nc: NatsConnection,
  stream: string,
  subject: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<HubEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  const expected = Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  const out: HubEvent[] = [];
  if (expected === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream, {
    filter_subjects: subject,
    deliver_policy: DeliverPolicy.All,
  });
  const deadline = Date.now() + timeoutMs;
  while (out.length < expected) {
    if (Date.now() > deadline) {
      throw new Error(`Cannot read ${stream} ${subject}: ${out.length} of ${expected} in time`);
    }
    const batch = await consumer.fetch({
      max_messages: Math.min(READ_BATCH, expected - out.length),
      expires: 2_000,
    });
    for await (const message of batch) {
      const source = message.headers?.get("Nats-Stream-Source");
      const parsed = source ? parseSourceHeader(source) : undefined;
      out.push({
        seq: message.seq,
        subject: message.subject,
        msgId: message.headers?.get("Nats-Msg-Id") || undefined,
        eventId: parseEvent(message.data).event_id,
        sourceStream: parsed?.stream,
        sourceSeq: parsed?.seq,
      });
    }
  }
  await consumer.delete().catch(() => {});
  return out;
}

/** A region's events in PostgreSQL. */
export interface PersistedCounts {
  /** Rows. */
  readonly rows: number;
  /** Distinct event ids. */
  readonly distinctIds: number;
}

/** Rows and distinct event ids of one region in `mining_events`. */
export async function persistedCounts(
  sql: postgres.Sql,
  region: string,
): Promise<PersistedCounts> {
  const [row] = await sql<{ rows: string; ids: string }[]>`
    SELECT count(*)::int8 AS rows, count(DISTINCT event_id)::int8 AS ids
    FROM mining_events WHERE region = ${region}`;
  return { rows: Number(row?.rows ?? 0), distinctIds: Number(row?.ids ?? 0) };
}

/** Event ids of one region in `mining_events` (each once if the pipeline is right). */
export async function persistedIds(sql: postgres.Sql, region: string): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT event_id::text AS id FROM mining_events WHERE region = ${region}`;
  return rows.map((row) => row.id);
}

/**
 * share_submitted events in PostgreSQL per worker name. The simulation names every miner's
 * worker uniquely; session ids (extranonce1) are not unique across a pool restart.
 */
export async function persistedSharesByWorker(
  sql: postgres.Sql,
  workers: readonly string[],
): Promise<Map<string, number>> {
  const rows = await sql<{ worker: string; n: string }[]>`
    SELECT payload->>'worker' AS worker, count(*)::int8 AS n
    FROM mining_events
    WHERE event_type = 'share_submitted' AND payload->>'worker' = ANY(${[...workers]})
    GROUP BY 1`;
  const out = new Map(workers.map((worker) => [worker, 0]));
  for (const row of rows) out.set(row.worker, Number(row.n));
  return out;
}
