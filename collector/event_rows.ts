/**
 * Rows of the multi-row `mining_events` insert, built once per batch.
 *
 * The insert passes the whole batch as one JSON text parameter to `jsonb_to_recordset()`, so a
 * batch of any size is one statement with one parameter (no parameter-count limit, one plan).
 * Measured here against one array per column through `unnest()`: the same server time and about
 * half the client CPU.
 *
 * @module
 */
import type { MiningEvent } from "@tbg/shared/events";

const MICROS_PER_MS = 1000;

/**
 * Formats microseconds since the Unix epoch as an exact ISO 8601 UTC timestamp, so PostgreSQL
 * stores the same `ts` on every redelivery (the primary key is `(event_id, ts)`).
 *
 * @param timestampUs Non-negative integer microseconds since the epoch.
 * @returns e.g. `2024-05-24T13:20:00.123456Z`.
 * @throws {RangeError} If the value is negative, not an integer, or beyond the Date range.
 */
export function microsToIso(timestampUs: number): string {
  if (!Number.isSafeInteger(timestampUs) || timestampUs < 0) {
    throw new RangeError(
      `Cannot format timestamp: ${timestampUs} is not a non-negative integer of microseconds`,
    );
  }
  const ms = Math.floor(timestampUs / MICROS_PER_MS);
  const iso = new Date(ms).toISOString();
  const micros = String(timestampUs % MICROS_PER_MS).padStart(3, "0");
  return `${iso.slice(0, -1)}${micros}Z`;
}

/** One `mining_events` row as it travels in the insert's JSON parameter. */
export interface EventRow {
  /** `event_id`. */
  readonly i: string;
  /** `event_type`. */
  readonly t: string;
  /** `region` (the envelope's). */
  readonly r: string;
  /** `source`: the emitting instance. */
  readonly s: string;
  /** `ts`: the envelope timestamp, exact to the microsecond. */
  readonly ts: string;
  /** `payload`: the envelope's `data`. */
  readonly p: unknown;
}

/**
 * The rows of a batch as one JSON array text, read on the server with `jsonb_to_recordset`.
 *
 * @param events Parsed events.
 * @returns `[{"i":…,"t":…,"r":…,"s":…,"ts":…,"p":{…}}, …]`, in the order of `events`.
 */
export function eventRowsJson(events: readonly MiningEvent[]): string {
  const rows: EventRow[] = events.map((event) => ({
    i: event.event_id,
    t: event.event,
    r: event.region,
    s: event.source,
    ts: microsToIso(event.timestamp),
    p: event.data,
  }));
  return JSON.stringify(rows);
}
