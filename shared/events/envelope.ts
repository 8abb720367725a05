/**
 * The event envelope: version, id, kind, origin, time and the kind's payload.
 *
 * ```json
 * {"v":1,"event_id":"0190a3b4-7c8d-7000-b123-456789abcdef","event":"share_submitted",
 *  "region":"eu","timestamp":1716556800000000,"source":"stratum-eu-1","data":{...}}
 * ```
 *
 * Unknown keys are dropped on parse rather than refused, so a producer that adds an optional
 * field does not have its events refused by an older collector during a rolling upgrade. Any
 * change an older reader would misread (a renamed, removed or retyped field) bumps `v`.
 *
 * @module
 */
import { z } from "zod";
import { EventType } from "./event_type.ts";
import {
  asicboostDetectedSchema,
  blockFoundSchema,
  diffUpdatedSchema,
  type EventPayloads,
  hashrateUpdateSchema,
  minerConnectedSchema,
  minerDisconnectedSchema,
  newBlockNetworkSchema,
  regionSchema,
  shareBestDiffSchema,
  shareSubmittedSchema,
} from "./payloads.ts";

/** Version of the envelope and payload layout; the `v` field of every event. */
export const EVENT_SCHEMA_VERSION = 1;

/** Canonical lower-case UUIDv7 (version nibble 7, RFC 9562 variant). */
export const EVENT_ID_PATTERN =
  /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Longest instance id accepted in `source`. */
export const MAX_SOURCE_LENGTH = 128;

const eventId = z.string().regex(EVENT_ID_PATTERN, "expected a lower-case canonical UUIDv7");
const timestampMicros = z.int().nonnegative();
const source = z.string().regex(
  new RegExp(`^[A-Za-z0-9_.:-]{1,${MAX_SOURCE_LENGTH}}$`),
  `expected an instance id of 1-${MAX_SOURCE_LENGTH} of A-Z a-z 0-9 _ . : -`,
);

function envelope<const T extends EventType, S extends z.ZodType>(event: T, data: S) {
  return z.object({
    v: z.literal(EVENT_SCHEMA_VERSION),
    event_id: eventId,
    event: z.literal(event),
    region: regionSchema,
    timestamp: timestampMicros,
    source,
    data,
  });
}

/**
 * Full validation of an event, discriminated on `event`. Used on untrusted input (the
 * collector); producers build events with `makeEvent` and skip it.
 */
export const eventSchema: z.ZodType<MiningEvent> = z.discriminatedUnion("event", [
  envelope(EventType.ShareSubmitted, shareSubmittedSchema),
  envelope(EventType.BlockFound, blockFoundSchema),
  envelope(EventType.MinerConnected, minerConnectedSchema),
  envelope(EventType.MinerDisconnected, minerDisconnectedSchema),
  envelope(EventType.DiffUpdated, diffUpdatedSchema),
  envelope(EventType.HashrateUpdate, hashrateUpdateSchema),
  envelope(EventType.NewBlockNetwork, newBlockNetworkSchema),
  envelope(EventType.ShareBestDiff, shareBestDiffSchema),
  envelope(EventType.AsicboostDetected, asicboostDetectedSchema),
]);

/** An event of one kind. */
export interface EventOf<T extends EventType> {
  /** Envelope version, {@link EVENT_SCHEMA_VERSION}. */
  readonly v: typeof EVENT_SCHEMA_VERSION;
  /** UUIDv7, lower-case; also the JetStream `Nats-Msg-Id` for de-duplication. */
  readonly event_id: string;
  /** The event kind. */
  readonly event: T;
  /** Region token of the emitting instance, e.g. `"eu"`, `"us-east"`. */
  readonly region: string;
  /** Microseconds since the Unix epoch, integer. */
  readonly timestamp: number;
  /** Emitting instance id, e.g. `"stratum-eu-1"`. */
  readonly source: string;
  /** Kind-specific payload. */
  readonly data: EventPayloads[T];
}

/** Any event: a union discriminated on `event`. */
export type MiningEvent = { [T in EventType]: EventOf<T> }[EventType];

/** Alias of {@link MiningEvent}. Prefer `MiningEvent` where the DOM `Event` is also in scope. */
export type Event = MiningEvent;
