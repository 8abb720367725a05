/**
 * The nine kinds of mining event. The value is the wire name, used in the envelope's `event`
 * field and as the last token of the NATS subject `mining.events.{region}.{event_type}`.
 *
 * @module
 */

/** Event kinds by name. */
export const EventType = {
  ShareSubmitted: "share_submitted",
  BlockFound: "block_found",
  MinerConnected: "miner_connected",
  MinerDisconnected: "miner_disconnected",
  DiffUpdated: "diff_updated",
  HashrateUpdate: "hashrate_update",
  NewBlockNetwork: "new_block_network",
  ShareBestDiff: "share_best_diff",
  AsicboostDetected: "asicboost_detected",
} as const;

/** Wire name of an event kind. */
export type EventType = typeof EventType[keyof typeof EventType];

/** Every event kind, in declaration order. */
export const ALL_EVENT_TYPES: readonly EventType[] = Object.freeze(Object.values(EventType));

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(ALL_EVENT_TYPES);

/**
 * Tells whether a value is the wire name of an event kind.
 *
 * @param value Anything.
 * @returns `true` if `value` is one of {@link ALL_EVENT_TYPES}.
 */
export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && EVENT_TYPE_SET.has(value);
}
