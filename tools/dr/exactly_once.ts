/**
 * The drill's exactly-once audit after the recovery: every event id the hub's MINING_EVENTS holds
 * (what was published and survived) is in PostgreSQL once, PostgreSQL holds nothing else, and
 * each event type's Redis Stream has one entry per stored event of that type (the collector
 * appends every applied event once; a snapshot restore plus replay must neither drop nor repeat
 * one).
 *
 * @module
 */
import type { NatsConnection } from "nats";
import type postgres from "postgres";
import { Redis } from "ioredis";
import { MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { readStreamEvents } from "../../tests/support/sim/event_audit.ts";

/** Published ids against stored ids. */
export interface IdComparison {
  /** Distinct ids published. */
  readonly published: number;
  /** Published ids not stored. */
  readonly missing: readonly string[];
  /** Stored ids never published. */
  readonly extra: readonly string[];
  /** Stored rows beyond one per id. */
  readonly duplicates: number;
}

/** Compares published event ids with stored ones (pure). */
export function compareIds(
  published: readonly string[],
  stored: readonly string[],
): IdComparison {
  const publishedSet = new Set(published);
  const storedSet = new Set(stored);
  return {
    published: publishedSet.size,
    missing: [...publishedSet].filter((id) => !storedSet.has(id)),
    extra: [...storedSet].filter((id) => !publishedSet.has(id)),
    duplicates: stored.length - storedSet.size,
  };
}

/** One event type whose Redis Stream length differs from its PostgreSQL count. */
export interface RedisMismatch {
  readonly type: string;
  readonly postgres: number;
  readonly redis: number;
}

/** The audit's outcome. */
export interface ExactnessReport extends IdComparison {
  /** Messages in the hub stream (an id twice there is a copy the pipeline must store once). */
  readonly hubMessages: number;
  /** Rows in `mining_events`. */
  readonly rows: number;
  /** Event types checked in Redis. */
  readonly redisTypes: number;
  readonly redisMismatches: readonly RedisMismatch[];
  /** Nothing missing, extra or doubled in PostgreSQL, and Redis agrees. */
  readonly ok: boolean;
}

/**
 * Runs the audit (call it once the pipeline has drained).
 *
 * @param hub A connection to the hub.
 * @param sql The (restored) PostgreSQL.
 * @param redisUrl The (restored) Redis.
 */
export async function auditExactlyOnce(
  hub: NatsConnection,
  sql: postgres.Sql,
  redisUrl: string,
): Promise<ExactnessReport> {
  const events = await readStreamEvents(hub, MINING_EVENTS_STREAM_NAME, "mining.events.>", 60_000);
  const rows = await sql<{ id: string }[]>`SELECT event_id::text AS id FROM mining_events`;
  const ids = compareIds(events.map((e) => e.eventId), rows.map((r) => r.id));
  const perType = await sql<{ type: string; n: string }[]>`
    SELECT event_type AS type, count(*)::int8 AS n FROM mining_events GROUP BY 1 ORDER BY 1`;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  const redisMismatches: RedisMismatch[] = [];
  try {
    await redis.connect();
    for (const { type, n } of perType) {
      const length = await redis.xlen(`tbg:stream:${type}`);
      if (length !== Number(n)) {
        redisMismatches.push({ type, postgres: Number(n), redis: length });
      }
    }
  } finally {
    redis.disconnect();
  }
  return {
    ...ids,
    hubMessages: events.length,
    rows: rows.length,
    redisTypes: perType.length,
    redisMismatches,
    ok: ids.missing.length === 0 && ids.extra.length === 0 && ids.duplicates === 0 &&
      redisMismatches.length === 0,
  };
}

/** The audit as printable lines. */
export function describeExactness(report: ExactnessReport): string[] {
  const lines = [
    `hub MINING_EVENTS: ${report.hubMessages} messages, ${report.published} distinct event ids`,
    `PostgreSQL mining_events: ${report.rows} rows; missing ${report.missing.length}, ` +
    `not published ${report.extra.length}, doubled ${report.duplicates}`,
    `Redis Streams: ${report.redisTypes - report.redisMismatches.length} of ${report.redisTypes} ` +
    "event types hold one entry per stored event",
  ];
  for (const m of report.redisMismatches) {
    lines.push(`  ${m.type}: PostgreSQL ${m.postgres}, Redis Stream ${m.redis}`);
  }
  if (report.missing.length > 0) lines.push(`  missing e.g. ${report.missing.slice(0, 5)}`);
  if (report.extra.length > 0) lines.push(`  not published e.g. ${report.extra.slice(0, 5)}`);
  lines.push(`exactly once: ${report.ok ? "yes" : "NO"}`);
  return lines;
}
