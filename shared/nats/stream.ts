/**
 * The JetStream stream that holds every mining event on the hub.
 *
 * Retention is `limits`, not the seed's `workqueue`: a work-queue stream refuses a second
 * consumer whose filter overlaps the first, and the design has two durable consumers on all events
 * (event-pipeline and game-engine). Messages therefore stay until they are 24 h old or the stream
 * exceeds 10 GiB, and each consumer tracks its own position.
 *
 * @module
 */
import { nanos } from "nats";
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "nats/jetstream";
import { EVENTS_WILDCARD } from "./subjects.ts";

/** Stream settings this project sets; everything else is left at the server's default. */
export type MiningEventsStreamConfig = Pick<
  StreamConfig,
  | "name"
  | "description"
  | "subjects"
  | "storage"
  | "retention"
  | "max_age"
  | "max_bytes"
  | "discard"
  | "duplicate_window"
  | "num_replicas"
>;

/** Name of the events stream. */
export const MINING_EVENTS_STREAM_NAME = "MINING_EVENTS";

const DAY_MS = 24 * 60 * 60 * 1000;
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
const TEN_GIB = 10 * 1024 ** 3;

/**
 * The MINING_EVENTS stream definition (frozen).
 *
 * `duplicate_window` is the span within which a repeated `Nats-Msg-Id` (the event's `event_id`)
 * is dropped by the server; the collector's writes are idempotent on `event_id` beyond it.
 *
 * The JetStream client's `streams.add()` writes into the object it is given, so pass
 * {@link miningEventsStreamConfig}`()` (a fresh copy) rather than this constant.
 */
export const MINING_EVENTS_STREAM:
  & Readonly<Omit<MiningEventsStreamConfig, "subjects">>
  & { readonly subjects: readonly string[] } = Object.freeze({
    name: MINING_EVENTS_STREAM_NAME,
    description: "TheBitcoinGame mining events from every region",
    subjects: Object.freeze([EVENTS_WILDCARD]),
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(DAY_MS),
    max_bytes: TEN_GIB,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: 1,
  });

/**
 * A fresh, mutable copy of {@link MINING_EVENTS_STREAM} for `jsm.streams.add()`.
 *
 * @returns The stream configuration.
 */
export function miningEventsStreamConfig(): MiningEventsStreamConfig {
  return { ...MINING_EVENTS_STREAM, subjects: [...MINING_EVENTS_STREAM.subjects] };
}
