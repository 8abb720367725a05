import assert from "node:assert/strict";
import { getLogger } from "../log/mod.ts";
import { connectionCountsInUse } from "./rate_limit.ts";
import { smallBytesInUse } from "./small_bytes.ts";
import { readBuffersInUse, StratumServer } from "./stratum_server.ts";
import { startTestEngine, TEST_ADDRESS } from "./_test_engine.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Every wait in this file is bounded by this. */
const WAIT_MS = 10_000;

/** Reads from `conn` until `lines` newline-terminated lines arrived (or the peer closed). */
async function readLines(conn: Deno.Conn, lines: number): Promise<string[]> {
  const buffer = new Uint8Array(4096);
  let text = "";
  const deadline = Date.now() + WAIT_MS;
  while (text.split("\n").length - 1 < lines && Date.now() < deadline) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n));
  }
  return text.split("\n").filter((l) => l !== "");
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("StratumServer returns every connection's slab blocks however the connection ends", async () => {
  const { engine } = startTestEngine({
    rateLimits: { max_connections_per_ip: 1000, connections_per_ip_per_minute: 1000 },
  });
  const server = new StratumServer(engine, {
    reusePort: false,
    maxLineBytes: 16 * 1024,
    maxQueuedBytes: 128 * 1024,
    readBufferBytes: 1024,
  }, getLogger(["test-server"]));
  server.listen([{ hostname: "127.0.0.1", port: 0 }]);
  const port = server.addresses[0]!.port;
  const before = {
    reads: readBuffersInUse(),
    counts: connectionCountsInUse(),
    bytes: smallBytesInUse(),
  };
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port });
  const subscribe = '{"id":1,"method":"mining.subscribe","params":["test/1"]}\n';
  const authorize = `{"id":2,"method":"mining.authorize","params":["${TEST_ADDRESS}.w","x"]}\n`;
  try {
    // Authorized miners that hang up (extranonce1, payout script, counters, read buffer in use).
    const miners = await Promise.all(Array.from({ length: 20 }, connect));
    for (const miner of miners) await miner.write(encoder.encode(subscribe + authorize));
    for (const miner of miners) {
      const lines = await readLines(miner, 2);
      assert.ok(lines.some((l) => l.includes('"id":2') && l.includes('"result":true')), lines[0]);
    }
    await until(() => server.connectionCount === 20, "20 connections");
    assert.equal(readBuffersInUse() - before.reads, 20);
    assert.equal(connectionCountsInUse() - before.counts, 20);
    assert.equal(smallBytesInUse() - before.bytes, 40, "an extranonce1 and a script each");
    for (const miner of miners) miner.close();
    // A burst over the small buffer (it moves to a full-size one) and a line over the cap.
    const burst = await connect();
    await burst.write(encoder.encode(subscribe + " ".repeat(300) + authorize));
    assert.equal((await readLines(burst, 2)).length >= 2, true);
    const overlong = await connect();
    await overlong.write(encoder.encode("x".repeat(16 * 1024 + 1)));
    const refused = await readLines(overlong, 1);
    assert.match(refused[0] ?? "", /Line too long/);
    burst.close();
    overlong.close();
    // A connection the server closes while its read is pending.
    const idle = await connect();
    await until(() => server.connectionCount === 1, "only the idle connection");
    await server.closeAll(0);
    idle.close();
    await until(() => server.connectionCount === 0, "no connections");
    assert.equal(readBuffersInUse(), before.reads, "read buffers returned");
    assert.equal(connectionCountsInUse(), before.counts, "rate-limit counters returned");
    assert.equal(smallBytesInUse(), before.bytes, "extranonce1 and payout scripts returned");
  } finally {
    server.stopAccepting();
    await server.closeAll(1_000);
  }
});
