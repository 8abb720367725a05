/**
 * The event emitter: the engine's `EventSink`, publishing mining events to JetStream with
 * `msgID = event_id`, and spooling them to disk (append-only segments, replayed in order) while
 * NATS or JetStream cannot take them.
 *
 * ```ts
 * const emitter = new EventEmitter(
 *   emitterOptionsFromConfig(config, { source: "stratum-eu-0", metrics, log }),
 * );
 * await emitter.start();            // replays any spool an earlier process left
 * emitter.emit(EventType.ShareSubmitted, { ... });   // on the share path: no await
 * await emitter.drain(5_000);       // on SIGTERM: publish, spool the rest, fsync, close
 * ```
 *
 * @module
 */
export {
  EmitterMode,
  type EmitterStatus,
  EventEmitter,
  type EventEmitterOptions,
} from "./event_emitter.ts";
export { DEFAULT_EMITTER_TUNING, type EmitterTuning } from "./emitter_tuning.ts";
export { type ReplayContext, replaySegment } from "./spool_replay.ts";
export {
  EMITTER_CONNECT_TIMEOUT_MS,
  type EmitterDeps,
  emitterOptionsFromConfig,
  resolveSpoolDir,
  type SpoolDirConfig,
  spoolLockedConfigError,
} from "./emitter_config.ts";
export type { EmitterMetrics } from "./emitter_metrics.ts";
export { EventBuffer, PushResult } from "./event_buffer.ts";
export {
  type NatsConnector,
  natsConnector,
  type NatsConnectorOptions,
  NatsLink,
} from "./nats_link.ts";
export type { OutboundEvent } from "./outbound_event.ts";
export {
  type AckedPublisher,
  type AckMessage,
  type AckSubscription,
  pubAckError,
  PublishWindow,
  type PublishWindowHooks,
  type SettleResult,
} from "./publish_window.ts";
export { backoffDelayMs, type BackoffOptions } from "./retry_backoff.ts";
export {
  type DecodedSegment,
  decodeSegment,
  encodeRecords,
  MAX_RECORD_BODY_BYTES,
  RECORD_HEADER_BYTES,
  SEGMENT_MAGIC,
} from "./spool_format.ts";
export {
  listSegments,
  readSegment,
  type RecoveredSegment,
  recoverSegment,
  type SegmentFile,
  segmentPath,
} from "./spool_reader.ts";
export { SPOOL_LOCK_FILE, SpoolLock, SpoolLockedError } from "./spool_lock.ts";
export { type SealedSegment, SpoolWriter, type SpoolWriterOptions } from "./spool_writer.ts";
