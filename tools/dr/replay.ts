/**
 * Replays from JetStream what a restored PostgreSQL lacks: the collector's durable consumer is
 * deleted and created again, the same but delivering from the first hub stream sequence the
 * restored database may not hold ({@link replayStartSequence}). The collector, started after, reads
 * from there; PostgreSQL skips the events it already holds (`ON CONFLICT` on `event_id`) and
 * Redis's settled record skips what the restored snapshot holds, and reads back what the snapshot
 * lacks below the new start (collector/PIPELINE.md), so every event ends stored and applied once.
 *
 * Run it with every collector of the durable stopped: a collector pulling while its consumer is
 * re-created would lose its pull and could acknowledge into the new one.
 *
 * @module
 */
import type postgres from "postgres";
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
} from "nats/jetstream";
import { consumerConfig, MAX_ACK_PENDING } from "@tbg/shared/nats";
import { replayStartSequence, replayWindowStart } from "./replay_start.ts";

/** What to re-create. */
export interface ReplayTarget {
  /** The hub stream (MINING_EVENTS). */
  readonly stream: string;
  /** The collectors' durable name (event-pipeline). */
  readonly durable: string;
  /** The consumer's subject filter (`mining.events.>` or one region's). */
  readonly filter: string;
  /** Only this region's rows count as held (a collector with `region_filter`); all when absent. */
  readonly region?: string;
  /** The consumer's max_ack_pending (default the project's, {@link MAX_ACK_PENDING}). */
  readonly window?: number;
}

/** The replay decided from the restored database and the stream. */
export interface ReplayPlan extends ReplayTarget {
  /** Highest `stream_seq` the restored database holds (null: none). */
  readonly maxHeld: number | null;
  /** First sequence the new consumer delivers. */
  readonly start: number;
  /** The stream's last sequence now. */
  readonly streamLastSeq: number;
  /** Messages from `start` to the stream's end (what the collector will read again, at most). */
  readonly toReplay: number;
  /** The existing consumer's acknowledged floor, or null when it does not exist. */
  readonly ackFloor: number | null;
  /** Pull requests waiting on the existing consumer (a collector still running). */
  readonly waiting: number;
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/**
 * Reads the restored database's highest sequence and the window below it, and the stream's and
 * consumer's state.
 *
 * @param sql The restored database.
 * @param jsm The hub's JetStream manager.
 * @param target Stream, durable, filter, region.
 * @returns The plan; nothing is changed.
 * @throws {Error} If the stream does not exist.
 */
export async function planReplay(
  sql: postgres.Sql,
  jsm: JetStreamManager,
  target: ReplayTarget,
): Promise<ReplayPlan> {
  const window = target.window ?? MAX_ACK_PENDING;
  const region = target.region ?? null;
  const [top] = await sql<{ max: string | null }[]>`
    SELECT max(stream_seq)::text AS max FROM mining_events
    WHERE ${region}::text IS NULL OR region = ${region}`;
  const maxHeld = top?.max === null || top?.max === undefined ? null : Number(top.max);
  let held: number[] = [];
  if (maxHeld !== null) {
    const rows = await sql<{ seq: string }[]>`
      SELECT DISTINCT stream_seq::text AS seq FROM mining_events
      WHERE stream_seq BETWEEN ${replayWindowStart(maxHeld, window)} AND ${maxHeld}
        AND (${region}::text IS NULL OR region = ${region})`;
    held = rows.map((row) => Number(row.seq));
  }
  const start = replayStartSequence(maxHeld, held, window);
  let streamLastSeq: number;
  try {
    streamLastSeq = (await jsm.streams.info(target.stream)).state.last_seq;
  } catch (error) {
    if (isApiError(error, JetStreamApiCodes.StreamNotFound)) {
      throw new Error(`Cannot plan the replay: the hub has no stream "${target.stream}"`);
    }
    throw error;
  }
  let ackFloor: number | null = null;
  let waiting = 0;
  try {
    const info = await jsm.consumers.info(target.stream, target.durable);
    ackFloor = info.ack_floor.stream_seq;
    waiting = info.num_waiting;
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
  }
  return {
    ...target,
    window,
    maxHeld,
    start,
    streamLastSeq,
    toReplay: Math.max(0, streamLastSeq - start + 1),
    ackFloor,
    waiting,
  };
}

/**
 * Deletes the durable consumer (if it exists) and creates it again delivering from the plan's
 * start, with the collectors' settings otherwise.
 *
 * @param jsm The hub's JetStream manager.
 * @param plan From {@link planReplay}.
 * @throws {Error} If a client was pulling from the consumer (stop the collectors first).
 */
export async function applyReplay(jsm: JetStreamManager, plan: ReplayPlan): Promise<void> {
  if (plan.waiting > 0) throw new Error(waitingMessage(plan));
  if (plan.ackFloor !== null) await jsm.consumers.delete(plan.stream, plan.durable);
  await jsm.consumers.add(plan.stream, {
    ...consumerConfig(plan.durable, plan.filter),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: plan.start,
  });
}

/** Why a plan with pull requests waiting cannot be applied. */
export function waitingMessage(plan: ReplayPlan): string {
  return `Cannot re-create consumer "${plan.durable}": ${plan.waiting} pull request(s) are ` +
    "waiting on it; stop every collector using it first";
}

/** One line saying what the plan does. */
export function describeReplay(plan: ReplayPlan): string {
  const held = plan.maxHeld === null
    ? "the restored database holds no stream sequence"
    : `the restored database holds stream sequences up to ${plan.maxHeld}`;
  const before = plan.ackFloor === null
    ? "(consumer absent)"
    : `(consumer acknowledged up to ${plan.ackFloor})`;
  return `${held}; re-creating consumer "${plan.durable}" on ${plan.stream} ${before} from ` +
    `sequence ${plan.start}: up to ${plan.toReplay} message(s) to replay (stream last ${plan.streamLastSeq})`;
}
