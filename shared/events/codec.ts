/**
 * Building, encoding and parsing events.
 *
 * The producer side (`makeEvent`, `encodeEvent`) sits on the share path's hand-off and does no
 * validation: one object literal, one `JSON.stringify`, one UTF-8 encode. Producers are trusted
 * code whose inputs are typed and bounded where they enter (region and source come from validated
 * config; miner strings are truncated to `EVENT_LIMITS` by the session). The consumer side
 * (`parseEvent`) treats bytes as untrusted and validates everything.
 *
 * @module
 */
import { z } from "zod";
import { nowMicros } from "./clock.ts";
import { EVENT_SCHEMA_VERSION, type EventOf, eventSchema, type MiningEvent } from "./envelope.ts";
import { newEventId } from "./event_id.ts";
import type { EventType } from "./event_type.ts";
import type { EventPayloads } from "./payloads.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * {@link eventSchema} with zod's generated fast path in front (`z.compile`): valid input is
 * checked by straight-line code about three times faster, and anything the fast path does not
 * accept is parsed again by the runtime schema, so results and error messages are the schema's.
 * Built on the first parse, so producers that never parse do not pay for the code generation.
 */
let compiledEventSchema: typeof eventSchema | undefined;

/** Issues named in a parse error before the rest are summarised as a count. */
const MAX_REPORTED_ISSUES = 3;

/**
 * Wraps a payload in a new envelope with a fresh UUIDv7 id and the current time.
 *
 * @param type Event kind.
 * @param region Region token of this instance (validated once at startup, not here).
 * @param source Instance id, e.g. `"stratum-eu-1"`.
 * @param data The kind's payload.
 * @returns The event, ready for {@link encodeEvent}.
 */
export function makeEvent<T extends EventType>(
  type: T,
  region: string,
  source: string,
  data: EventPayloads[T],
): EventOf<T> {
  return {
    v: EVENT_SCHEMA_VERSION,
    event_id: newEventId(),
    event: type,
    region,
    timestamp: nowMicros(),
    source,
    data,
  };
}

/**
 * Serialises an event as UTF-8 JSON bytes for a NATS message body. No validation.
 *
 * @param event The event.
 * @returns JSON bytes.
 */
export function encodeEvent(event: MiningEvent | EventOf<EventType>): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(event));
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path.map((key) => typeof key === "symbol" ? key.toString() : String(key)).join(".");
}

/**
 * Parses and fully validates an event from untrusted bytes.
 *
 * @param bytes A NATS message body.
 * @returns The event, with unknown keys dropped.
 * @throws {SyntaxError} If the bytes are not UTF-8 or not JSON.
 * @throws {TypeError} If the JSON is not a valid event; the message names the failing path,
 *   e.g. `Cannot parse event: data.share_diff: Invalid input: expected number, received string`.
 */
export function parseEvent(bytes: Uint8Array): MiningEvent {
  let text: string;
  try {
    text = utf8Decoder.decode(bytes);
  } catch (cause) {
    throw new SyntaxError("Cannot parse event: body is not valid UTF-8", { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new SyntaxError(`Cannot parse event: body is not JSON (${detail})`, { cause });
  }
  compiledEventSchema ??= z.compile(eventSchema);
  const result = compiledEventSchema.safeParse(json);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const described = issues.slice(0, MAX_REPORTED_ISSUES)
    .map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  if (issues.length > MAX_REPORTED_ISSUES) {
    described.push(`and ${issues.length - MAX_REPORTED_ISSUES} more`);
  }
  throw new TypeError(`Cannot parse event: ${described.join("; ")}`, { cause: result.error });
}
