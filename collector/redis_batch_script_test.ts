import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { EventType, makeEvent } from "@tbg/shared/events";
import {
  BATCH_SCRIPT,
  BATCH_SCRIPT_SHA1,
  batchScriptArgs,
  DEDUP_KEY_PREFIX,
  DEDUP_TTL_SECONDS,
  EntryMode,
  eventScriptFields,
  FIELDS_PER_EVENT,
  RECENT_BLOCKS_LIMIT,
  STREAM_MAXLEN,
  workerKey,
} from "./redis_batch_script.ts";
import { FLOOR_SCRIPT, settledChunkKey, settledFloorKey } from "./settled_record.ts";

const USER = "bcrt1qexampleuser0";

Deno.test("eventScriptFields() gives a share its worker key, accepted flag and difficulty", () => {
  const share = makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
    user: USER,
    worker: "rig:1",
    session_id: "0a",
    job_id: "1",
    share_diff: 1234.5,
    pool_diff: 512,
    accepted: true,
    block_candidate: false,
  });
  assert.deepEqual(eventScriptFields(share), [
    "share_submitted",
    share.event_id,
    "eu",
    "stratum-eu-1",
    String(share.timestamp),
    JSON.stringify(share.data),
    `tbg:worker:${USER}:rig:1`,
    "1",
    "1234.5",
    "",
  ]);
});

Deno.test("eventScriptFields() names sessions by source and id, network tips by height", () => {
  const connected = makeEvent(EventType.MinerConnected, "us-east", "stratum-us-2", {
    user: USER,
    worker: "",
    session_id: "00ff",
    ip: "10.0.0.1",
    user_agent: "bitaxe/2.1",
    resumed: true,
  });
  assert.deepEqual(eventScriptFields(connected).slice(6), [
    workerKey(USER, ""),
    "stratum-us-2:00ff",
    "bitaxe/2.1",
    "",
  ]);
  const tip = makeEvent(EventType.NewBlockNetwork, "eu", "s", {
    height: 840_000,
    hash: "11".repeat(32),
    prev_hash: "22".repeat(32),
    source: "zmq",
  });
  assert.deepEqual(eventScriptFields(tip).slice(6), [
    "",
    "840000",
    "11".repeat(32),
    "22".repeat(32),
  ]);
});

Deno.test("every event type yields the same number of script fields", () => {
  const events = [
    makeEvent(EventType.BlockFound, "eu", "s", {
      user: USER,
      worker: "w",
      height: 1,
      hash: "ab".repeat(32),
      reward_sats: 1,
      region: "eu",
      accepted: true,
      submitted_to: [],
    }),
    makeEvent(EventType.MinerDisconnected, "eu", "s", {
      user: USER,
      worker: "w",
      session_id: "01",
      ip: "10.0.0.1",
      reason: "eof",
      duration_s: 1,
      shares_accepted: 0,
      shares_rejected: 0,
    }),
    makeEvent(EventType.DiffUpdated, "eu", "s", {
      user: USER,
      worker: "w",
      session_id: "01",
      old_diff: 1,
      new_diff: 2,
      reason: "vardiff",
    }),
    makeEvent(EventType.HashrateUpdate, "eu", "s", {
      user: USER,
      worker: "w",
      hashrate_1m: 1,
      hashrate_5m: 2,
      hashrate_1h: 3,
      shares_1m: 4,
    }),
    makeEvent(EventType.ShareBestDiff, "eu", "s", {
      user: USER,
      worker: "w",
      best_diff: 5,
      previous_best: 4,
      scope: "user",
    }),
    makeEvent(EventType.AsicboostDetected, "eu", "s", {
      user: USER,
      worker: "w",
      session_id: "01",
      version_mask: "1fffe000",
      version_bits: "00002000",
    }),
  ];
  for (const event of events) {
    const fields = eventScriptFields(event);
    assert.equal(fields.length, FIELDS_PER_EVENT, event.event);
    assert.ok(fields.every((field) => typeof field === "string"), event.event);
  }
});

Deno.test("batchScriptArgs() sends the settings and the entries as one JSON argument", () => {
  const share = makeEvent(EventType.ShareBestDiff, "eu", "s", {
    user: USER,
    worker: "w",
    best_diff: 5,
    previous_best: 4,
    scope: "worker",
  });
  const prefix = "tbg:settled:MINING_EVENTS:2026-12-07T00:00:00Z:mining.events.>:";
  const args = batchScriptArgs(prefix, [
    { seq: 7, mode: EntryMode.apply, event: share },
    { seq: 8, mode: EntryMode.mark },
    { seq: 9, mode: EntryMode.legacy, event: share },
  ]);
  assert.deepEqual(args.slice(0, 4), [
    prefix,
    String(DEDUP_TTL_SECONDS),
    String(STREAM_MAXLEN),
    String(RECENT_BLOCKS_LIMIT),
  ]);
  assert.equal(args.length, 5);
  assert.deepEqual(JSON.parse(args[4]!), [
    [7, "a", ...eventScriptFields(share)],
    [8, "m"],
    [9, "l", ...eventScriptFields(share)],
  ]);
});

Deno.test("BATCH_SCRIPT declares its flags, checks the floor before writing, SHA-1 matches", () => {
  assert.ok(BATCH_SCRIPT.startsWith("#!lua\n"));
  const floorCheck = BATCH_SCRIPT.indexOf("return redis.error_reply('NOFLOOR");
  const firstWrite = BATCH_SCRIPT.indexOf("redis.call('SETBIT'");
  assert.ok(floorCheck > 0 && floorCheck < firstWrite, "NOFLOOR answered before any write");
  // The legacy dedup key is only consulted for legacy entries.
  assert.ok(BATCH_SCRIPT.includes(`if fresh and mode == 'l' then`));
  assert.ok(BATCH_SCRIPT.includes(`redis.call('SET', '${DEDUP_KEY_PREFIX}' .. id, '1', 'NX'`));
  assert.equal(BATCH_SCRIPT_SHA1, createHash("sha1").update(BATCH_SCRIPT).digest("hex"));
});

Deno.test("settled keys name the stream, its creation time and the filter", () => {
  const identity = { stream: "MINING_EVENTS", created: "2026-12-07T00:00:00Z", filter: "f.>" };
  assert.equal(
    settledFloorKey(identity),
    "tbg:settled:MINING_EVENTS:2026-12-07T00:00:00Z:f.>:floor",
  );
  assert.equal(
    settledChunkKey(identity, 3),
    "tbg:settled:MINING_EVENTS:2026-12-07T00:00:00Z:f.>:bits:3",
  );
  assert.ok(FLOOR_SCRIPT.startsWith("#!lua\n"));
});
