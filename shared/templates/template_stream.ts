/**
 * The JetStream stream that keeps the current template of each network: a last-value stream
 * (one message per subject) with two subjects per network.
 *
 * - `mining.templates.{network}`: every template in full. A relay fetches the last one (direct
 *   get, raw bytes) when it starts without a template or lacks a delta's base; relays of the
 *   first format, which follow only this subject, keep working unchanged.
 * - `mining.templates.{network}.live`: every template as a delta against the previous one, or
 *   in full when that is smaller (a new block). Relays follow it with an ordered consumer that
 *   starts at its last message, so only deltas cross the region links between blocks.
 *
 * Both hold one message each, so the stream stays at two messages per network. A stream made
 * by an older primary (one subject, no direct get) is updated in place by the publisher's
 * set-up: subjects and `allow_direct` are editable settings.
 *
 * Why a stream and not a KV bucket: nats-server 2.9 has both, but the v3 JavaScript client
 * moved KV into a separate package (`@nats-io/kv`) that this workspace does not carry, while
 * `@nats-io/jetstream` has everything a last-value stream needs (`max_msgs_per_subject: 1`,
 * `DeliverPolicy.LastPerSubject`). A KV bucket is exactly such a stream underneath.
 *
 * @module
 */
import { nanos } from "nats";
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "nats/jetstream";

/** Name of the templates stream. */
export const MINING_TEMPLATES_STREAM_NAME = "MINING_TEMPLATES";

/** Full templates of every network: `mining.templates.{network}`. */
export const TEMPLATES_WILDCARD = "mining.templates.*";

/** Live templates (delta or full) of every network: `mining.templates.{network}.live`. */
export const TEMPLATES_LIVE_WILDCARD = "mining.templates.*.live";

/**
 * How long a template stays when no newer one replaces it. The primary refreshes every
 * `update_interval` (30 s by default), so only a dead primary's last template ever ages out: a
 * relay connecting long after the primary died gets nothing rather than old work.
 */
export const TEMPLATE_MAX_AGE_MS = 5 * 60 * 1000;

/** Window in which a republished message id (`epoch-sequence[-live]`) is stored once. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** Stream settings this project sets; the rest are the server's defaults. */
export type TemplatesStreamConfig = Pick<
  StreamConfig,
  | "name"
  | "description"
  | "subjects"
  | "storage"
  | "retention"
  | "max_msgs_per_subject"
  | "max_age"
  | "discard"
  | "duplicate_window"
  | "num_replicas"
  | "allow_direct"
>;

/**
 * A fresh stream definition (the client writes into the object it is given).
 *
 * @returns the stream configuration
 */
export function templatesStreamConfig(): TemplatesStreamConfig {
  return {
    name: MINING_TEMPLATES_STREAM_NAME,
    description: "Current block template per network, published by the primary for relays",
    subjects: [TEMPLATES_WILDCARD, TEMPLATES_LIVE_WILDCARD],
    // File storage: a hub restart keeps the current template for relays that reconnect first.
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 1,
    max_age: nanos(TEMPLATE_MAX_AGE_MS),
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: 1,
    // Direct get answers with the raw message; the stream API would send it as base64 JSON.
    allow_direct: true,
  };
}
