import assert from "node:assert/strict";
import type { StreamAPI, StreamConfig } from "nats/jetstream";
import { MINING_EVENTS_STREAM, miningEventsStreamConfig } from "./stream.ts";

/** What `jsm.streams.add()` accepts. */
type StreamAddConfig = Parameters<StreamAPI["add"]>[0];

// Type-level checks: these assignments fail to compile if the config drifts from the client's
// StreamConfig (wrong key, wrong enum value, wrong type).
const _addable: StreamAddConfig = miningEventsStreamConfig();
const _partial: Partial<StreamConfig> = miningEventsStreamConfig();
type ExtraKeys = Exclude<keyof typeof MINING_EVENTS_STREAM, keyof StreamConfig>;
const _noExtraKeys: [ExtraKeys] extends [never] ? true : false = true;
void _addable;
void _partial;
void _noExtraKeys;

Deno.test("MINING_EVENTS_STREAM is a limits-retention file stream over mining.events.>", () => {
  assert.equal(MINING_EVENTS_STREAM.name, "MINING_EVENTS");
  assert.deepEqual(MINING_EVENTS_STREAM.subjects, ["mining.events.>"]);
  assert.equal(MINING_EVENTS_STREAM.storage, "file");
  assert.equal(MINING_EVENTS_STREAM.retention, "limits");
  assert.equal(MINING_EVENTS_STREAM.discard, "old");
  assert.equal(MINING_EVENTS_STREAM.num_replicas, 1);
});

Deno.test("MINING_EVENTS_STREAM limits are 24 h, 10 GiB and a 2 min duplicate window in ns", () => {
  assert.equal(MINING_EVENTS_STREAM.max_age, 24 * 3600 * 1_000_000_000);
  assert.equal(MINING_EVENTS_STREAM.max_bytes, 10 * 1024 * 1024 * 1024);
  assert.equal(MINING_EVENTS_STREAM.duplicate_window, 120 * 1_000_000_000);
});

Deno.test("MINING_EVENTS_STREAM is frozen and miningEventsStreamConfig() returns a free copy", () => {
  assert.ok(Object.isFrozen(MINING_EVENTS_STREAM));
  assert.ok(Object.isFrozen(MINING_EVENTS_STREAM.subjects));
  const copy = miningEventsStreamConfig();
  assert.deepEqual(copy, { ...MINING_EVENTS_STREAM, subjects: ["mining.events.>"] });
  copy.subjects.push("other.>");
  (copy as { mirror?: unknown }).mirror = undefined;
  assert.deepEqual(MINING_EVENTS_STREAM.subjects, ["mining.events.>"]);
  assert.equal("mirror" in MINING_EVENTS_STREAM, false);
});
