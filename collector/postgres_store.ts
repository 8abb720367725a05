/**
 * Writes batches of events to PostgreSQL: the raw events, and from only the newly inserted ones
 * the `blocks`, `miners` and `worker_hourly` rows, all in one transaction. A batch goes in by
 * `COPY`, which stores all of it or nothing: when any event is stored already (a redelivery, a
 * retry after a lost commit reply) it fails and the batch goes in by an insert that is idempotent
 * on `(event_id, ts)`, with the summaries from its `RETURNING` list, so writing the same batch
 * twice changes nothing.
 *
 * Each row also records the hub stream sequence it was stored from (`stream_seq`); for the events
 * that were already stored, the write reads back that sequence (by primary key, in the same
 * transaction, only when there are such events), which tells a redelivery of the same message
 * from a copy published again under a new sequence.
 *
 * @module
 */
import postgres from "postgres";
import type { MiningEvent } from "@tbg/shared/events";
import { isConnectionLoss, transaction } from "@tbg/shared/postgres";
import { aggregateBatch, type BatchAggregates } from "./aggregates.ts";
import { eventRowsCopy, eventRowsJson, microsToIso } from "./event_rows.ts";
import { summaryDeltaArrays } from "./summary_delta.ts";

/** The postgres.js client type used throughout the collector. */
export type Sql = postgres.Sql<Record<string, never>>;

/** An event PostgreSQL refused as data, with the reason. */
export interface RejectedEvent {
  /** The event. */
  readonly event: MiningEvent;
  /** What PostgreSQL answered. */
  readonly error: unknown;
}

/** Outcome of {@link PostgresStore.write}. */
export interface PostgresWriteResult {
  /** Ids of the events this write inserted (the others were already stored). */
  readonly insertedIds: ReadonlySet<string>;
  /**
   * For each event that was already stored: the `stream_seq` it was stored with (null for rows
   * written before migration 005 or without a sequence).
   */
  readonly storedSeqs: ReadonlyMap<string, number | null>;
  /** Events refused as data (e.g. a string PostgreSQL cannot store); never retried. */
  readonly rejected: readonly RejectedEvent[];
}

/** Settings of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** Pool size. Default 4. */
  readonly maxConnections?: number;
  /** Seconds to wait for a connection. Default 5. */
  readonly connectTimeoutS?: number;
  /** Receives server notices (e.g. from partition upkeep). */
  readonly onNotice?: (notice: Record<string, unknown>) => void;
}

/**
 * Seconds postgres.js waits before reopening a connection that failed, however many failed.
 * Its default delay grows with every failed connect of the pool (3^n / 100 s, capped at 20 s)
 * and a query waits it out on the connection it picked, so after an outage of a few seconds the
 * batches resumed 4 to 20 s after PostgreSQL was back, although the collector retries at most
 * 5 s apart. The collector paces its own retries; this short constant delay only keeps a server
 * that drops every connection from being reconnected in a tight loop.
 */
export const RECONNECT_DELAY_S = 0.05;

const SQLSTATE_DATA_EXCEPTION_CLASS = "22";
const SQLSTATE_PROGRAM_LIMIT_CLASS = "54";
const SQLSTATE_UNDEFINED_FUNCTION = "42883";
const SQLSTATE_IN_FAILED_TRANSACTION = "25P02";

/**
 * Longest wait of the retention job for its locks. Dropping a partition takes an ACCESS EXCLUSIVE
 * lock on `mining_events`, and while the DROP waits for it (behind a long dashboard query, say)
 * every insert queues behind the DROP; past this the job gives up (SQLSTATE 55P03) and the
 * collector tries again later, so event writes stall for at most this long.
 */
export const RETENTION_LOCK_TIMEOUT_MS = 1_000;

function sqlState(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== "PostgresError") return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Tells whether PostgreSQL refused the statement because of the values in it (bad text, a value
 * out of range, an oversized row) rather than because it is unreachable, overloaded or not
 * migrated. Such a batch is split to find the refused events; anything else is retried.
 *
 * @param error What a query threw.
 * Constraint violations (class 23) are not included: the collector's statements cannot violate
 * the schema's constraints with valid events, so one means the schema and the code disagree, and
 * dropping events over it would lose data; such batches are retried (and logged) instead.
 *
 * @returns `true` for SQLSTATE class 22 (data exception) and class 54 (program limit exceeded).
 */
export function isDataError(error: unknown): boolean {
  const code = sqlState(error);
  if (code === undefined) return false;
  return code.startsWith(SQLSTATE_DATA_EXCEPTION_CLASS) ||
    code.startsWith(SQLSTATE_PROGRAM_LIMIT_CLASS);
}

/** A lost connection reported by the server (SQLSTATE 08 or 57P), not by the socket. */
function isServerConnectionLoss(error: unknown): boolean {
  return sqlState(error) !== undefined && isConnectionLoss(error);
}

/** What one transaction inserted, and the stored sequences of the events it did not insert. */
interface TransactionResult {
  readonly inserted: readonly string[];
  readonly stored: ReadonlyMap<string, number | null>;
}

/**
 * `stream_seq` of stored events, looked up by primary key `(event_id, ts)`.
 *
 * @param tx The transaction that found them already stored.
 * @param events Events that are stored.
 * @returns Their stored sequences by event id (null where the row has none).
 */
async function storedSeqs(
  tx: Sql,
  events: readonly MiningEvent[],
): Promise<Map<string, number | null>> {
  const keys = JSON.stringify(
    events.map((e) => ({ i: e.event_id, ts: microsToIso(e.timestamp) })),
  );
  const rows = await tx<{ id: string; q: string | null }[]>`
    SELECT m.event_id::text AS id, m.stream_seq::text AS q
    FROM json_to_recordset(${keys}::text::json) AS x(i uuid, ts timestamptz)
    JOIN mining_events AS m ON m.event_id = x.i AND m.ts = x.ts`;
  return new Map(rows.map((row) => [row.id, row.q === null ? null : Number(row.q)]));
}

/** The Writable postgres.js hands out for `COPY … FROM STDIN`. */
interface CopyStream {
  _final(callback: (error?: Error | null) => void): void;
  once(event: "error", listener: (error: Error) => void): unknown;
  end(chunk: string): unknown;
}

/**
 * Sends `text` as the whole input of a `COPY … FROM STDIN` and returns once postgres.js has sent
 * the end of the input (CopyDone), not when the COPY's outcome is known.
 *
 * postgres.js reports a COPY that the server refuses only to the stream, and only while the
 * stream is open: once the input is complete the refusal is dropped and the stream never finishes
 * (postgres.js 3.4.9). The caller learns the outcome from the next statement it sends on the same
 * connection, which runs after the COPY: it fails with SQLSTATE 25P02 (transaction aborted) when
 * the COPY failed ({@link PostgresStore}'s `#copyOnce`).
 */
async function copySent(stream: CopyStream, text: string): Promise<void> {
  const sent = new Promise<void>((resolve, reject) => {
    const final = stream._final.bind(stream);
    stream._final = (callback) => {
      final(callback);
      resolve();
    };
    stream.once("error", reject);
  });
  stream.end(text);
  await sent;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** PostgreSQL side of the pipeline. */
export class PostgresStore {
  /** The client; also used for migrations and partition upkeep. */
  readonly sql: Sql;

  /**
   * Creates the pool; connections open on first use and reopen after failures.
   *
   * @param url `postgres://user:password@host:port/database`.
   * @param options Pool size, connect timeout, notice handler.
   */
  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.sql = postgres(url, {
      max: options.maxConnections ?? 4,
      connect_timeout: options.connectTimeoutS ?? 5,
      idle_timeout: 60,
      backoff: () => RECONNECT_DELAY_S,
      onnotice: options.onNotice ?? (() => {}),
    }) as unknown as Sql;
  }

  /**
   * Writes a batch in one transaction. When PostgreSQL refuses the batch as data, the batch is
   * split in halves until the refused events are isolated; the others are written (each part in
   * its own transaction, still idempotent).
   *
   * @param events Valid events, unique by `event_id`.
   * @param streamSeqs Hub stream sequence per event id, stored in `stream_seq` (null if absent).
   * @returns The ids inserted now, the stored sequences of the others, and the events refused.
   * @throws What the driver threw for any other failure (connection lost, server shutting down,
   *   tables missing); nothing of the failed transaction is kept, so the caller retries.
   */
  async write(
    events: readonly MiningEvent[],
    streamSeqs: ReadonlyMap<string, number> = new Map(),
  ): Promise<PostgresWriteResult> {
    const result = {
      insertedIds: new Set<string>(),
      storedSeqs: new Map<string, number | null>(),
      rejected: [] as RejectedEvent[],
    };
    if (events.length === 0) return result;
    // Sorted by id so concurrent collectors insert shared ids in the same order (no deadlock).
    const sorted = [...events].sort((a, b) => compareText(a.event_id, b.event_id));
    await this.#writeSplitting(sorted, streamSeqs, result);
    return result;
  }

  async #writeSplitting(
    events: readonly MiningEvent[],
    streamSeqs: ReadonlyMap<string, number>,
    result: {
      insertedIds: Set<string>;
      storedSeqs: Map<string, number | null>;
      rejected: RejectedEvent[];
    },
  ): Promise<void> {
    try {
      const written = await this.#transaction(events, streamSeqs);
      for (const id of written.inserted) result.insertedIds.add(id);
      for (const [id, seq] of written.stored) result.storedSeqs.set(id, seq);
    } catch (error: unknown) {
      if (!isDataError(error)) throw error;
      if (events.length === 1) {
        result.rejected.push({ event: events[0]!, error });
        return;
      }
      const half = Math.ceil(events.length / 2);
      await this.#writeSplitting(events.slice(0, half), streamSeqs, result);
      await this.#writeSplitting(events.slice(half), streamSeqs, result);
    }
  }

  async #transaction(
    events: readonly MiningEvent[],
    streamSeqs: ReadonlyMap<string, number>,
  ): Promise<TransactionResult> {
    try {
      return await this.#retryingConnectionLoss(() => this.#copyOnce(events, streamSeqs));
    } catch (error: unknown) {
      // Some event of the batch is stored already (a redelivery, a copy published again, a
      // collector racing this one), or PostgreSQL refused a value: COPY stored nothing, and the
      // insert that skips stored events and reports their sequences decides (and reports a
      // refused value itself, for the split).
      if (sqlState(error) !== SQLSTATE_IN_FAILED_TRANSACTION) throw error;
    }
    // One text parameter holding the whole batch as JSON: the cheapest encoding for the client
    // (one JSON.stringify, no array escaping) and a single parse on the server.
    const rows = eventRowsJson(events, streamSeqs);
    return await this.#retryingConnectionLoss(() => this.#insertOnce(events, rows));
  }

  async #retryingConnectionLoss(
    attempt: () => Promise<TransactionResult>,
  ): Promise<TransactionResult> {
    try {
      return await attempt();
    } catch (error: unknown) {
      if (!isServerConnectionLoss(error)) throw error;
      // postgres.js keeps the error a server sent on a connection that then closed, and fails
      // the first query of that connection's next socket with it (porsager/postgres#1223): after
      // a restart each connection terminated mid-query fails one write the server never saw.
      // One retry at once; when the server really is going away it fails fast as well.
      return await attempt();
    }
  }

  /**
   * The batch of fresh events, the common case: `COPY` (parsed field by field into the columns,
   * no statement to plan, no `RETURNING` list) and the summaries of every event. A stored event
   * makes the COPY fail with a unique violation and the transaction roll back whole.
   */
  async #copyOnce(
    events: readonly MiningEvent[],
    streamSeqs: ReadonlyMap<string, number>,
  ): Promise<TransactionResult> {
    const text = eventRowsCopy(events, streamSeqs);
    return await transaction(this.sql, async (tx) => {
      const stream = await tx`
        COPY mining_events (event_id, event_type, region, source, ts, payload, stream_seq)
        FROM STDIN`.writable();
      await copySent(stream as unknown as CopyStream, text);
      // The summary writes are the statements after the COPY that tell its outcome (see
      // copySent); a batch without any (only network events) sends `SELECT 1` for it instead.
      const queries = writeAggregates(tx as unknown as Sql, aggregateBatch(events));
      if (queries.length === 0) queries.push(tx`SELECT 1`.execute());
      await Promise.all(queries);
      return { inserted: events.map((e) => e.event_id), stored: new Map() };
    }) as TransactionResult;
  }

  async #insertOnce(
    events: readonly MiningEvent[],
    rows: string,
  ): Promise<TransactionResult> {
    return await transaction(this.sql, async (tx) => {
      const inserted = await tx<{ event_id: string }[]>`
        INSERT INTO mining_events (event_id, event_type, region, source, ts, payload, stream_seq)
        SELECT i, t, r, s, ts, p, q
        FROM jsonb_to_recordset(${rows}::text::jsonb)
          AS x(i uuid, t text, r text, s text, ts timestamptz, p jsonb, q int8)
        ON CONFLICT DO NOTHING
        RETURNING event_id`;
      const ids = inserted.map((row) => row.event_id);
      const fresh = new Set(ids);
      const queries: Promise<unknown>[] = [];
      let stored: Promise<Map<string, number | null>> = Promise.resolve(new Map());
      if (ids.length < events.length) {
        // The conflicting rows were committed (ON CONFLICT waits for a concurrent insert of the
        // same key to finish), so under READ COMMITTED this statement sees them.
        stored = storedSeqs(tx as unknown as Sql, events.filter((e) => !fresh.has(e.event_id)));
      }
      if (ids.length > 0) {
        const aggregates = aggregateBatch(events.filter((e) => fresh.has(e.event_id)));
        queries.push(...writeAggregates(tx as unknown as Sql, aggregates));
      }
      const [seqs] = await Promise.all([stored, ...queries]);
      return { inserted: ids, stored: seqs };
    }) as TransactionResult;
  }

  /**
   * Adds every committed `summary_deltas` row to `miners` and `worker_hourly` and deletes it, in
   * one transaction (`tbg_fold_summaries`, migration 006): each delta counts once.
   *
   * @param wait Wait for a fold running elsewhere to finish, then fold; when false, return -1 at
   *   once instead (that fold, or the next, takes the deltas).
   * @returns Deltas folded, or -1 when skipped.
   */
  async foldSummaries(wait = true): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`SELECT tbg_fold_summaries(${wait}) AS n`;
    return row?.n ?? 0;
  }

  /** Runs `SELECT 1`. @throws when PostgreSQL cannot be reached. */
  async ping(): Promise<void> {
    await this.sql`SELECT 1`;
  }

  /**
   * Calls `tbg_ensure_partitions(daysAhead)`, which creates the daily partitions of the coming
   * days (the migrations define it when TimescaleDB is not available).
   *
   * @returns `false` when the function does not exist (TimescaleDB manages chunks itself).
   * @throws Any other database error.
   */
  async ensurePartitions(daysAhead: number): Promise<boolean> {
    try {
      await this.sql`SELECT tbg_ensure_partitions(${daysAhead}::int)`;
      return true;
    } catch (error: unknown) {
      if (sqlState(error) === SQLSTATE_UNDEFINED_FUNCTION) return false;
      throw error;
    }
  }

  /**
   * Retention: calls `tbg_drop_partitions_older_than(days)` (migration 001), which drops the
   * daily partitions of `mining_events` that ended more than `days` days ago (under TimescaleDB,
   * the chunks) and deletes such rows from the DEFAULT partition, with a lock timeout of
   * {@link RETENTION_LOCK_TIMEOUT_MS}.
   *
   * @param days Days of raw events to keep (at least 1).
   * @returns Partitions (or chunks) dropped, or `null` when the function does not exist.
   * @throws Any other database error, including a lock timeout (SQLSTATE 55P03); nothing was
   *   dropped then.
   */
  async dropPartitionsOlderThan(days: number): Promise<number | null> {
    try {
      return await transaction(this.sql, async (tx) => {
        await tx.unsafe(`SET LOCAL lock_timeout = ${RETENTION_LOCK_TIMEOUT_MS}`);
        const [row] = await tx<{ n: number }[]>`
          SELECT tbg_drop_partitions_older_than(${days}::int) AS n`;
        return row?.n ?? 0;
      });
    } catch (error: unknown) {
      if (sqlState(error) === SQLSTATE_UNDEFINED_FUNCTION) return null;
      throw error;
    }
  }

  /** Closes the pool, letting queries in flight finish for up to `timeoutS` seconds. */
  async close(timeoutS = 5): Promise<void> {
    await this.sql.end({ timeout: timeoutS });
  }
}

/**
 * The summary writes of one batch, started at once (postgres.js pipelines them on the
 * transaction's connection): the `blocks` rows (JSON text read with `json_to_recordset`), and one
 * `summary_deltas` row with what the batch adds to `miners` and `worker_hourly`, which
 * {@link PostgresStore.foldSummaries} adds to those tables later (migration 007): one array
 * literal per field ({@link summaryDeltaArrays}), built here as text so postgres.js sends each as
 * one string instead of escaping element by element.
 */
function writeAggregates(tx: Sql, a: BatchAggregates): Promise<unknown>[] {
  const queries: Promise<unknown>[] = [];
  if (a.blocks.length > 0) {
    const rows = JSON.stringify(a.blocks.map((r) => ({
      h: r.hash,
      n: r.height,
      u: r.user,
      w: r.worker,
      s: r.rewardSats,
      g: r.region,
      a: r.accepted,
      j: r.rejectReason,
      f: microsToIso(r.foundAtUs),
      e: r.eventId,
    })));
    queries.push(tx`
      INSERT INTO blocks (hash, height, "user", worker, reward_sats, region, accepted,
        reject_reason, found_at, event_id)
      SELECT h, n, u, w, s, g, a, j, f, e
      FROM json_to_recordset(${rows}::text::json) AS x(h text, n int, u text, w text, s int8,
        g text, a bool, j text, f timestamptz, e uuid)
      ON CONFLICT DO NOTHING`.execute());
  }
  const delta = summaryDeltaArrays(a);
  if (delta !== null) {
    queries.push(tx`
      INSERT INTO summary_deltas (u, w, h, a, r, d, hb, f, ln, s, mb, g)
      VALUES (${delta.u}::text[], ${delta.w}::text[], ${delta.h}::int8[], ${delta.a}::int8[],
        ${delta.r}::int8[], ${delta.d}::float8[], ${delta.hb}::float8[], ${delta.f}::int8[],
        ${delta.ln}::text[], ${delta.s}::int8[], ${delta.mb}::float8[], ${delta.g}::text[])`
      .execute());
  }
  return queries;
}
