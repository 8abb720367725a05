import assert from "node:assert/strict";
import { EventBuffer, PushResult } from "./event_buffer.ts";
import type { OutboundEvent } from "./outbound_event.ts";

function event(n: number, payloadBytes = 10): OutboundEvent {
  return {
    subject: "mining.events.eu.share_submitted",
    msgId: `id-${n}`,
    payload: new Uint8Array(payloadBytes),
  };
}

function ids(events: readonly OutboundEvent[]): string[] {
  return events.map((e) => e.msgId);
}

Deno.test("EventBuffer returns events in push order across ring wrap-around", () => {
  const buffer = new EventBuffer(4, 0);
  for (let n = 0; n < 3; n++) assert.equal(buffer.push(event(n)), PushResult.Ring);
  assert.deepEqual(ids(buffer.take(2)), ["id-0", "id-1"]);
  for (let n = 3; n < 6; n++) assert.equal(buffer.push(event(n)), PushResult.Ring);
  assert.equal(buffer.length, 4);
  assert.deepEqual(ids(buffer.take(10)), ["id-2", "id-3", "id-4", "id-5"]);
  assert.equal(buffer.shift(), undefined);
});

Deno.test("EventBuffer puts events in the overflow once the ring is full, keeping FIFO order", () => {
  const buffer = new EventBuffer(2, 1_000);
  assert.equal(buffer.push(event(0)), PushResult.Ring);
  assert.equal(buffer.push(event(1)), PushResult.Ring);
  assert.equal(buffer.push(event(2)), PushResult.Overflow);
  assert.equal(buffer.overflowLength, 1);
  assert.equal(buffer.overflowBytes, 10);
  // The ring has room again, but an event must not overtake the one waiting in the overflow.
  assert.equal(buffer.shift()?.msgId, "id-0");
  assert.equal(buffer.push(event(3)), PushResult.Overflow);
  assert.deepEqual(ids(buffer.take(10)), ["id-1", "id-2", "id-3"]);
  assert.equal(buffer.overflowLength, 0);
  assert.equal(buffer.overflowBytes, 0);
  assert.equal(buffer.push(event(4)), PushResult.Ring);
});

Deno.test("EventBuffer refuses an event only when the overflow byte bound is reached", () => {
  const buffer = new EventBuffer(1, 25);
  assert.equal(buffer.push(event(0)), PushResult.Ring);
  assert.equal(buffer.push(event(1)), PushResult.Overflow);
  assert.equal(buffer.push(event(2)), PushResult.Overflow);
  assert.equal(buffer.push(event(3)), PushResult.Refused);
  assert.equal(buffer.length, 3);
  assert.deepEqual(ids(buffer.take(10)), ["id-0", "id-1", "id-2"]);
});

Deno.test("EventBuffer keeps order through a long overflow that is compacted while draining", () => {
  const buffer = new EventBuffer(8, 10_000_000);
  let pushed = 0;
  let taken = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 6_000; i++) buffer.push(event(pushed++, 1));
    for (const e of buffer.take(5_000)) assert.equal(e.msgId, `id-${taken++}`);
  }
  for (const e of buffer.take(Number.MAX_SAFE_INTEGER)) assert.equal(e.msgId, `id-${taken++}`);
  assert.equal(taken, pushed);
  assert.equal(buffer.length, 0);
});

Deno.test("EventBuffer rejects a capacity that is not a positive integer", () => {
  assert.throws(() => new EventBuffer(0, 0), RangeError);
  assert.throws(() => new EventBuffer(1.5, 0), RangeError);
  assert.throws(() => new EventBuffer(1, -1), RangeError);
});
