import assert from "node:assert/strict";
import { EVENT_ID_PATTERN } from "./envelope.ts";
import { eventIdTimeMs, newEventId } from "./event_id.ts";

Deno.test("newEventId() returns a lower-case canonical UUIDv7", () => {
  for (let i = 0; i < 1_000; i++) assert.match(newEventId(), EVENT_ID_PATTERN);
});

Deno.test("newEventId() ids sort in creation order, also within one millisecond", () => {
  const ids = Array.from({ length: 10_000 }, () => newEventId());
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) {
    assert.ok((ids[i - 1] ?? "") < (ids[i] ?? ""), `${ids[i - 1]} !< ${ids[i]}`);
  }
});

Deno.test("newEventId() embeds the wall-clock creation time in milliseconds", () => {
  const before = Date.now();
  const id = newEventId();
  const after = Date.now();
  const timeMs = eventIdTimeMs(id);
  assert.ok(timeMs >= before && timeMs <= after, `${timeMs} not in [${before}, ${after}]`);
});

Deno.test("eventIdTimeMs() reads the 48-bit big-endian timestamp", () => {
  assert.equal(eventIdTimeMs("0190a3b4-7c8d-7000-b123-456789abcdef"), 0x0190a3b47c8d);
  assert.equal(eventIdTimeMs("00000000-0000-7000-8000-000000000000"), 0);
});

Deno.test("eventIdTimeMs() rejects text that is not a UUID", () => {
  assert.throws(() => eventIdTimeMs("not-a-uuid"), SyntaxError);
});
