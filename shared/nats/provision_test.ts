import assert from "node:assert/strict";
import { AckPolicy, StorageType } from "nats/jetstream";
import {
  consumerConfig,
  EVENT_PIPELINE_DESCRIPTION,
  GAME_ENGINE_DURABLE,
  miningEventsConsumers,
} from "./consumers.ts";
import {
  conflictError,
  describeChanges,
  diffConsumer,
  diffStream,
  type ProvisionPlan,
} from "./provision.ts";
import { miningEventsStreamConfig } from "./stream.ts";

Deno.test("diffStream() ignores fields it does not manage and flags storage as immutable", () => {
  const wanted = miningEventsStreamConfig();
  const current = { ...wanted, sources: [{ name: "EVENTS_US" }], max_msgs: -1 };
  assert.deepEqual(diffStream(current, wanted), []);
  const changes = diffStream(
    { ...current, storage: StorageType.Memory, max_age: 3_600_000_000_000 },
    wanted,
  );
  assert.deepEqual(changes, [
    { field: "storage", current: "memory", wanted: "file", immutable: true },
    { field: "max_age", current: 3_600_000_000_000, wanted: wanted.max_age, immutable: false },
  ]);
});

Deno.test("diffConsumer() treats a missing filter as every event and flags ack_policy", () => {
  const [wanted] = miningEventsConsumers();
  const { filter_subject: _filter, ...unfiltered } = wanted!;
  assert.deepEqual(diffConsumer(unfiltered, wanted!), []);
  assert.deepEqual(
    diffConsumer({ ...wanted!, ack_policy: AckPolicy.None, max_deliver: 5 }, wanted!),
    [
      { field: "ack_policy", current: "none", wanted: "explicit", immutable: true },
      { field: "max_deliver", current: 5, wanted: -1, immutable: false },
    ],
  );
});

Deno.test("miningEventsConsumers() are event-pipeline as a collector makes it, and game-engine", () => {
  const [pipeline, game] = miningEventsConsumers();
  assert.deepEqual(pipeline, consumerConfig("event-pipeline", "mining.events.>"));
  assert.equal(pipeline?.description, EVENT_PIPELINE_DESCRIPTION);
  assert.equal(game?.durable_name, GAME_ENGINE_DURABLE);
  assert.deepEqual(
    { ...game, durable_name: "", description: "" },
    { ...pipeline, durable_name: "", description: "" },
    "both read every event with the same ack settings",
  );
});

Deno.test("conflictError() names each immutable field with both values", () => {
  const plan: ProvisionPlan = {
    kind: "stream",
    name: "MINING_EVENTS",
    stream: "MINING_EVENTS",
    action: "conflict",
    changes: [
      { field: "storage", current: "memory", wanted: "file", immutable: true },
      { field: "max_age", current: 1, wanted: 2, immutable: false },
    ],
    wanted: miningEventsStreamConfig(),
  };
  const error = conflictError(plan);
  assert.ok(error instanceof RangeError);
  assert.equal(
    error.message,
    'Cannot update stream "MINING_EVENTS": storage cannot be changed on an existing stream ' +
      '(storage: "memory" → "file"); delete the stream (its messages are lost) or move them to ' +
      "a new one",
  );
  assert.equal(
    describeChanges([{ field: "description", current: undefined, wanted: "x", immutable: false }]),
    'description: unset → "x"',
  );
});
