import assert from "node:assert/strict";
import { ConnectionTransport, DEFAULT_MAX_QUEUED_BYTES } from "./connection_transport.ts";

/** A socket whose writes the kernel never takes (a peer that stopped reading, its buffers full). */
function stalledConn(): { conn: Deno.Conn; writes: number[]; closed: () => boolean } {
  const writes: number[] = [];
  let closed = false;
  const conn = {
    write(bytes: Uint8Array): Promise<number> {
      writes.push(bytes.length);
      return new Promise<number>(() => {});
    },
    close() {
      closed = true;
    },
  } as unknown as Deno.Conn;
  return { conn, writes, closed: () => closed };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("ConnectionTransport counts a write the kernel has not taken against the cap", async () => {
  const socket = stalledConn();
  const transport = new ConnectionTransport(socket.conn, DEFAULT_MAX_QUEUED_BYTES);
  const chunk = "x".repeat(DEFAULT_MAX_QUEUED_BYTES * 3 / 4) + "\n";
  transport.send(chunk);
  await tick();
  // The chunk now sits in a pending write: nothing is queued, but it is still held.
  assert.deepEqual(socket.writes, [chunk.length]);
  assert.equal(transport.closed, false);
  // Half a cap more would fit a cap on queued lines alone; counted with the pending write, not.
  transport.send("y".repeat(DEFAULT_MAX_QUEUED_BYTES / 2) + "\n");
  assert.equal(transport.closed, true);
  assert.equal(socket.closed(), true);
  assert.equal(transport.closeReason, "output backlog over limit (client not reading)");
});

Deno.test("ConnectionTransport keeps a reader that takes its output", async () => {
  const written: number[] = [];
  const conn = {
    write: (bytes: Uint8Array) => {
      written.push(bytes.length);
      return Promise.resolve(bytes.length);
    },
    close() {},
  } as unknown as Deno.Conn;
  const transport = new ConnectionTransport(conn, DEFAULT_MAX_QUEUED_BYTES);
  const line = "z".repeat(1_000) + "\n";
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 100; i++) transport.send(line);
    await tick();
  }
  assert.equal(transport.closed, false);
  assert.equal(written.reduce((a, b) => a + b, 0), 50 * 100 * line.length);
  assert.equal(transport.bufferedBytes, 0);
});
