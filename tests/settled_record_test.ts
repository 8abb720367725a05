/**
 * The settled record and the batch script against a real redis-server: each hub stream sequence
 * is settled once, the floor moves over contiguous sequences (across chunk boundaries, in any
 * order), chunks at or below it are deleted, and the keys stay a handful however many events go
 * through. Run with:
 *
 *   deno test --allow-net=127.0.0.1 --allow-read --allow-write --allow-run --allow-env \
 *     tests/settled_record_test.ts
 *
 * Needs the Debian package redis-server; fails, never skips, without it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { EventType, makeEvent, type MiningEvent } from "@tbg/shared/events";
import {
  DEDUP_KEY_PREFIX,
  EntryMode,
  MissingFloorError,
  type RedisEntry,
  RedisStore,
  SETTLED_CHUNK_BITS,
  SETTLED_KEY_PREFIX,
  settledChunkKey,
  settledFloorKey,
  type StreamIdentity,
  workerKey,
} from "@tbg/collector";
import { regtestAddress } from "./support/addresses.ts";
import { startRedisServer } from "./support/servers/redis_server.ts";
import { keysMatching } from "./support/redis_keys.ts";

const USER = regtestAddress("p2wpkh", 1).address;
const IDENTITY: StreamIdentity = {
  stream: "MINING_EVENTS",
  created: "2026-12-07T12:00:00.123456789Z",
  filter: "mining.events.>",
};
const SLOW = { sanitizeOps: false, sanitizeResources: false } as const;

function share(worker: string, n: number): MiningEvent {
  return makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
    user: USER,
    worker,
    session_id: "0a",
    job_id: "1",
    share_diff: 1000 + n,
    pool_diff: 512,
    accepted: true,
    block_candidate: false,
  });
}

function apply(seq: number, event: MiningEvent): RedisEntry {
  return { seq, mode: EntryMode.apply, event };
}

async function withRedis(body: (store: RedisStore, rc: Redis) => Promise<void>): Promise<void> {
  const server = await startRedisServer();
  const store = new RedisStore(server.url);
  const rc = new Redis(server.url);
  try {
    // The store sends nothing before it is connected (no offline queue).
    for (let i = 0; i < 100 && !store.ready; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(store.ready, "the store connected to redis-server");
    await body(store, rc);
  } finally {
    rc.disconnect();
    await store.close();
    await server.stop();
  }
}

Deno.test({
  name: "RedisStore.apply() refuses a record without a floor and writes nothing",
  ...SLOW,
  fn: () =>
    withRedis(async (store, rc) => {
      await assert.rejects(store.apply(IDENTITY, [apply(1, share("w", 1))]), MissingFloorError);
      assert.equal(await rc.dbsize(), 0);
      assert.equal(await store.initFloor(IDENTITY, 0), 0);
      assert.equal(await store.initFloor(IDENTITY, 50), 0, "init keeps an existing floor");
      const result = await store.apply(IDENTITY, [apply(1, share("w", 1))]);
      assert.equal(result.applied, 1);
      assert.equal(result.floor, 1);
    }),
});

Deno.test({
  name: "a redelivered sequence is applied once, however long after, with no per-event keys",
  ...SLOW,
  fn: () =>
    withRedis(async (store, rc) => {
      await store.initFloor(IDENTITY, 0);
      const events = Array.from({ length: 10 }, (_, n) => share("rig1", n));
      const first = await store.apply(IDENTITY, events.map((e, i) => apply(i + 1, e)));
      assert.deepEqual([first.applied, first.duplicates, first.floor], [10, 0, 10]);

      // Later traffic moves the floor on across a chunk boundary; then "a day later" the first
      // messages come back (a redelivery after a lost ack, a replay of the consumer). The old
      // per-event dedup keys would have expired by then: delete whatever of them exists.
      const later: RedisEntry[] = [];
      for (let seq = 11; seq <= SETTLED_CHUNK_BITS + 100; seq++) {
        later.push({ seq, mode: EntryMode.mark });
      }
      for (let i = 0; i < later.length; i += 5_000) {
        await store.apply(IDENTITY, later.slice(i, i + 5_000));
      }
      for (const key of await keysMatching(rc, `${DEDUP_KEY_PREFIX}*`)) await rc.del(key);
      const again = await store.apply(IDENTITY, events.map((e, i) => apply(i + 1, e)));
      assert.deepEqual([again.applied, again.duplicates], [0, 10]);
      const hash = await rc.hgetall(workerKey(USER, "rig1"));
      assert.equal(hash.shares_accepted, "10", "counted once");
      assert.equal(await rc.xlen("tbg:stream:share_submitted"), 10);
      assert.deepEqual(await keysMatching(rc, `${DEDUP_KEY_PREFIX}*`), []);
      assert.deepEqual(await keysMatching(rc, `${SETTLED_KEY_PREFIX}*`), [
        settledChunkKey(IDENTITY, 1),
        settledFloorKey(IDENTITY),
      ]);
      assert.equal(await store.floor(IDENTITY), SETTLED_CHUNK_BITS + 100);
    }),
});

Deno.test({
  name: "the floor waits for a gap, then moves over it once filled, in any order, across chunks",
  ...SLOW,
  fn: () =>
    withRedis(async (store, rc) => {
      const base = SETTLED_CHUNK_BITS - 3;
      await store.initFloor(IDENTITY, base - 1);
      // base+1 .. base+6 settled (crossing into chunk 1), base itself missing.
      const after = await store.apply(
        IDENTITY,
        [6, 2, 4, 1, 3, 5].map((k) => ({ seq: base + k, mode: EntryMode.mark })),
      );
      assert.equal(after.floor, base - 1, "a gap holds the floor");
      assert.equal(await rc.exists(settledChunkKey(IDENTITY, 0)), 1);
      // Another collector settles the gap with an apply entry: the floor jumps to base+6 and the
      // chunk wholly below it (chunk 0) is deleted.
      const filled = await store.apply(IDENTITY, [apply(base, share("w", 0))]);
      assert.deepEqual([filled.applied, filled.floor], [1, base + 6]);
      assert.equal(await rc.exists(settledChunkKey(IDENTITY, 0)), 0);
      // In one call, a repeat of the same sequence is settled once (first entry wins).
      const repeat = await store.apply(IDENTITY, [
        apply(base + 7, share("w", 7)),
        { seq: base + 7, mode: EntryMode.mark },
        apply(base + 7, share("w", 7)),
      ]);
      assert.deepEqual([repeat.applied, repeat.duplicates, repeat.floor], [1, 1, base + 7]);
      assert.equal((await rc.hgetall(workerKey(USER, "w"))).shares_accepted, "2");
    }),
});

Deno.test({
  name: "a mark entry settles its sequence without effects; a legacy entry also honours old keys",
  ...SLOW,
  fn: () =>
    withRedis(async (store, rc) => {
      await store.initFloor(IDENTITY, 0);
      const old = share("legacy", 1);
      const fresh = share("legacy", 2);
      // The collector before stream sequences left a dedup key for `old`.
      await rc.set(`${DEDUP_KEY_PREFIX}${old.event_id}`, "1", "EX", 86_400);
      const result = await store.apply(IDENTITY, [
        { seq: 1, mode: EntryMode.mark },
        { seq: 2, mode: EntryMode.legacy, event: old },
        { seq: 3, mode: EntryMode.legacy, event: fresh },
        { seq: 4, mode: EntryMode.legacy, event: fresh },
      ]);
      assert.deepEqual([result.applied, result.duplicates, result.floor], [1, 2, 4]);
      assert.equal((await rc.hgetall(workerKey(USER, "legacy"))).shares_accepted, "1");
      assert.equal(await rc.xlen("tbg:stream:share_submitted"), 1);
    }),
});

Deno.test({
  name: "raiseFloor() settles sequences that will never come, deletes their chunks, moves on",
  ...SLOW,
  fn: () =>
    withRedis(async (store, rc) => {
      await assert.rejects(store.raiseFloor(IDENTITY, 5), MissingFloorError);
      await store.initFloor(IDENTITY, 0);
      // Settled far above a hole (a discarded range, or an operator's deleted message).
      const high = 3 * SETTLED_CHUNK_BITS + 10;
      await store.apply(IDENTITY, [
        { seq: 5, mode: EntryMode.mark },
        { seq: high + 1, mode: EntryMode.mark },
        { seq: high + 2, mode: EntryMode.mark },
      ]);
      assert.equal(await store.floor(IDENTITY), 0);
      assert.equal(await store.raiseFloor(IDENTITY, high), high + 2);
      assert.deepEqual(await keysMatching(rc, `${SETTLED_KEY_PREFIX}*`), [
        settledChunkKey(IDENTITY, 3),
        settledFloorKey(IDENTITY),
      ]);
      assert.equal(await store.raiseFloor(IDENTITY, 7), high + 2, "never lowered");
      const late = await store.apply(IDENTITY, [apply(5, share("w", 5))]);
      assert.equal(late.applied, 0, "a sequence at or below the floor is settled");
      assert.equal(await rc.exists(settledChunkKey(IDENTITY, 0)), 0, "and writes no chunk");
    }),
});

Deno.test({
  name: "another stream incarnation or filter has its own record",
  ...SLOW,
  fn: () =>
    withRedis(async (store) => {
      const recreated = { ...IDENTITY, created: "2026-12-08T00:00:00Z" };
      await store.initFloor(IDENTITY, 0);
      await store.initFloor(recreated, 0);
      const event = share("w", 1);
      assert.equal((await store.apply(IDENTITY, [apply(1, event)])).applied, 1);
      // Sequence 1 of the new stream is another message.
      assert.equal((await store.apply(recreated, [apply(1, share("w", 2))])).applied, 1);
      assert.equal(await store.floor(IDENTITY), 1);
    }),
});

Deno.test({
  name: "the settled record stays two keys and 8 KiB while 200,000 events go through",
  ...SLOW,
  fn: () =>
    withRedis(async (store, rc) => {
      await store.initFloor(IDENTITY, 0);
      const TOTAL = 200_000;
      const STEP = 20_000;
      const samples: { events: number; keys: number; bytes: number }[] = [];
      let seq = 0;
      for (let done = 0; done < TOTAL; done += STEP) {
        // Two batches in flight, settled out of order, as two collectors would.
        const entries: RedisEntry[] = [];
        for (let i = 0; i < STEP; i++) {
          seq++;
          entries.push(
            i % 10 === 0 ? apply(seq, share(`w${i % 7}`, seq)) : { seq, mode: EntryMode.mark },
          );
        }
        const half = STEP / 2;
        await store.apply(IDENTITY, entries.slice(half));
        await store.apply(IDENTITY, entries.slice(0, half));
        const keys = await keysMatching(rc, `${SETTLED_KEY_PREFIX}*`);
        let bytes = 0;
        for (const key of keys) bytes += Number(await rc.memory("USAGE", key));
        samples.push({ events: done + STEP, keys: keys.length, bytes });
      }
      await Deno.stdout.write(
        new TextEncoder().encode(`\nsettled record: ${JSON.stringify(samples)}\n`),
      );
      assert.equal(await store.floor(IDENTITY), TOTAL);
      for (const sample of samples) {
        assert.ok(sample.keys <= 2, `at most the floor and one chunk: ${JSON.stringify(sample)}`);
        assert.ok(sample.bytes <= 2 * 8192 + 512, `bounded bytes: ${JSON.stringify(sample)}`);
      }
      assert.deepEqual(await keysMatching(rc, `${DEDUP_KEY_PREFIX}*`), []);
    }),
});
