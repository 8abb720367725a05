/**
 * Target 5: the event codec, as the collector reads a NATS message body. Documented rejections:
 * SyntaxError (not UTF-8, not JSON) and TypeError naming the failing path, both "Cannot parse
 * event: …". Oracle: an accepted event encodes and parses back to itself.
 */
import { encodeEvent, makeEvent, parseEvent } from "../../../shared/events/codec.ts";
import type { EventType } from "../../../shared/events/event_type.ts";
import type { EventPayloads } from "../../../shared/events/payloads.ts";
import { mutateJson } from "../json_mutate.ts";
import { check, type FuzzTarget, isRejection } from "../target.ts";

const USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const HASH = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";
const PREV = "0000000000000000000590fc0f3eba193a278534220b2b37e9849e1a770ca959";

/** One payload of each event type, as the pool and relays emit them. */
const SAMPLES: { readonly [T in EventType]: EventPayloads[T] } = {
  share_submitted: {
    user: USER,
    worker: "rig1",
    session_id: "0a1b2c3d",
    job_id: "6a",
    share_diff: 2048.5,
    pool_diff: 1024,
    accepted: false,
    reject_reason: "low_difficulty",
    block_candidate: false,
    ip: "203.0.113.7",
  },
  block_found: {
    user: USER,
    worker: "",
    height: 840_000,
    hash: HASH,
    reward_sats: 312_500_000,
    region: "eu",
    accepted: true,
    submitted_to: ["local", "primary"],
  },
  miner_connected: {
    user: USER,
    worker: 'bitaxe-\u2028"ultra"',
    session_id: "ffff0001",
    ip: "2001:db8::1",
    user_agent: "bitaxe/BM1366/v2.1.0",
    resumed: true,
  },
  miner_disconnected: {
    user: USER,
    worker: "rig1",
    session_id: "0a1b2c3d",
    ip: "198.51.100.4",
    reason: "client closed",
    duration_s: 3600.25,
    shares_accepted: 1200,
    shares_rejected: 3,
  },
  diff_updated: {
    user: USER,
    worker: "rig1",
    session_id: "0a1b2c3d",
    old_diff: 512,
    new_diff: 1024,
    reason: "vardiff",
  },
  hashrate_update: {
    user: USER,
    worker: "rig1",
    hashrate_1m: 1.2e12,
    hashrate_5m: 1.15e12,
    hashrate_1h: 1.1e12,
    shares_1m: 70,
  },
  new_block_network: { height: 840_001, hash: HASH, prev_hash: PREV, source: "zmq" },
  share_best_diff: {
    user: USER,
    worker: "rig1",
    best_diff: 1_234_567.89,
    previous_best: 0,
    scope: "user",
  },
  asicboost_detected: {
    user: USER,
    worker: "rig1",
    session_id: "0a1b2c3d",
    version_mask: "1fffe000",
    version_bits: "00002000",
  },
};

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
