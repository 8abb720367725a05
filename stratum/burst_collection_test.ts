import assert from "node:assert/strict";
import { BurstCollection, POOL_BURST_COLLECTION } from "./burst_collection.ts";

/**
 * Feeds one tick per second with `opens[i]` new connections (and `waiting[i]` of the open ones
 * not authorized yet, none if not given); the seconds at which it collects.
 */
function run(
  policy: BurstCollection,
  opens: readonly number[],
  startS = 0,
  base = 0,
  waiting: readonly number[] = [],
): number[] {
  const collected: number[] = [];
  let total = base;
  policy.onTick(startS * 1000, total, 0);
  opens.forEach((n, i) => {
    total += n;
    const second = startS + i + 1;
    if (policy.onTick(second * 1000, total, waiting[i] ?? 0)) collected.push(second);
  });
  return collected;
}

Deno.test("BurstCollection leaves a ramp of 1,000 miners to V8", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  assert.deepEqual(run(policy, [200, 200, 200, 200, 200, 0, 0, 0, 0]), []);
});

Deno.test("BurstCollection collects once, two quiet ticks after a ramp of 10,000 miners", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  // A 10 s ramp at 1,000 a second, then a few stragglers.
  const ramp = [...Array(10).fill(1_000), 3, 0, 0, 0, 0, 0];
  assert.deepEqual(run(policy, ramp), [12]);
  assert.equal(policy.pendingBurstOpens, 0);
});

Deno.test("BurstCollection waits for the handshakes a busy process has not read yet", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  // Accepts stopped after 5,000, but 3,000, then 800, then 40 were still to authorize.
  const opens = [2_500, 2_500, 0, 0, 0, 0, 0];
  const waiting = [2_000, 3_000, 3_000, 800, 40, 0, 0];
  assert.deepEqual(run(policy, opens, 0, 0, waiting), [6]);
});

Deno.test("BurstCollection never collects for a steady trickle of reconnects", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  // 99 a second for 10 minutes: 59,400 connections, never a burst tick.
  assert.deepEqual(run(policy, Array(600).fill(99)), []);
});

Deno.test("BurstCollection forgets bursts too small to matter", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  // Bursts of 2,500 separated by quiet seconds never add up to a collection.
  const opens = Array.from({ length: 60 }, (_, i) => i % 5 === 0 ? 2_500 : 0);
  assert.deepEqual(run(policy, opens), []);
});

Deno.test("BurstCollection waits through a one-second lull inside a burst", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  // 3,000, lull, 3,000: one burst of 6,000 whose end is two quiet ticks after the second part.
  assert.deepEqual(run(policy, [3_000, 0, 3_000, 0, 0, 0]), [5]);
});

Deno.test("BurstCollection keeps collections a minute apart under repeated floods", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  // Floods of 6,000 connections every 10 s for 3 minutes.
  const opens = Array.from({ length: 180 }, (_, i) => i % 10 === 0 ? 6_000 : 0);
  const collected = run(policy, opens);
  assert.deepEqual(collected, [3, 63, 123]);
  for (let i = 1; i < collected.length; i++) {
    assert.ok(collected[i]! - collected[i - 1]! >= 60);
  }
});

Deno.test("BurstCollection collects a burst held back by the interval once it may", () => {
  const policy = new BurstCollection({ ...POOL_BURST_COLLECTION, minIntervalMs: 30_000 });
  const first = run(policy, [5_000, 0, 0]);
  assert.deepEqual(first, [3]);
  // A second burst 10 s later waits until 30 s after the first collection.
  const opens = [...Array(7).fill(0), 5_000, ...Array(30).fill(0)];
  assert.deepEqual(run(policy, opens, 3, 5_000), [33]);
});

Deno.test("BurstCollection counts from the first tick, not from the process's start", () => {
  const policy = new BurstCollection(POOL_BURST_COLLECTION);
  // The engine had opened 50,000 connections before the policy's first tick: not a burst.
  assert.deepEqual(run(policy, [0, 0, 0], 0, 50_000), []);
});
