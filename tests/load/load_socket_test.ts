import assert from "node:assert/strict";
import {
  connectDenoSocket,
  connectNodeSocket,
  type LoadSocket,
  PORTS_PER_SOURCE_ADDRESS,
  SOURCE_PORT_FIRST,
  SOURCE_PORT_LAST,
  sourceEndpoint,
} from "./load_socket.ts";

async function echoOnce(
  connect: (port: number) => Promise<LoadSocket>,
): Promise<{ from: string; echoed: string }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const served = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(64);
    const n = await conn.read(buffer);
    await conn.write(buffer.subarray(0, n ?? 0));
    conn.close();
    return (conn.remoteAddr as Deno.NetAddr).hostname;
  })();
  try {
    const socket = await connect(port);
    await socket.write(new TextEncoder().encode("ping\n"));
    let echoed = "";
    await socket.pump((buffer, n) => echoed += new TextDecoder().decode(buffer.subarray(0, n)));
    socket.close();
    return { from: await served, echoed };
  } finally {
    listener.close();
  }
}

// `deno task test` grants net access to 127.0.0.1 only, and node:net checks the address it binds,
// so these tests bind 127.0.0.1; leaving from 127.0.0.2 and 127.0.0.3 is checked end to end in
// tests/loadtest_test.ts, whose generator processes are granted those addresses.
Deno.test("connectNodeSocket() leaves from the given address", async () => {
  const result = await echoOnce((port) => connectNodeSocket("127.0.0.1", port, "127.0.0.1"));
  assert.deepEqual(result, { from: "127.0.0.1", echoed: "ping\n" });
});

Deno.test("connectDenoSocket() leaves from the kernel's choice, 127.0.0.1", async () => {
  const result = await echoOnce((port) => connectDenoSocket("127.0.0.1", port));
  assert.deepEqual(result, { from: "127.0.0.1", echoed: "ping\n" });
});

Deno.test("connectNodeSocket() rejects with the refusal when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    () => connectNodeSocket("127.0.0.1", port, "127.0.0.1"),
    (e: Error & { code?: string }) => e.code === "ECONNREFUSED",
  );
});

Deno.test("sourceEndpoint() spreads connections over addresses, ports counting up per address", () => {
  const addresses = ["127.0.0.2", "127.0.0.3"];
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => sourceEndpoint(addresses, i)),
    [
      { address: "127.0.0.2", port: SOURCE_PORT_FIRST },
      { address: "127.0.0.3", port: SOURCE_PORT_FIRST },
      { address: "127.0.0.2", port: SOURCE_PORT_FIRST + 1 },
      { address: "127.0.0.3", port: SOURCE_PORT_FIRST + 1 },
    ],
  );
  // Past the window the kernel chooses.
  assert.equal(sourceEndpoint(["127.0.0.2"], PORTS_PER_SOURCE_ADDRESS - 1).port, SOURCE_PORT_LAST);
  assert.equal(sourceEndpoint(["127.0.0.2"], PORTS_PER_SOURCE_ADDRESS).port, 0);
});

Deno.test("connectNodeSocket() binds the given source port, and falls back when it is taken", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const takenPort = (taken.addr as Deno.NetAddr).port;
  try {
    const fromTaken = await echoOnce((port) =>
      connectNodeSocket("127.0.0.1", port, "127.0.0.1", takenPort)
    );
    assert.equal(fromTaken.from, "127.0.0.1");
  } finally {
    taken.close();
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const accepted = listener.accept();
    const socket = await connectNodeSocket("127.0.0.1", port, "127.0.0.1", 31_999);
    const conn = await accepted;
    assert.deepEqual(
      [(conn.remoteAddr as Deno.NetAddr).hostname, (conn.remoteAddr as Deno.NetAddr).port],
      ["127.0.0.1", 31_999],
    );
    conn.close();
    socket.close();
  } finally {
    listener.close();
  }
});
