import assert from "node:assert/strict";
import { OpConn, readInto, readOpRid } from "./read_op.ts";

/** A connected pair over loopback: [accepted side, client side]. */
async function pair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const client = Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const accepted = await listener.accept();
    return [accepted, await client];
  } finally {
    listener.close();
  }
}

Deno.test("readOpRid finds the op and the resource id of a TCP connection in this Deno", async () => {
  // The pool's memory per idle miner depends on it: if a Deno upgrade removes the internal op,
  // this fails rather than the pool silently falling back to Conn.read().
  const [server, client] = await pair();
  try {
    assert.equal(typeof readOpRid(server), "number");
  } finally {
    server.close();
    client.close();
  }
});

Deno.test("readInto reads what the peer wrote, then 0 at end of stream", async () => {
  const [server, client] = await pair();
  try {
    const rid = readOpRid(server)!;
    const buffer = new Uint8Array(16);
    const pending = readInto(rid, buffer);
    await client.write(new TextEncoder().encode("abc\n"));
    const n = await pending;
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n)), "abc\n");
    client.close();
    assert.equal(await readInto(rid, buffer), 0);
  } finally {
    server.close();
  }
});

Deno.test("a read pending when the connection is closed rejects, as Conn.read() does", async () => {
  const [server, client] = await pair();
  try {
    const pending = readInto(readOpRid(server)!, new Uint8Array(16));
    server.close();
    await assert.rejects(pending);
  } finally {
    client.close();
  }
});

Deno.test("readOpRid returns null for an object without a resource id", () => {
  assert.equal(readOpRid({} as Deno.Conn), null);
});

Deno.test("OpConn writes and closes the connection by its resource id", async () => {
  const [server, client] = await pair();
  try {
    const byId = OpConn.of(server);
    assert.ok(byId !== null);
    assert.equal(byId.rid, readOpRid(server));
    assert.equal(await byId.write(new TextEncoder().encode("hello\n")), 6);
    const buffer = new Uint8Array(16);
    const n = await client.read(buffer);
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "hello\n");
    byId.close();
    assert.equal(await client.read(buffer), null, "the peer sees the close");
    assert.throws(() => byId.close(), Deno.errors.BadResource);
  } finally {
    client.close();
  }
});
