/**
 * One payload of each event type, as the pool and relays emit them: shared by the codec's tests
 * and its fuzz target (tools/fuzz/targets/events.ts).
 *
 * @module
 */
import type { EventType } from "./event_type.ts";
import type { EventPayloads } from "./payloads.ts";

/** A mainnet P2WPKH address. */
export const USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
/** A block hash. */
export const HASH = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";
/** Its parent's hash. */
export const PREV = "0000000000000000000590fc0f3eba193a278534220b2b37e9849e1a770ca959";

/** One payload of each event type. */
export const SAMPLE_PAYLOADS: { readonly [T in EventType]: EventPayloads[T] } = {
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
