import assert from "node:assert/strict";
import { MAX_CONSUMERS, MAX_STREAMS, parseJsz, parseVarz } from "./monitor_snapshot.ts";

const VARZ = {
  server_name: "hub-eu",
  version: "2.9.10",
  start: "2026-12-07T16:00:00Z",
  now: "2026-12-07T16:01:30.5Z",
  connections: 4,
  total_connections: 9,
  subscriptions: 47,
  slow_consumers: 1,
  in_msgs: 100,
  out_msgs: 200,
  in_bytes: 3000,
  out_bytes: 4000,
  mem: 12_000_000,
  cpu: 1.5,
  leafnodes: 2,
  routes: 0,
};

function stream(name: string, consumers: unknown[] = []) {
  return {
    name,
    state: { messages: 5, bytes: 315, first_seq: 1, last_seq: 5, consumer_count: consumers.length },
    consumer_detail: consumers,
  };
}

function consumer(name: string) {
  return {
    name,
    delivered: { consumer_seq: 3, stream_seq: 4 },
    ack_floor: { consumer_seq: 2, stream_seq: 3 },
    num_ack_pending: 1,
    num_redelivered: 0,
    num_waiting: 2,
    num_pending: 1,
  };
}

function jsz(streams: unknown[]) {
  return {
    config: { max_memory: 100, max_storage: 200 },
    memory: 0,
    storage: 315,
    api: { total: 3, errors: 0 },
    account_details: [{ name: "$G", stream_detail: streams }],
  };
}

Deno.test("parseVarz() reads the server's counters and its uptime from start and now", () => {
  const varz = parseVarz(VARZ);
  assert.equal(varz.serverName, "hub-eu");
  assert.equal(varz.uptimeSeconds, 90.5);
  assert.equal(varz.connections, 4);
  assert.equal(varz.memBytes, 12_000_000);
  assert.equal(varz.cpuPercent, 1.5);
  assert.equal(varz.leafnodes, 2);
});

Deno.test("parseVarz() names the field it cannot read", () => {
  assert.throws(() => parseVarz([]), /varz is not an object/);
  assert.throws(() => parseVarz({ ...VARZ, connections: "4" }), /varz\.connections/);
  assert.throws(() => parseVarz({ ...VARZ, in_msgs: -1 }), /varz\.in_msgs/);
  assert.throws(() => parseVarz({ ...VARZ, server_name: "" }), /varz\.server_name/);
  assert.throws(() => parseVarz({ ...VARZ, now: "yesterday" }), /varz\.start or varz\.now/);
});

Deno.test("parseJsz() reads streams and consumers with their account", () => {
  const parsed = parseJsz(jsz([stream("MINING_EVENTS", [consumer("event-pipeline")])]));
  assert.equal(parsed.storageBytes, 315);
  assert.equal(parsed.maxStorageBytes, 200);
  assert.equal(parsed.apiTotal, 3);
  assert.deepEqual(parsed.streams, [{
    account: "$G",
    name: "MINING_EVENTS",
    messages: 5,
    bytes: 315,
    firstSeq: 1,
    lastSeq: 5,
    consumerCount: 1,
  }]);
  assert.deepEqual(parsed.consumers, [{
    account: "$G",
    stream: "MINING_EVENTS",
    name: "event-pipeline",
    numPending: 1,
    numAckPending: 1,
    numRedelivered: 0,
    numWaiting: 2,
    deliveredStreamSeq: 4,
    ackFloorStreamSeq: 3,
  }]);
  assert.equal(parsed.truncated, 0);
});

Deno.test("parseJsz() of a server without streams has none", () => {
  const parsed = parseJsz({ memory: 0, storage: 0 });
  assert.deepEqual([parsed.streams, parsed.consumers, parsed.truncated], [[], [], 0]);
});

Deno.test("parseJsz() keeps at most MAX_STREAMS streams and MAX_CONSUMERS consumers", () => {
  const consumers = Array.from({ length: 8 }, (_, i) => consumer(`c${i}`));
  const streams = Array.from({ length: MAX_STREAMS + 3 }, (_, i) => stream(`S${i}`, consumers));
  const parsed = parseJsz(jsz(streams));
  assert.equal(parsed.streams.length, MAX_STREAMS);
  assert.equal(parsed.consumers.length, MAX_CONSUMERS);
  const left = 3 * (1 + 8) + (MAX_STREAMS * 8 - MAX_CONSUMERS);
  assert.equal(parsed.truncated, left);
});

Deno.test("parseJsz() names the field it cannot read", () => {
  assert.throws(() => parseJsz("nope"), /jsz is not an object/);
  assert.throws(
    () => parseJsz(jsz([{ name: "S", state: { messages: "5" } }])),
    /stream_detail\[0\]\.state\.messages/,
  );
  assert.throws(
    () => parseJsz(jsz([stream("x".repeat(300))])),
    /stream_detail\[0\]\.name is not a name/,
  );
  assert.throws(
    () => parseJsz(jsz([stream("S", [{ ...consumer("c"), num_pending: null }])])),
    /consumer_detail\[0\]\.num_pending/,
  );
  assert.throws(
    () => parseJsz({ ...jsz([]), account_details: {} }),
    /account_details is not an array/,
  );
});
