/**
 * Replaying one sealed spool segment into JetStream.
 *
 * @module
 */
import type { StructuredLogger } from "../log/mod.ts";
import type { PublishWindow } from "./publish_window.ts";
import { readSegment } from "./spool_reader.ts";
import type { SealedSegment } from "./spool_writer.ts";

/** What {@linkcode replaySegment} needs. */
export interface ReplayContext {
  /** A fresh publish window on the current connection (closed by the replay). */
  readonly openWindow: () => PublishWindow;
  /** Publishes sent in one go before waiting for an ack, so the event loop keeps turning. */
  readonly sendBurst: number;
  /** Stops sending when aborted (the drain deadline). */
  readonly deadline: AbortSignal;
  /** Where a segment that changed on disk, or an interrupted replay, is reported. */
  readonly log: StructuredLogger;
}

/**
 * Publishes every record of a segment, in file order, and waits for the acks.
 *
 * @returns true when every record was acknowledged, so the segment may be deleted.
 * @throws file-system errors reading the segment, and the client's error when the connection
 *   closed before the ack subscription was made.
 */
export async function replaySegment(
  segment: SealedSegment,
  context: ReplayContext,
): Promise<boolean> {
  const decoded = await readSegment(segment.path);
  if (decoded.records.length !== segment.records || decoded.tornBytes > 0) {
    context.log.error("spool segment changed on disk since it was written", {
      path: segment.path,
      expectedRecords: segment.records,
      records: decoded.records.length,
      tornBytes: decoded.tornBytes,
    });
  }
  const window = context.openWindow();
  let sent = 0;
  for (const record of decoded.records) {
    while (!window.hasRoom && !window.failed) await window.nextOutcome();
    if (sent % context.sendBurst === 0 && window.inFlight > 0) await window.nextOutcome();
    if (window.failed || context.deadline.aborted) break;
    window.send(record);
    sent++;
  }
  const settled = await window.close();
  if (settled.unacked.length > 0) {
    context.log.debug("spool replay interrupted", {
      path: segment.path,
      unacked: settled.unacked.length,
      error: String(settled.error),
    });
  }
  return sent === decoded.records.length && settled.unacked.length === 0;
}
