// deno test --allow-net=127.0.0.1 --allow-ffi=./node_modules \
//   --allow-read=./node_modules,/etc/alpine-release shared/bitcoind/zmq_listener_test.ts
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import {
  parseHashBlockMessage,
  type SequenceGap,
  SequenceTracker,
  ZmqBlockListener,
} from "./zmq_listener.ts";

const topic = new TextEncoder().encode("hashblock");

function sequenceBytes(sequence: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, sequence, true);
  return bytes;
}

function hashBytes(fill: number): Uint8Array {
  const bytes = new Uint8Array(32).fill(fill);
  bytes[0] = 0x00;
  bytes[31] = 0xff;
  return bytes;
}

Deno.test("parseHashBlockMessage() keeps Core's display byte order and reads the LE sequence", () => {
  const message = parseHashBlockMessage([topic, hashBytes(0x11), sequenceBytes(0x01020304)]);
  assert.equal(message.hashHex, "00" + "11".repeat(30) + "ff");
  assert.equal(message.sequence, 0x01020304);
});

Deno.test("parseHashBlockMessage() rejects wrong topic, frame count and sizes", () => {
  const hashtx = new TextEncoder().encode("hashtx");
  assert.throws(() => parseHashBlockMessage([topic, hashBytes(1)]), SyntaxError);
  assert.throws(
    () => parseHashBlockMessage([hashtx, hashBytes(1), sequenceBytes(0)]),
    /topic is "hashtx"/,
  );
  assert.throws(
    () => parseHashBlockMessage([topic, new Uint8Array(31), sequenceBytes(0)]),
    /31 bytes/,
  );
  assert.throws(
    () => parseHashBlockMessage([topic, hashBytes(1), new Uint8Array(8)]),
    /sequence has 8 bytes/,
  );
});

Deno.test("SequenceTracker reports jumps, restarts and accepts the 2^32 wrap", () => {
  const tracker = new SequenceTracker();
  assert.equal(tracker.observe(7), undefined);
  assert.equal(tracker.observe(8), undefined);
  assert.deepEqual(tracker.observe(11), { expected: 9, received: 11 });
  assert.deepEqual(tracker.observe(0), { expected: 12, received: 0 });
  const wrapping = new SequenceTracker();
  wrapping.observe(0xffffffff);
  assert.equal(wrapping.observe(0), undefined);
});

Deno.test("ZmqBlockListener rejects an endpoint that is not tcp://host:port", () => {
  assert.throws(
    () => new ZmqBlockListener({ endpoint: "127.0.0.1:28332", onBlock() {} }),
    TypeError,
  );
});

Deno.test("ZmqBlockListener receives hashblock from a real publisher and reports a gap", async () => {
  const publisher = new zmq.Publisher({ linger: 0 });
  await publisher.bind("tcp://127.0.0.1:0");
  const endpoint = publisher.lastEndpoint!;
  const blocks: [string, number][] = [];
  const gaps: SequenceGap[] = [];
  const listener = new ZmqBlockListener({
    endpoint,
    onBlock: (hashHex, sequence) => blocks.push([hashHex, sequence]),
    onGap: (gap) => gaps.push(gap),
  });
  await listener.start();
  try {
    // A subscription reaches the publisher asynchronously; publish until one message arrives.
    const deadline = Date.now() + 5_000;
    let sent = 0;
    while (blocks.length === 0) {
      assert.ok(Date.now() < deadline, "Cannot receive a hashblock message: deadline passed");
      await publisher.send([topic, hashBytes(0xaa), sequenceBytes(sent++)]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await publisher.send([topic, new Uint8Array(5)]);
    await publisher.send([topic, hashBytes(0xbb), sequenceBytes(sent + 1)]);
    const bb = "00" + "bb".repeat(30) + "ff";
    while (blocks.at(-1)![0] !== bb) {
      assert.ok(Date.now() < deadline, "Cannot receive the second message: deadline passed");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(blocks.at(-1), [bb, sent + 1]);
    assert.deepEqual(gaps, [{ expected: sent, received: sent + 1 }]);
    assert.equal(listener.gaps, 1);
    assert.equal(listener.received, blocks.length);
  } finally {
    await listener.close();
    publisher.close();
  }
});

Deno.test("ZmqBlockListener reconnects by itself when the publisher restarts", async () => {
  const blocks: [string, number][] = [];
  let publisher = new zmq.Publisher({ linger: 0 });
  await publisher.bind("tcp://127.0.0.1:0");
  const endpoint = publisher.lastEndpoint!;
  const listener = new ZmqBlockListener({
    endpoint,
    onBlock: (hashHex, sequence) => blocks.push([hashHex, sequence]),
  });
  await listener.start();
  const deadline = Date.now() + 10_000;
  /** Publishes `fill` blocks with rising sequences until one arrives. */
  async function publishUntilReceived(fill: number): Promise<void> {
    const hashHex = "00" + fill.toString(16).padStart(2, "0").repeat(30) + "ff";
    let sequence = 0;
    while (!blocks.some(([hash]) => hash === hashHex)) {
      assert.ok(Date.now() < deadline, "Cannot receive a hashblock message: deadline passed");
      await publisher.send([topic, hashBytes(fill), sequenceBytes(sequence++)]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    await publishUntilReceived(0x01);
    publisher.close();
    publisher = new zmq.Publisher({ linger: 0 });
    // libzmq releases the old listening socket on its I/O thread, so the port frees shortly.
    while (true) {
      try {
        await publisher.bind(endpoint);
        break;
      } catch (error) {
        assert.ok(Date.now() < deadline, `Cannot rebind ${endpoint}: ${error}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    await publishUntilReceived(0x02);
  } finally {
    await listener.close();
    publisher.close();
  }
});
