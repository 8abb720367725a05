import assert from "node:assert/strict";
import { type Reconnectable, spreadReconnects } from "./reconnect_spread.ts";

/** Miners that record the fake time they were told at. */
function miners(count: number, clock: { nowMs: number }): (Reconnectable & { at: number[] })[] {
  return Array.from({ length: count }, () => {
    const at: number[] = [];
    return { at, sendReconnect: () => at.push(clock.nowMs) };
  });
}

function fakeSleep(clock: { nowMs: number }): (ms: number) => Promise<void> {
  return (ms) => {
    clock.nowMs += ms;
    return Promise.resolve();
  };
}

Deno.test("spreadReconnects() tells every miner once, in equal batches from 0 to the window", async () => {
  const clock = { nowMs: 0 };
  const list = miners(100, clock);
  const told = await spreadReconnects(list, {
    windowMs: 1_000,
    stepMs: 100,
    isConnected: () => true,
    sleep: fakeSleep(clock),
  });
  assert.equal(told, 100);
  assert.ok(list.every((m) => m.at.length === 1), "each told exactly once");
  const times = list.map((m) => m.at[0]!);
  assert.equal(times[0], 0);
  assert.equal(Math.round(times.at(-1)!), 1_000);
  // 11 batches (0, 100, …, 1000 ms) of 9 or 10 miners, oldest first.
  const perBatch = new Map<number, number>();
  for (const t of times) perBatch.set(Math.round(t), (perBatch.get(Math.round(t)) ?? 0) + 1);
  assert.equal(perBatch.size, 11);
  assert.ok(
    [...perBatch.values()].every((n) => n === 9 || n === 10),
    JSON.stringify([...perBatch]),
  );
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
});

Deno.test("spreadReconnects() with a zero window tells everyone at once, without sleeping", async () => {
  const clock = { nowMs: 0 };
  const list = miners(5, clock);
  const told = await spreadReconnects(list, {
    windowMs: 0,
    isConnected: () => true,
    sleep: () => Promise.reject(new Error("must not sleep")),
  });
  assert.equal(told, 5);
  assert.ok(list.every((m) => m.at[0] === 0));
});

Deno.test("spreadReconnects() never makes more batches than miners", async () => {
  const clock = { nowMs: 0 };
  const list = miners(3, clock);
  await spreadReconnects(list, {
    windowMs: 10_000,
    stepMs: 50,
    isConnected: () => true,
    sleep: fakeSleep(clock),
  });
  assert.deepEqual(list.map((m) => m.at), [[0], [5_000], [10_000]]);
});

Deno.test("spreadReconnects() skips miners that already left and stops when aborted", async () => {
  const clock = { nowMs: 0 };
  const list = miners(10, clock);
  const gone = new Set([list[1], list[2]]);
  const abort = new AbortController();
  const told = await spreadReconnects(list, {
    windowMs: 900,
    stepMs: 100,
    isConnected: (m) => !gone.has(m as (typeof list)[number]),
    sleep: (ms) => {
      clock.nowMs += ms;
      if (clock.nowMs >= 400) abort.abort();
      return Promise.resolve();
    },
    signal: abort.signal,
  });
  // Batches of one at 0, 100, 200, 300 ms; miners 1 and 2 had left; aborted at 400 ms.
  assert.equal(told, 2);
  assert.deepEqual(list.map((m) => m.at.length), [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
});

Deno.test("spreadReconnects() refuses a negative window or a zero step", async () => {
  await assert.rejects(
    spreadReconnects([], { windowMs: -1, isConnected: () => true }),
    /Cannot spread reconnects: window -1 ms is not >= 0/,
  );
  await assert.rejects(
    spreadReconnects([], { windowMs: 10, stepMs: 0, isConnected: () => true }),
    /Cannot spread reconnects: step 0 ms is not > 0/,
  );
});
