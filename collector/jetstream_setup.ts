/**
 * Makes sure the events stream and the collector's durable pull consumer exist with the settings
 * the pipeline relies on. Safe to run from several collectors at once: adding an identical
 * stream or consumer is a no-op on the server.
 *
 * @module
 */
import { nanos } from "nats";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  ReplayPolicy,
  type StreamConfig,
} from "nats/jetstream";
import {
  EVENTS_WILDCARD,
  type MiningEventsStreamConfig,
  miningEventsStreamConfig,
  regionEventsWildcard,
} from "@tbg/shared/nats";

/** How long the server waits for an ack before redelivering: longer than any healthy batch. */
export const ACK_WAIT_MS = 30_000;
/** Unacknowledged messages the server hands out across all collectors sharing the durable. */
export const MAX_ACK_PENDING = 20_000;

/** What {@link ensureStream} did. */
export type StreamOutcome = "created" | "unchanged" | "updated" | "update_refused";

/**
 * The subject filter of the durable consumer.
 *
 * @param regionFilter One region's events only, or all regions when absent.
 * @returns `mining.events.>` or `mining.events.{region}.>`.
 */
export function consumerFilter(regionFilter: string | undefined): string {
  return regionFilter === undefined ? EVENTS_WILDCARD : regionEventsWildcard(regionFilter);
}

/**
 * The durable consumer's configuration: pull, explicit acks, everything from the start of the
 * stream, redelivered without limit (the collector acks poison messages itself).
 *
 * @param durable Durable name shared by every collector of the pipeline.
 * @param filter Subject filter from {@link consumerFilter}.
 */
export function consumerConfig(durable: string, filter: string): Partial<ConsumerConfig> {
  return {
    durable_name: durable,
    description: "tbg-collector: events into PostgreSQL and Redis",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(ACK_WAIT_MS),
    max_ack_pending: MAX_ACK_PENDING,
    max_deliver: -1,
    filter_subject: filter,
  };
}

const MANAGED_STREAM_FIELDS = [
  "subjects",
  "storage",
  "retention",
  "max_age",
  "max_bytes",
  "discard",
  "duplicate_window",
] as const satisfies readonly (keyof MiningEventsStreamConfig)[];

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Creates the events stream, or brings an existing one to the project's settings while keeping
 * everything else it has (e.g. `sources` from the regions' leaf streams).
 *
 * @param jsm JetStream manager.
 * @param name Stream name from the config.
 * @returns What was done; `update_refused` when the server refused the change (e.g. a storage
 *   type change), in which case the existing stream is used as it is.
 * @throws On JetStream errors other than a refused update.
 */
export async function ensureStream(jsm: JetStreamManager, name: string): Promise<StreamOutcome> {
  const wanted = { ...miningEventsStreamConfig(), name };
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(name)).config;
  } catch (error: unknown) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    await jsm.streams.add(wanted);
    return "created";
  }
  const differs = MANAGED_STREAM_FIELDS.filter((field) =>
    !sameValue(existing[field], wanted[field])
  );
  if (differs.length === 0) return "unchanged";
  const merged: StreamConfig = { ...existing };
  for (const field of MANAGED_STREAM_FIELDS) {
    (merged as unknown as Record<string, unknown>)[field] = wanted[field];
  }
  try {
    await jsm.streams.update(name, merged);
    return "updated";
  } catch {
    return "update_refused";
  }
}

/**
 * Creates the durable consumer, or updates its ack settings when they drifted.
 *
 * @param jsm JetStream manager.
 * @param stream Stream name.
 * @param durable Durable consumer name.
 * @param filter Subject filter.
 * @returns The consumer's info after the change.
 * @throws {RangeError} If the consumer exists with another filter and the server refuses to
 *   change it (the operator must delete it or choose another durable name).
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  filter: string,
): Promise<ConsumerInfo> {
  const wanted = consumerConfig(durable, filter);
  const ackWaitNs = nanos(ACK_WAIT_MS);
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(stream, durable);
  } catch (error: unknown) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    return await jsm.consumers.add(stream, wanted);
  }
  const current = info.config;
  // No filter means every subject of the stream, which is mining.events.>.
  const sameFilter = (current.filter_subject || EVENTS_WILDCARD) === filter;
  if (
    sameFilter && current.ack_wait === ackWaitNs &&
    current.max_ack_pending === MAX_ACK_PENDING &&
    current.ack_policy === AckPolicy.Explicit
  ) {
    return info;
  }
  if (current.ack_policy !== AckPolicy.Explicit) {
    throw new RangeError(
      `Cannot use consumer "${durable}" on stream "${stream}": its ack policy is ` +
        `"${current.ack_policy}", not "explicit"; delete it or choose another durable name`,
    );
  }
  try {
    return await jsm.consumers.update(stream, durable, {
      ack_wait: ackWaitNs,
      max_ack_pending: MAX_ACK_PENDING,
      filter_subject: filter,
    });
  } catch (cause: unknown) {
    throw new RangeError(
      `Cannot use consumer "${durable}" on stream "${stream}": it filters ` +
        `"${current.filter_subject ?? ""}" and the server refused to change it to "${filter}"; ` +
        "delete it or choose another durable name",
      { cause },
    );
  }
}
