import assert from "node:assert/strict";
import { ALL_EVENT_TYPES, EventType, isEventType } from "./event_type.ts";

Deno.test("ALL_EVENT_TYPES lists the nine wire names once each", () => {
  assert.deepEqual([...ALL_EVENT_TYPES].sort(), [
    "asicboost_detected",
    "block_found",
    "diff_updated",
    "hashrate_update",
    "miner_connected",
    "miner_disconnected",
    "new_block_network",
    "share_best_diff",
    "share_submitted",
  ]);
  assert.ok(Object.isFrozen(ALL_EVENT_TYPES));
});

Deno.test("isEventType() accepts wire names only", () => {
  assert.equal(isEventType(EventType.BlockFound), true);
  assert.equal(isEventType("BlockFound"), false);
  assert.equal(isEventType("toString"), false);
  assert.equal(isEventType(undefined), false);
});
