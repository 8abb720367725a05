/**
 * Which Redis entry each message of a batch gets, from what PostgreSQL answered for the batch
 * (collector/PIPELINE.md, "Exactly once"). Pure: no I/O.
 *
 * @module
 */
import type { MiningEvent } from "@tbg/shared/events";
import type { PostgresWriteResult } from "./postgres_store.ts";
import { EntryMode, type RedisEntry } from "./redis_batch_script.ts";

/** The entries of a batch and how many of them are copies of events stored from elsewhere. */
export interface BatchEntries {
  /** One per message, in batch order. */
  readonly entries: RedisEntry[];
  /** Mark entries of events PostgreSQL holds from another sequence (dedup hits). */
  readonly copies: number;
}

/**
 * Chooses each message's entry: apply when its sequence is the one PostgreSQL holds for its
 * event (inserted now from this message, or stored before from it); legacy when PostgreSQL holds
 * the event without a sequence (before migration 005); mark for the rest (no event: invalid;
 * refused; another message's copy of the event, in this batch or stored before; no longer
 * stored). An event twice in one batch is written once, from its first message; a later copy
 * in the batch can still be the message PostgreSQL already held it from.
 *
 * @param seqs Hub stream sequence of each message.
 * @param events Each message's event, or `undefined` for an invalid message.
 * @param writtenSeqs The sequence each event was written with (its first message in the batch).
 * @param written What PostgreSQL answered for the batch's events.
 * @returns The entries, and the count of copies among them.
 */
export function batchEntries(
  seqs: readonly number[],
  events: readonly (MiningEvent | undefined)[],
  writtenSeqs: ReadonlyMap<string, number>,
  written: PostgresWriteResult,
): BatchEntries {
  const refused = new Set(written.rejected.map((r) => r.event));
  const entries: RedisEntry[] = new Array(seqs.length);
  let copies = 0;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!;
    const event = events[i];
    if (event === undefined || refused.has(event)) {
      entries[i] = { seq, mode: EntryMode.mark };
      continue;
    }
    const storedSeq = written.insertedIds.has(event.event_id)
      ? writtenSeqs.get(event.event_id)
      : written.storedSeqs.get(event.event_id);
    if (storedSeq === seq) {
      entries[i] = { seq, mode: EntryMode.apply, event };
    } else if (storedSeq === null) {
      // Stored before migration 005 by a collector that guarded Redis with dedup keys.
      entries[i] = { seq, mode: EntryMode.legacy, event };
    } else {
      // Stored from another message: a copy published again (its effects belong to the
      // sequence PostgreSQL holds), or a row gone since (dropped by retention).

      entries[i] = { seq, mode: EntryMode.mark };
      copies++;
    }
  }
  return { entries, copies };
}
