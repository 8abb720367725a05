import assert from "node:assert/strict";
import { EventType, parseEvent } from "@tbg/shared/events";
import { encodedEvents, kindAt, MIX, MIX_TOTAL } from "./event_mix.ts";

const OPTIONS = { users: 50, workersPerUser: 2, region: "eu", source: "stratum-eu-1", seed: 7 };

Deno.test("kindAt() maps uniform draws onto the mix's weights", () => {
  assert.equal(kindAt(0), EventType.ShareSubmitted);
  assert.equal(kindAt(9_499.99 / MIX_TOTAL), EventType.ShareSubmitted);
  assert.equal(kindAt(9_500 / MIX_TOTAL), EventType.HashrateUpdate);
  assert.equal(kindAt(0.999999), MIX.at(-1)![0]);
});

Deno.test("encodedEvents() yields valid events of every kind, on their subjects, with fresh ids", () => {
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  for (const event of encodedEvents(20_000, OPTIONS)) {
    const parsed = parseEvent(event.payload);
    assert.equal(parsed.event, event.type);
    assert.equal(parsed.event_id, event.msgId);
    assert.equal(event.subject, `mining.events.eu.${event.type}`);
    ids.add(event.msgId);
    seen.set(event.type, (seen.get(event.type) ?? 0) + 1);
  }
  assert.equal(ids.size, 20_000);
  assert.equal(seen.size, MIX.length);
  const shares = seen.get(EventType.ShareSubmitted)!;
  assert.ok(shares > 18_500 && shares < 19_500, `share_submitted ${shares} of 20,000`);
});

Deno.test("encodedEvents() makes the same kinds for the same seed", () => {
  const kinds = (seed: number) => [...encodedEvents(500, { ...OPTIONS, seed })].map((e) => e.type);
  assert.deepEqual(kinds(3), kinds(3));
  assert.notDeepEqual(kinds(3), kinds(4));
});

Deno.test("encodedEvents() refuses a mix without users", () => {
  assert.throws(() => [...encodedEvents(1, { ...OPTIONS, users: 0 })], RangeError);
});
