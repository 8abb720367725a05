/**
 * Where the collector's durable consumer must start again after PostgreSQL was restored from a
 * backup (disaster recovery): the first hub stream sequence the restored database may lack.
 *
 * The collector acknowledges a message only after the transaction storing it committed, and the
 * server hands out at most `max_ack_pending` unacknowledged messages. So when the message with
 * sequence S was delivered, every message below S − max_ack_pending + 1 had been acknowledged,
 * hence committed before S's commit; a restored database holding S's row (base backup + WAL is
 * a prefix of the commit order) holds all of those too. Within the last `window` sequences up
 * to S the first one missing is where the replay starts (some may be missing legitimately:
 * invalid messages, copies of an event, other consumers' subjects; starting there replays a few
 * more, which PostgreSQL and the settled record skip). Pure: no I/O.
 *
 * @module
 */

/**
 * The first sequence to deliver again.
 *
 * @param maxHeld The highest `stream_seq` in the restored database, or null when it holds none.
 * @param heldInWindow The `stream_seq`s it holds from `maxHeld − window + 1` to `maxHeld`.
 * @param window The consumer's `max_ack_pending` (how far behind S an unacknowledged message
 *   can be).
 * @returns 1 when nothing is held; else the first sequence in the window not held, or
 *   `maxHeld + 1`.
 * @throws {RangeError} For a non-integer or out-of-range argument.
 */
export function replayStartSequence(
  maxHeld: number | null,
  heldInWindow: readonly number[],
  window: number,
): number {
  if (!Number.isSafeInteger(window) || window < 1) {
    throw new RangeError(`Cannot plan the replay: window must be an integer ≥ 1, got ${window}`);
  }
  if (maxHeld === null) return 1;
  if (!Number.isSafeInteger(maxHeld) || maxHeld < 1) {
    throw new RangeError(
      `Cannot plan the replay: the highest stream_seq must be an integer ≥ 1, got ${maxHeld}`,
    );
  }
  const low = replayWindowStart(maxHeld, window);
  const held = new Set<number>();
  for (const seq of heldInWindow) {
    if (!Number.isSafeInteger(seq) || seq < low || seq > maxHeld) {
      throw new RangeError(
        `Cannot plan the replay: stream_seq ${seq} is outside the window ${low}–${maxHeld}`,
      );
    }
    held.add(seq);
  }
  // Bounded by the window (at most max_ack_pending iterations).
  for (let seq = low; seq <= maxHeld; seq++) {
    if (!held.has(seq)) return seq;
  }
  return maxHeld + 1;
}

/** The lowest sequence of the window ending at `maxHeld` (never below 1). */
export function replayWindowStart(maxHeld: number, window: number): number {
  return Math.max(1, maxHeld - window + 1);
}
