/**
 * The settled-record check (collector/PIPELINE.md, "The settled record"): run every few seconds,
 * it moves the floor over sequences the stream will never deliver to this consumer, and applies
 * messages the consumer acknowledged that this Redis has not settled, so the record stays a few
 * keys. One run at a time.
 *
 * @module
 */
import type { JetStreamManager, MsgRequest, StoredMsg } from "nats/jetstream";
import type { StructuredLogger } from "@tbg/shared/log";
import type { CollectorMetrics } from "./collector_metrics.ts";
import type { RedisStore } from "./redis_store.ts";
import type { StreamIdentity } from "./settled_record.ts";

/**
 * Most messages one check reads back from the stream and applies (one request each, so this
 * bounds a check to a few seconds); the next check goes on.
 */
export const SETTLED_REPAIR_MAX = 5_000;
/** Messages per batch when the check applies messages read back from the stream. */
const REPAIR_BATCH = 500;

/** A message to store: its hub stream sequence, subject and body. */
export interface Delivery {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
}

/** What a {@link SettledCheck} works with. */
export interface SettledCheckOptions {
  readonly jsm: JetStreamManager;
  readonly redis: RedisStore;
  /** The stream's name. */
  readonly stream: string;
  /** The consumer's filter subject. */
  readonly filter: string;
  readonly metrics: CollectorMetrics;
  readonly log: StructuredLogger;
  /** The record's identity for the stream's current creation time. */
  identity(created: string): StreamIdentity;
  /** Stores messages read back from the stream, as a batch (PostgreSQL, then Redis). */
  store(items: readonly Delivery[]): Promise<void>;
  /** Whether the collector is stopping. */
  stopping(): boolean;
}

/** The check; {@link SettledCheck.run} skips while a run is in progress. */
export class SettledCheck {
  readonly #o: SettledCheckOptions;
  #running = false;

  constructor(options: SettledCheckOptions) {
    this.#o = options;
  }

  /**
   * One check. The floor is only ever raised over sequences the stream confirms it does not
   * hold for this consumer (below its first sequence, or none matching the filter from the floor
   * on): never because the consumer's ack floor is past it, which after a Redis restore would
   * skip what the restored record says is still to apply. Such messages are read back and
   * applied instead (PostgreSQL finds them with the same sequence; the bitmap decides).
   *
   * @param ackFloor The consumer's ack floor (stream sequence), read before the floor here.
   */
  async run(ackFloor: number): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#check(ackFloor);
    } finally {
      this.#running = false;
    }
  }

  async #check(ackFloor: number): Promise<void> {
    const { jsm, redis, metrics } = this.#o;
    const info = await jsm.streams.info(this.#o.stream);
    const identity = this.#o.identity(info.created);
    let floor = await redis.floor(identity);
    if (floor === null) return; // The next batch creates it.
    const { first_seq: firstSeq, last_seq: lastSeq } = info.state;
    if (floor < firstSeq - 1) floor = await this.#raise(identity, floor, firstSeq - 1);
    let repaired = 0;
    while (ackFloor > floor && repaired < SETTLED_REPAIR_MAX && !this.#o.stopping()) {
      const next = await this.#next(floor + 1);
      if (next === null) {
        floor = await this.#raise(identity, floor, lastSeq);
        break;
      }
      if (next.seq > floor + 1) {
        floor = await this.#raise(identity, floor, next.seq - 1);
        continue;
      }
      // Ours, still in the stream, acknowledged, and not settled in this Redis: no redelivery
      // will bring it, so read it and the next ones back and apply them.
      const batch: Delivery[] = [next];
      while (batch.length < REPAIR_BATCH) {
        const following = await this.#next(batch[batch.length - 1]!.seq + 1);
        if (following === null || following.seq > ackFloor) break;
        batch.push(following);
      }
      await this.#o.store(batch);
      repaired += batch.length;
      metrics.settledRepaired.inc(batch.length);
      floor = await redis.floor(identity) ?? floor;
    }
    if (repaired > 0) {
      this.#o.log.warn("applied acknowledged messages this Redis had not settled", {
        count: repaired,
        floor,
      });
    }
    metrics.settledFloor.set(floor);
    metrics.settledFloorLag.set(Math.max(0, ackFloor - floor));
  }

  /** The first message at or after `seq` on the consumer's subjects, or `null` if none. */
  async #next(seq: number): Promise<StoredMsg | null> {
    // The server (2.9+) answers next_by_subj on the stream message API too; the client types
    // it on the direct API only, which needs allow_direct on the stream.
    const query = { seq, next_by_subj: this.#o.filter } as unknown as MsgRequest;
    return await this.#o.jsm.streams.getMessage(this.#o.stream, query);
  }

  async #raise(identity: StreamIdentity, from: number, to: number): Promise<number> {
    const floor = await this.#o.redis.raiseFloor(identity, to);
    if (floor > from) {
      this.#o.metrics.settledSkipped.inc(to > from ? to - from : 0);
      this.#o.log.info("settled sequences the stream no longer holds for this consumer", {
        from: from + 1,
        to,
        floor,
      });
    }
    return floor;
  }
}
