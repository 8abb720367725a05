import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { type DifficultyMemory, InMemoryDifficultyMemory } from "./difficulty_memory.ts";

const DAY_S = 86_400;
const DAY_MS = DAY_S * 1000;

Deno.test("InMemoryDifficultyMemory returns the last difficulty set for a worker", async () => {
  const memory: DifficultyMemory = new InMemoryDifficultyMemory(
    { reconnect_memory_ttl: DAY_S },
    new ManualClock(0),
  );
  assert.equal(await memory.get("bc1qexample.bitaxe"), undefined);
  memory.set("bc1qexample.bitaxe", 1160);
  memory.set("bc1qexample.bitaxe", 0.00233);
  memory.set("bc1qexample.s19", 233000);
  assert.equal(await memory.get("bc1qexample.bitaxe"), 0.00233);
  assert.equal(await memory.get("bc1qexample.s19"), 233000);
});

Deno.test("InMemoryDifficultyMemory forgets a difficulty exactly reconnect_memory_ttl after set", async () => {
  const clock = new ManualClock(0);
  const memory = new InMemoryDifficultyMemory({ reconnect_memory_ttl: DAY_S }, clock);
  memory.set("w", 512);
  clock.advanceTo(DAY_MS - 1);
  assert.equal(await memory.get("w"), 512);
  clock.advanceTo(DAY_MS);
  assert.equal(await memory.get("w"), undefined);
  assert.equal(memory.size, 0);
});

Deno.test("InMemoryDifficultyMemory restarts the TTL on set but not on get", async () => {
  const clock = new ManualClock(0);
  const memory = new InMemoryDifficultyMemory({ reconnect_memory_ttl: 100 }, clock);
  memory.set("a", 1);
  memory.set("b", 2);
  clock.advanceTo(60_000);
  memory.set("a", 3);
  assert.equal(await memory.get("b"), 2);
  clock.advanceTo(100_000);
  assert.equal(await memory.get("b"), undefined);
  assert.equal(await memory.get("a"), 3);
  clock.advanceTo(160_000);
  assert.equal(await memory.get("a"), undefined);
});

Deno.test("InMemoryDifficultyMemory evicts the least recently set worker at its bound", async () => {
  const memory = new InMemoryDifficultyMemory(
    { reconnect_memory_ttl: DAY_S },
    new ManualClock(0),
    3,
  );
  memory.set("a", 1);
  memory.set("b", 2);
  memory.set("c", 3);
  memory.set("a", 10); // a is now the most recently set
  memory.set("d", 4); // evicts b
  assert.equal(memory.size, 3);
  assert.equal(await memory.get("b"), undefined);
  assert.equal(await memory.get("a"), 10);
  assert.equal(await memory.get("c"), 3);
  assert.equal(await memory.get("d"), 4);
});

Deno.test("InMemoryDifficultyMemory stays within its bound under many workers", () => {
  const memory = new InMemoryDifficultyMemory(
    { reconnect_memory_ttl: DAY_S },
    new ManualClock(0),
    100,
  );
  for (let i = 0; i < 10_000; i++) memory.set(`worker${i}`, i + 1);
  assert.equal(memory.size, 100);
});

Deno.test("InMemoryDifficultyMemory drops expired entries as new ones are set", async () => {
  const clock = new ManualClock(0);
  const memory = new InMemoryDifficultyMemory({ reconnect_memory_ttl: 10 }, clock);
  for (let i = 0; i < 40; i++) memory.set(`old${i}`, 1);
  clock.advanceTo(10_000);
  // Four expired entries go per set, so ten sets clear all forty.
  for (let i = 0; i < 10; i++) memory.set(`new${i}`, 2);
  assert.equal(memory.size, 10);
  assert.equal(await memory.get("new9"), 2);
});

Deno.test("InMemoryDifficultyMemory.purgeExpired() drops only expired entries", () => {
  const clock = new ManualClock(0);
  const memory = new InMemoryDifficultyMemory({ reconnect_memory_ttl: 10 }, clock);
  for (let i = 0; i < 1_000; i++) memory.set(`old${i}`, 1);
  clock.advanceTo(5_000);
  memory.set("fresh", 2);
  clock.advanceTo(10_000);
  assert.equal(memory.purgeExpired(), 1_000);
  assert.equal(memory.size, 1);
});

Deno.test("InMemoryDifficultyMemory rejects invalid settings and difficulties", () => {
  const clock = new ManualClock(0);
  assert.throws(
    () => new InMemoryDifficultyMemory({ reconnect_memory_ttl: -1 }, clock),
    RangeError,
  );
  assert.throws(
    () => new InMemoryDifficultyMemory({ reconnect_memory_ttl: DAY_S }, clock, 0),
    RangeError,
  );
  const memory = new InMemoryDifficultyMemory({ reconnect_memory_ttl: DAY_S }, clock);
  assert.throws(() => memory.set("w", 0), RangeError);
  assert.throws(() => memory.set("w", Number.NaN), RangeError);
  assert.equal(memory.size, 0);
});
