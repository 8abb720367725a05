/**
 * Target 5: the event codec, as the collector reads a NATS message body. Documented rejections:
 * SyntaxError (not UTF-8, not JSON) and TypeError naming the failing path, both "Cannot parse
 * event: …". Oracle: an accepted event encodes and parses back to itself.
 */
import { encodeEvent, makeEvent, parseEvent } from "../../../shared/events/codec.ts";
import type { EventType } from "../../../shared/events/event_type.ts";
import { HASH, SAMPLE_PAYLOADS, USER } from "../../../shared/events/_sample_payloads.ts";
import { mutateJson } from "../json_mutate.ts";
import { check, type FuzzTarget, isRejection } from "../target.ts";

/** One payload of each event type, as the pool and relays emit them. */
const SAMPLES = SAMPLE_PAYLOADS;

const STRINGS: readonly string[] = [
  "v",
  "event",
  "event_id",
  "timestamp",
  "region",
  "source",
  "data",
  ...Object.keys(SAMPLES),
  ...new Set(Object.values(SAMPLES).flatMap((p) => Object.keys(p))),
  USER,
  HASH,
  "eu",
  "us-east",
  "stratum-eu-1",
];

/** parseEvent on hostile bytes. */
export function eventsTarget(): FuzzTarget {
  return {
    name: "events",
    description: "event codec (shared/events/codec.ts, envelope.ts, payloads.ts)",
    // The schemas run inside zod, so its code is where the validation paths are.
    modules: ["/shared/events/", "/zod/"],
    maxInputBytes: 8192,
    dictionary: STRINGS.map((s) => JSON.stringify(s)),
    seeds: () =>
      (Object.keys(SAMPLES) as EventType[]).map((type) =>
        encodeEvent(makeEvent(type, "eu", "stratum-eu-1", SAMPLES[type] as never))
      ),
    mutate: (input, rng) => mutateJson(input, rng, STRINGS),
    run(input: Uint8Array): void {
      let event;
      try {
        event = parseEvent(input);
      } catch (error) {
        if (isRejection(error, [SyntaxError, TypeError], "Cannot parse event:")) return;
        throw error;
      }
      const again = parseEvent(encodeEvent(event));
      check(
        JSON.stringify(again) === JSON.stringify(event),
        "an accepted event does not survive encode → parse",
      );
    },
  };
}
