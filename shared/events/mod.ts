/**
 * Mining events: the nine event types, their envelope and payload schemas, ids, timestamps and
 * the JSON codec used on NATS.
 *
 * ```ts
 * const event = makeEvent(EventType.DiffUpdated, "eu", "stratum-eu-1", {
 *   user, worker, session_id, old_diff: 512, new_diff: 1024, reason: "vardiff",
 * });
 * js.publish(eventSubject("eu", event.event), encodeEvent(event), { msgID: event.event_id });
 * ```
 *
 * @module
 */
export { ALL_EVENT_TYPES, EventType, isEventType } from "./event_type.ts";
export {
  type AsicboostDetected,
  asicboostDetectedSchema,
  BestDiffScope,
  type BlockFound,
  blockFoundSchema,
  type DiffUpdated,
  diffUpdatedSchema,
  DiffUpdateReason,
  EVENT_LIMITS,
  type EventPayloads,
  type HashrateUpdate,
  hashrateUpdateSchema,
  MAX_MONEY_SATS,
  type MinerConnected,
  minerConnectedSchema,
  type MinerDisconnected,
  minerDisconnectedSchema,
  NetworkBlockSource,
  type NewBlockNetwork,
  newBlockNetworkSchema,
  PAYLOAD_SCHEMAS,
  regionSchema,
  type ShareBestDiff,
  shareBestDiffSchema,
  ShareRejectReason,
  type ShareSubmitted,
  shareSubmittedSchema,
} from "./payloads.ts";
export {
  type Event,
  EVENT_ID_PATTERN,
  EVENT_SCHEMA_VERSION,
  type EventOf,
  eventSchema,
  MAX_SOURCE_LENGTH,
  type MiningEvent,
} from "./envelope.ts";
export { eventIdTimeMs, newEventId } from "./event_id.ts";
export { nowMicros } from "./clock.ts";
export { encodeEvent, makeEvent, parseEvent } from "./codec.ts";
