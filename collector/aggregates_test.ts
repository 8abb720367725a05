import assert from "node:assert/strict";
import { EventType, makeEvent, type MiningEvent } from "@tbg/shared/events";
import { shareEventAt } from "./_test_events.ts";
import { aggregateBatch, MICROS_PER_HOUR } from "./aggregates.ts";

const USER = "bcrt1qexampleuser0";
const HOUR = 1_716_555_600_000_000; // 2024-05-24T13:00:00Z, a whole hour

function share(
  worker: string,
  timestampUs: number,
  accepted: boolean,
  shareDiff: number,
  user = USER,
): MiningEvent {
  return shareEventAt(user, worker, timestampUs, accepted, shareDiff);
}

Deno.test("aggregateBatch() sums shares per worker and per UTC hour", () => {
  const events = [
    share("rig1", HOUR + 10, true, 1000),
    share("rig1", HOUR + 20, false, 5),
    share("rig1", HOUR + MICROS_PER_HOUR + 1, true, 3000),
    share("rig2", HOUR + 30, true, 700),
  ];
  const { miners, workerHours, blocks } = aggregateBatch(events);
  assert.deepEqual(blocks, []);
  assert.deepEqual(
    miners.map((m) => [m.worker, m.sharesAccepted, m.sharesRejected, m.bestDiff, m.lastShareUs]),
    [
      ["rig1", 2, 1, 3000, HOUR + MICROS_PER_HOUR + 1],
      ["rig2", 1, 0, 700, HOUR + 30],
    ],
  );
  assert.deepEqual(
    workerHours.map((
      h,
    ) => [h.worker, h.hourUs, h.sharesAccepted, h.sharesRejected, h.diffAccepted, h.bestDiff]),
    [
      ["rig1", HOUR, 1, 1, 256, 1000],
      ["rig1", HOUR + MICROS_PER_HOUR, 1, 0, 256, 3000],
      ["rig2", HOUR, 1, 0, 256, 700],
    ],
  );
});

Deno.test("aggregateBatch() leaves best_diff null for an hour with only rejected shares", () => {
  const { workerHours, miners } = aggregateBatch([share("", HOUR + 5, false, 9)]);
  assert.equal(workerHours[0]?.bestDiff, null);
  assert.equal(miners[0]?.bestDiff, null);
  assert.equal(miners[0]?.worker, "");
});

Deno.test("aggregateBatch() keeps the first and last sighting, latest region and user agent", () => {
  const connect = (ts: number, ua: string, region: string): MiningEvent => ({
    ...makeEvent(EventType.MinerConnected, region, "stratum-1", {
      user: USER,
      worker: "rig1",
      session_id: "0b",
      ip: "10.0.0.1",
      user_agent: ua,
      resumed: false,
    }),
    timestamp: ts,
  });
  const { miners } = aggregateBatch([
    connect(HOUR + 50, "cgminer/4", "us-east"),
    connect(HOUR + 10, "bitaxe/1", "eu"),
    share("rig1", HOUR + 30, true, 10),
  ]);
  assert.equal(miners.length, 1);
  const miner = miners[0]!;
  assert.equal(miner.firstSeenUs, HOUR + 10);
  assert.equal(miner.lastSeenUs, HOUR + 50);
  assert.equal(miner.userAgent, "cgminer/4");
  assert.equal(miner.region, "us-east");
});

Deno.test("aggregateBatch() takes best_diff from share_best_diff and rows from block_found", () => {
  const best: MiningEvent = makeEvent(EventType.ShareBestDiff, "eu", "s", {
    user: USER,
    worker: "rig1",
    best_diff: 9e9,
    previous_best: 1,
    scope: "worker",
  });
  const block = makeEvent(EventType.BlockFound, "eu", "s", {
    user: USER,
    worker: "rig1",
    height: 7,
    hash: "ab".repeat(32),
    reward_sats: 625_000_000,
    region: "eu",
    accepted: false,
    reject_reason: "high-hash",
    submitted_to: ["local"],
  });
  const network = makeEvent(EventType.NewBlockNetwork, "eu", "s", {
    height: 7,
    hash: "ab".repeat(32),
    prev_hash: "cd".repeat(32),
    source: "zmq",
  });
  const { miners, blocks, workerHours } = aggregateBatch([best, block, network]);
  assert.equal(miners[0]?.bestDiff, 9e9);
  assert.equal(workerHours.length, 0);
  assert.deepEqual(blocks, [{
    hash: "ab".repeat(32),
    height: 7,
    user: USER,
    worker: "rig1",
    rewardSats: 625_000_000,
    region: "eu",
    accepted: false,
    rejectReason: "high-hash",
    foundAtUs: block.timestamp,
    eventId: block.event_id,
  }]);
});

Deno.test("aggregateBatch() sorts rows by key so concurrent transactions lock in one order", () => {
  const events = ["b", "a", "c", "a"].flatMap((user, i) => [
    share("w2", HOUR + i, true, 1, user),
    share("w1", HOUR + i, true, 1, user),
  ]);
  const { miners, workerHours } = aggregateBatch(events);
  assert.deepEqual(miners.map((m) => `${m.user}/${m.worker}`), [
    "a/w1",
    "a/w2",
    "b/w1",
    "b/w2",
    "c/w1",
    "c/w2",
  ]);
  assert.deepEqual(
    workerHours.map((h) => `${h.user}/${h.worker}`),
    miners.map((m) => `${m.user}/${m.worker}`),
  );
});
