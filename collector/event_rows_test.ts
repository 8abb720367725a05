import assert from "node:assert/strict";
import fc from "fast-check";
import { EventType, makeEvent } from "@tbg/shared/events";
import { copyText, eventRowsCopy, eventRowsJson, microsToIso } from "./event_rows.ts";

Deno.test("microsToIso() keeps all six fractional digits", () => {
  assert.equal(microsToIso(1_716_556_800_123_456), "2024-05-24T13:20:00.123456Z");
  assert.equal(microsToIso(1_716_556_800_000_001), "2024-05-24T13:20:00.000001Z");
  assert.equal(microsToIso(0), "1970-01-01T00:00:00.000000Z");
});

Deno.test("microsToIso() agrees with Date for any microsecond, in any order (property)", () => {
  const reference = (us: number) =>
    `${new Date(Math.floor(us / 1000)).toISOString().slice(0, -1)}${
      String(us % 1000).padStart(3, "0")
    }Z`;
  // Neighbouring values exercise the per-second cache on both sides of a second boundary.
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.integer({ min: -2_000_000, max: 2_000_000 }), (us, step) => {
      assert.equal(microsToIso(us), reference(us));
      const next = Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, us + step));
      assert.equal(microsToIso(next), reference(next));
    }),
    { numRuns: 5_000 },
  );
});

Deno.test("microsToIso() rejects negative and fractional values", () => {
  assert.throws(() => microsToIso(-1), RangeError);
  assert.throws(() => microsToIso(1.5), RangeError);
});

Deno.test("eventRowsJson() carries id, type, region, source, exact time, the data and the stream sequence", () => {
  const event = {
    ...makeEvent(EventType.DiffUpdated, "us-east", "stratum-us-1", {
      user: "bcrt1quser",
      worker: 'rig "1"',
      session_id: "0a",
      old_diff: 1,
      new_diff: 2.5,
      reason: "vardiff" as const,
    }),
    timestamp: 1_716_556_800_654_321,
  };
  assert.deepEqual(JSON.parse(eventRowsJson([event])), [{
    i: event.event_id,
    t: "diff_updated",
    r: "us-east",
    s: "stratum-us-1",
    ts: "2024-05-24T13:20:00.654321Z",
    p: event.data,
    q: null,
  }]);
  const [row] = JSON.parse(eventRowsJson([event], new Map([[event.event_id, 9_007_199_254]])));
  assert.equal(row.q, 9_007_199_254, "the hub stream sequence when known");
});

Deno.test("copyText() escapes what COPY's text format reads specially, and nothing else", () => {
  assert.equal(copyText("plain ünï €"), "plain ünï €");
  assert.equal(copyText("a\\b\tc\nd\re"), "a\\\\b\\tc\\nd\\re");
  assert.equal(copyText("\\N"), "\\\\N", "a literal \\N is not NULL");
});

Deno.test("eventRowsCopy() writes one tab-separated line per event, \\N for no sequence", () => {
  const diff = (worker: string, timestamp: number) => ({
    ...makeEvent(EventType.DiffUpdated, "eu", "s1", {
      user: "bcrt1quser",
      worker,
      session_id: "0a",
      old_diff: 1,
      new_diff: 2,
      reason: "vardiff" as const,
    }),
    timestamp,
  });
  const a = diff("back\\slash\ttab", 5);
  const b = diff("plain", 6);
  const lines = eventRowsCopy([a, b], new Map([[a.event_id, 42]])).split("\n");
  assert.equal(lines.length, 3);
  assert.equal(lines[2], "");
  const fields = lines[0]!.split("\t");
  assert.deepEqual(fields.slice(0, 5), [
    a.event_id,
    "diff_updated",
    "eu",
    "s1",
    "1970-01-01T00:00:00.000005Z",
  ]);
  // JSON escapes the tab and the backslash; COPY then doubles every backslash.
  assert.ok(fields[5]!.includes('"worker":"back\\\\\\\\slash\\\\ttab"'), fields[5]);
  assert.equal(fields[6], "42");
  assert.equal(lines[1]!.split("\t")[6], "\\N");
});
