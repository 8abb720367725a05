import assert from "node:assert/strict";
import { EVENT_LIMITS } from "../events/mod.ts";
import { blockRejectReason } from "./block_reject_reason.ts";

Deno.test("blockRejectReason() names every target's answer, local error and primary verdict", () => {
  assert.equal(
    blockRejectReason([
      { target: "http://127.0.0.1:18443", result: "Cannot call submitblock: connection refused" },
      { target: "primary", result: "bad-prevblk" },
    ]),
    "http://127.0.0.1:18443: Cannot call submitblock: connection refused; primary: bad-prevblk",
  );
});

Deno.test("blockRejectReason() skips targets that accepted and is undefined when none answered", () => {
  assert.equal(
    blockRejectReason([{ target: "a", result: null }, { target: "b", result: "high-hash" }]),
    "b: high-hash",
  );
  assert.equal(blockRejectReason([{ target: "a", result: null }]), undefined);
  assert.equal(blockRejectReason([]), undefined);
});

Deno.test("blockRejectReason() stays within the event's reason limit", () => {
  const long = "x".repeat(EVENT_LIMITS.maxReasonLength);
  const reason = blockRejectReason([{ target: "a", result: long }, { target: "b", result: long }])!;
  assert.equal(reason.length, EVENT_LIMITS.maxReasonLength);
  assert.ok(reason.startsWith("a: xxx"));
  assert.ok(reason.endsWith("…"));
});
