/**
 * A deterministic, realistic stream of mining events for the collector benchmarks: what a busy
 * pool emits, mostly share_submitted from many workers, with the periodic and rare kinds mixed in
 * at plausible rates. Built with the producer's own `makeEvent`/`encodeEvent`, so every event is
 * one the collector must accept.
 *
 * Mix (per 10,000 events): 9,500 share_submitted (2% rejected), 200 hashrate_update (one a
 * minute per worker at ~10 shares a minute each), 100 diff_updated, 100 share_best_diff,
 * 40 miner_connected, 40 miner_disconnected, 18 asicboost_detected, 1 block_found,
 * 1 new_block_network.
 *
 * @module
 */
import {
  encodeEvent,
  type EventPayloads,
  EventType,
  makeEvent,
  type MiningEvent,
  ShareRejectReason,
} from "@tbg/shared/events";
import { eventSubject } from "@tbg/shared/nats";
import { regtestAddress } from "../support/addresses.ts";

/** Cumulative weights out of {@link MIX_TOTAL}, checked in this order. */
export const MIX: readonly (readonly [EventType, number])[] = [
  [EventType.ShareSubmitted, 9_500],
  [EventType.HashrateUpdate, 200],
  [EventType.DiffUpdated, 100],
  [EventType.ShareBestDiff, 100],
  [EventType.MinerConnected, 40],
  [EventType.MinerDisconnected, 40],
  [EventType.AsicboostDetected, 18],
  [EventType.BlockFound, 1],
  [EventType.NewBlockNetwork, 1],
];

/** Sum of the weights in {@link MIX}. */
export const MIX_TOTAL = MIX.reduce((sum, [, weight]) => sum + weight, 0);

/** Who emits the events. */
export interface EventMixOptions {
  /** Distinct payout addresses. */
  readonly users: number;
  /** Workers per address (named `rig0`, `rig1`, …). */
  readonly workersPerUser: number;
  /** Envelope region. */
  readonly region: string;
  /** Envelope source. */
  readonly source: string;
  /** Seed of the pseudo-random choices; the same seed gives the same kinds and payloads. */
  readonly seed: number;
}

/** One event ready for `js.publish(subject, payload, { msgID })`. */
export interface EncodedEvent {
  readonly subject: string;
  readonly msgId: string;
  readonly type: EventType;
  readonly payload: Uint8Array;
}

/** mulberry32: a tiny fast PRNG, good enough to pick kinds and workers. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(random: () => number, digits: number): string {
  let out = "";
  while (out.length < digits) out += Math.floor(random() * 0x1_0000_0000).toString(16);
  return out.slice(0, digits).padStart(digits, "0");
}

/** Picks a kind for a uniform draw in [0, 1). */
export function kindAt(draw: number): EventType {
  let threshold = draw * MIX_TOTAL;
  for (const [type, weight] of MIX) {
    if (threshold < weight) return type;
    threshold -= weight;
  }
  return MIX[0]![0];
}

/**
 * An endless generator of realistic events (fresh UUIDv7 ids, current timestamps).
 *
 * @throws {RangeError} when `users` or `workersPerUser` is not a positive integer.
 */
export function* mixedEvents(options: EventMixOptions): Generator<MiningEvent> {
  const { users, workersPerUser, region, source } = options;
  if (!Number.isInteger(users) || users < 1) {
    throw new RangeError(`Cannot generate events: users ${users} is not a positive integer`);
  }
  if (!Number.isInteger(workersPerUser) || workersPerUser < 1) {
    throw new RangeError(
      `Cannot generate events: workersPerUser ${workersPerUser} is not a positive integer`,
    );
  }
  const random = prng(options.seed);
  const addresses = Array.from({ length: users }, (_, i) => regtestAddress("p2wpkh", i).address);
  let height = 800_000;
  for (;;) {
    const workerIndex = Math.floor(random() * users * workersPerUser);
    const user = addresses[workerIndex % users]!;
    const worker = `rig${Math.floor(workerIndex / users)}`;
    const sessionId = (workerIndex + 1).toString(16).padStart(8, "0");
    const poolDiff = 2 ** (10 + (workerIndex % 8));
    const type = kindAt(random());
    const payload = (): EventPayloads[EventType] => {
      switch (type) {
        case EventType.ShareSubmitted: {
          const accepted = random() >= 0.02;
          return {
            user,
            worker,
            session_id: sessionId,
            job_id: hex(random, 8),
            share_diff: accepted ? poolDiff * (1 + random() * 3) : poolDiff * random(),
            pool_diff: poolDiff,
            accepted,
            ...(accepted ? {} : { reject_reason: ShareRejectReason.LowDifficulty }),
            block_candidate: false,
            ip: `10.${workerIndex >> 16 & 255}.${workerIndex >> 8 & 255}.${workerIndex & 255}`,
          };
        }
        case EventType.HashrateUpdate:
          return {
            user,
            worker,
            hashrate_1m: poolDiff * 2 ** 32 / 6 * (0.8 + random() * 0.4),
            hashrate_5m: poolDiff * 2 ** 32 / 6,
            hashrate_1h: poolDiff * 2 ** 32 / 6,
            shares_1m: 10,
          };
        case EventType.DiffUpdated:
          return {
            user,
            worker,
            session_id: sessionId,
            old_diff: poolDiff,
            new_diff: poolDiff * 2,
            reason: "vardiff",
          };
        case EventType.ShareBestDiff:
          return {
            user,
            worker,
            best_diff: poolDiff * 1000 * (1 + random()),
            previous_best: poolDiff * 1000,
            scope: random() < 0.5 ? "worker" : "user",
          };
        case EventType.MinerConnected:
          return {
            user,
            worker,
            session_id: sessionId,
            ip: "10.0.0.1",
            user_agent: "bitaxe/BM1370/v2.4.0",
            resumed: false,
          };
        case EventType.MinerDisconnected:
          return {
            user,
            worker,
            session_id: sessionId,
            ip: "10.0.0.1",
            reason: "client closed",
            duration_s: 3600 * random(),
            shares_accepted: 360,
            shares_rejected: 7,
          };
        case EventType.AsicboostDetected:
          return {
            user,
            worker,
            session_id: sessionId,
            version_mask: "1fffe000",
            version_bits: "00002000",
          };
        case EventType.BlockFound:
          return {
            user,
            worker,
            height,
            hash: hex(random, 64),
            reward_sats: 312_500_000,
            region,
            accepted: true,
            submitted_to: ["127.0.0.1:8332"],
          };
        case EventType.NewBlockNetwork:
          height++;
          return { height, hash: hex(random, 64), prev_hash: hex(random, 64), source: "zmq" };
      }
    };
    yield makeEvent(type, region, source, payload() as never) as MiningEvent;
  }
}

/**
 * The first `count` events of {@link mixedEvents}, encoded for NATS.
 *
 * @returns A generator; nothing is held beyond the event being encoded.
 */
export function* encodedEvents(
  count: number,
  options: EventMixOptions,
): Generator<EncodedEvent> {
  const subjects = new Map<EventType, string>();
  let produced = 0;
  for (const event of mixedEvents(options)) {
    if (produced++ >= count) return;
    let subject = subjects.get(event.event);
    if (subject === undefined) {
      subject = eventSubject(options.region, event.event);
      subjects.set(event.event, subject);
    }
    yield { subject, msgId: event.event_id, type: event.event, payload: encodeEvent(event) };
  }
}
