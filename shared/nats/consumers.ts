/**
 * The durable consumers of the MINING_EVENTS stream: `event-pipeline` (the collectors, writing to
 * PostgreSQL and Redis) and `game-engine` (game logic reading the same events independently).
 * Both are pull consumers with explicit acks from the start of the stream; the stream's limits
 * retention lets them overlap (see `stream.ts`).
 *
 * @module
 */
import { nanos } from "nats";
import { AckPolicy, type ConsumerConfig, DeliverPolicy, ReplayPolicy } from "nats/jetstream";
import { EVENTS_WILDCARD, regionEventsWildcard } from "./subjects.ts";

/** How long the server waits for an ack before redelivering: longer than any healthy batch. */
export const ACK_WAIT_MS = 30_000;
/** Unacknowledged messages the server hands out across all clients sharing a durable. */
export const MAX_ACK_PENDING = 20_000;

/** Durable name of the collectors' consumer. */
export const EVENT_PIPELINE_DURABLE = "event-pipeline";
/** Durable name of the game engine's consumer. */
export const GAME_ENGINE_DURABLE = "game-engine";

/** Description of the collectors' consumer (also what a collector creates it with). */
export const EVENT_PIPELINE_DESCRIPTION = "tbg-collector: events into PostgreSQL and Redis";
/** Description of the game engine's consumer. */
export const GAME_ENGINE_DESCRIPTION =
  "game engine: every mining event, independent of the collector";

/**
 * A durable consumer's configuration: the settings this project sets (required), everything else
 * left at the server's default.
 */
export type DurableConsumerConfig =
  & Partial<ConsumerConfig>
  & Required<
    Pick<
      ConsumerConfig,
      | "durable_name"
      | "description"
      | "ack_policy"
      | "deliver_policy"
      | "replay_policy"
      | "ack_wait"
      | "max_ack_pending"
      | "max_deliver"
      | "filter_subject"
    >
  >;

/**
 * The subject filter of a durable consumer.
 *
 * @param regionFilter One region's events only, or all regions when absent.
 * @returns `mining.events.>` or `mining.events.{region}.>`.
 * @throws {RangeError} If `regionFilter` is not a subject token.
 */
export function consumerFilter(regionFilter: string | undefined): string {
  return regionFilter === undefined ? EVENTS_WILDCARD : regionEventsWildcard(regionFilter);
}

/**
 * A durable consumer's configuration: pull, explicit acks, everything from the start of the
 * stream, redelivered without limit (the collector acks poison messages itself).
 *
 * @param durable Durable name, shared by every client of that consumer.
 * @param filter Subject filter from {@link consumerFilter}.
 * @param description What reads it; the collector's description by default.
 * @returns A fresh, mutable configuration.
 */
export function consumerConfig(
  durable: string,
  filter: string,
  description: string = EVENT_PIPELINE_DESCRIPTION,
): DurableConsumerConfig {
  return {
    durable_name: durable,
    description,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(ACK_WAIT_MS),
    max_ack_pending: MAX_ACK_PENDING,
    max_deliver: -1,
    filter_subject: filter,
  };
}

/**
 * The two durable consumers every hub provisions, over all regions' events.
 *
 * @returns Fresh configurations: `event-pipeline`, then `game-engine`.
 */
export function miningEventsConsumers(): DurableConsumerConfig[] {
  return [
    consumerConfig(EVENT_PIPELINE_DURABLE, EVENTS_WILDCARD, EVENT_PIPELINE_DESCRIPTION),
    consumerConfig(GAME_ENGINE_DURABLE, EVENTS_WILDCARD, GAME_ENGINE_DESCRIPTION),
  ];
}
