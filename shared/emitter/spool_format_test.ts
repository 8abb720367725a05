import assert from "node:assert/strict";
import type { OutboundEvent } from "./outbound_event.ts";
import {
  decodeSegment,
  encodeRecords,
  MAX_RECORD_BODY_BYTES,
  RECORD_HEADER_BYTES,
  SEGMENT_MAGIC,
} from "./spool_format.ts";

const utf8 = new TextEncoder();

function sample(n: number): OutboundEvent {
  return {
    subject: `mining.events.eu.${n % 2 === 0 ? "share_submitted" : "miner_connected"}`,
    msgId: `0190a3b4-7c8d-7000-b123-${String(n).padStart(12, "0")}`,
    payload: utf8.encode(JSON.stringify({ n, text: "é".repeat(n % 5) })),
  };
}

function segment(events: readonly OutboundEvent[]): Uint8Array {
  const records = encodeRecords(events);
  const bytes = new Uint8Array(SEGMENT_MAGIC.length + records.length);
  bytes.set(SEGMENT_MAGIC);
  bytes.set(records, SEGMENT_MAGIC.length);
  return bytes;
}

function plain(events: readonly OutboundEvent[]) {
  return events.map((e) => ({ subject: e.subject, msgId: e.msgId, payload: [...e.payload] }));
}

Deno.test("decodeSegment() returns encodeRecords() input unchanged, in order", () => {
  const events = Array.from({ length: 50 }, (_, n) => sample(n));
  const bytes = segment(events);
  const decoded = decodeSegment(bytes);
  assert.deepEqual(plain(decoded.records), plain(events));
  assert.equal(decoded.validLength, bytes.length);
  assert.equal(decoded.tornBytes, 0);
});

Deno.test("encodeRecords() frames each record as length, crc32, subject, id, payload", () => {
  const event: OutboundEvent = { subject: "a.b", msgId: "id", payload: utf8.encode("{}") };
  const bytes = encodeRecords([event]);
  const view = new DataView(bytes.buffer);
  const bodyLength = 2 + 3 + 2 + 2 + 2;
  assert.equal(bytes.length, RECORD_HEADER_BYTES + bodyLength);
  assert.equal(view.getUint32(0), bodyLength);
  assert.equal(view.getUint16(8), 3);
  assert.equal(new TextDecoder().decode(bytes.subarray(10, 13)), "a.b");
  assert.equal(view.getUint16(13), 2);
  assert.equal(new TextDecoder().decode(bytes.subarray(15, 17)), "id");
  assert.equal(new TextDecoder().decode(bytes.subarray(17)), "{}");
});

Deno.test("decodeSegment() ignores a torn final record at every cut point", () => {
  const events = [sample(1), sample(2), sample(3)];
  const whole = segment(events);
  const twoRecords = SEGMENT_MAGIC.length + encodeRecords(events.slice(0, 2)).length;
  for (let cut = twoRecords; cut < whole.length; cut++) {
    const decoded = decodeSegment(whole.subarray(0, cut));
    assert.equal(decoded.records.length, 2, `cut at ${cut}`);
    assert.equal(decoded.validLength, twoRecords);
    assert.equal(decoded.tornBytes, cut - twoRecords);
  }
});

Deno.test("decodeSegment() stops at a record whose checksum does not match", () => {
  const events = [sample(1), sample(2), sample(3)];
  const bytes = segment(events);
  const secondStart = SEGMENT_MAGIC.length + encodeRecords([events[0]!]).length;
  bytes[bytes.length - 1]! ^= 0xff; // last payload byte of the third record
  const decoded = decodeSegment(bytes);
  assert.equal(decoded.records.length, 2);
  assert.equal(decoded.validLength, secondStart + encodeRecords([events[1]!]).length);
});

Deno.test("decodeSegment() treats a zero-filled tail as torn, not as records", () => {
  const good = segment([sample(1)]);
  const bytes = new Uint8Array(good.length + 4096);
  bytes.set(good);
  const decoded = decodeSegment(bytes);
  assert.equal(decoded.records.length, 1);
  assert.equal(decoded.validLength, good.length);
  assert.equal(decoded.tornBytes, 4096);
});

Deno.test("decodeSegment() treats an impossible length as the end of the good part", () => {
  const good = segment([sample(1)]);
  const bytes = new Uint8Array(good.length + RECORD_HEADER_BYTES);
  bytes.set(good);
  new DataView(bytes.buffer).setUint32(good.length, MAX_RECORD_BODY_BYTES + 1);
  assert.equal(decodeSegment(bytes).validLength, good.length);
});

Deno.test("decodeSegment() accepts an empty file or a torn magic as holding nothing", () => {
  assert.deepEqual(decodeSegment(new Uint8Array()), { records: [], validLength: 0, tornBytes: 0 });
  assert.deepEqual(decodeSegment(SEGMENT_MAGIC.subarray(0, 3)), {
    records: [],
    validLength: 0,
    tornBytes: 3,
  });
});

Deno.test("decodeSegment() refuses a file that is not a spool segment", () => {
  assert.throws(() => decodeSegment(utf8.encode("hello world, not a spool")), SyntaxError);
});

Deno.test("encodeRecords() refuses a subject longer than its length field", () => {
  const event: OutboundEvent = {
    subject: "x".repeat(70_000),
    msgId: "id",
    payload: new Uint8Array(),
  };
  assert.throws(() => encodeRecords([event]), RangeError);
});
