/**
 * Unit tests of the latency bridge over loopback sockets. Delays are checked as lower bounds only
 * (a busy machine makes everything slower, never faster); content and order are checked exactly.
 *
 *   deno test --allow-net=127.0.0.1 tests/support/latency_bridge_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type LatencyBridge,
  type LatencyBridgeOptions,
  startLatencyBridge,
} from "./latency_bridge.ts";

const HOST = "127.0.0.1";
/** Upper bound of every wait in these tests, so a broken bridge fails instead of hanging. */
const WAIT_MS = 10_000;

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves `"pending"` if `promise` has not settled after `ms`. */
async function stillPendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol("pending");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    promise.then(() => "settled", () => "settled"),
    new Promise<symbol>((resolve) => {
      timer = setTimeout(() => resolve(marker), ms);
    }),
  ]);
  clearTimeout(timer);
  return outcome === marker;
}

/** Reads exactly `n` bytes (or fewer if the peer closes first). */
async function readBytes(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const got = await conn.read(out.subarray(filled));
    if (got === null) return out.subarray(0, filled);
    filled += got;
  }
  return out;
}

/** Reads until EOF. */
async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    parts.push(buffer.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** A target server whose accepted connections the test handles itself. */
interface Target {
  readonly port: number;
  /** The next accepted connection. */
  next(): Promise<Deno.TcpConn>;
  close(): void;
}

function startTarget(): Target {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepted: Deno.TcpConn[] = [];
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async next() {
      const conn = await listener.accept();
      accepted.push(conn);
      return conn;
    },
    close() {
      listener.close();
      for (const conn of accepted) {
        try {
          conn.close();
        } catch {
          // Closed by the test.
        }
      }
    },
  };
}

async function withBridge(
  options: Omit<LatencyBridgeOptions, "target">,
  body: (bridge: LatencyBridge, target: Target) => Promise<void>,
): Promise<void> {
  const target = startTarget();
  const bridge = await startLatencyBridge({
    ...options,
    target: { hostname: HOST, port: target.port },
  });
  try {
    await body(bridge, target);
  } finally {
    await bridge.close();
    target.close();
  }
}

function pattern(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return out;
}

/** Deterministic uniform numbers in [0, 1) (a 32-bit LCG), so jitter runs are repeatable. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

Deno.test("latency bridge forwards both directions unchanged and passes half-close on", async () => {
  await withBridge({}, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    const up = pattern(200_000, 1);
    const down = pattern(150_000, 2);
    await writeAll(client, up);
    await client.closeWrite();
    const received = await withTimeout(readToEnd(server), "upstream EOF");
    assert.deepEqual(received, up);
    await writeAll(server, down);
    await server.closeWrite();
    assert.deepEqual(await withTimeout(readToEnd(client), "downstream EOF"), down);
    client.close();
    const stats = bridge.stats();
    assert.equal(stats.upstreamBytes, up.length);
    assert.equal(stats.downstreamBytes, down.length);
    assert.equal(stats.accepted, 1);
  });
});

Deno.test("latency bridge delays each direction by at least its configured one-way delay", async () => {
  await withBridge(
    { upstream: { delayMs: 40 }, downstream: { delayMs: 70 } },
    async (bridge, target) => {
      const client = await Deno.connect({ hostname: HOST, port: bridge.port });
      const server = await withTimeout(target.next(), "accept");
      for (let round = 0; round < 3; round++) {
        const sentUp = performance.now();
        await writeAll(client, new Uint8Array([round]));
        assert.deepEqual(
          await withTimeout(readBytes(server, 1), "upstream byte"),
          new Uint8Array([round]),
        );
        const upMs = performance.now() - sentUp;
        const sentDown = performance.now();
        await writeAll(server, new Uint8Array([round + 100]));
        assert.deepEqual(
          await withTimeout(readBytes(client, 1), "downstream byte"),
          new Uint8Array([round + 100]),
        );
        const downMs = performance.now() - sentDown;
        assert.ok(upMs >= 40, `upstream took ${upMs.toFixed(1)} ms, less than 40 ms`);
        assert.ok(downMs >= 70, `downstream took ${downMs.toFixed(1)} ms, less than 70 ms`);
      }
      client.close();
    },
  );
});

Deno.test("latency bridge keeps byte order under jitter larger than the gap between writes", async () => {
  const writes = 300;
  await withBridge(
    { upstream: { delayMs: 5, jitterMs: 40 }, random: lcg(42) },
    async (bridge, target) => {
      const client = await Deno.connect({ hostname: HOST, port: bridge.port });
      const server = await withTimeout(target.next(), "accept");
      const expected = new Uint8Array(writes * 4);
      const view = new DataView(expected.buffer);
      const sentAt: number[] = [];
      const reading = withTimeout(readBytes(server, expected.length), "all writes");
      for (let i = 0; i < writes; i++) {
        view.setUint32(i * 4, i);
        sentAt.push(performance.now());
        await writeAll(client, expected.subarray(i * 4, i * 4 + 4));
        // Separate writes into separate reads at the bridge, so each gets its own jitter draw.
        if (i % 10 === 0) await delay(1);
      }
      const received = await reading;
      assert.deepEqual(received, expected);
      client.close();
    },
  );
});

Deno.test("latency bridge paces a transfer to its bandwidth cap", async () => {
  const size = 64 * 1024;
  const rate = 128 * 1024;
  await withBridge({ upstream: { bandwidthBytesPerSec: rate } }, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    const data = pattern(size);
    const started = performance.now();
    const reading = withTimeout(readBytes(server, size), "paced transfer");
    await writeAll(client, data);
    assert.deepEqual(await reading, data);
    const elapsedMs = performance.now() - started;
    const floorMs = (size / rate) * 1000;
    assert.ok(elapsedMs >= floorMs, `took ${elapsedMs.toFixed(1)} ms, less than ${floorMs} ms`);
    client.close();
  });
});

Deno.test("latency bridge holds at most its buffer limit when the receiver stops reading", async () => {
  const limit = 64 * 1024;
  const size = 32 * 1024 * 1024;
  await withBridge({ maxBufferedBytes: limit }, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    const data = pattern(size, 3);
    const writing = writeAll(client, data).then(() => client.closeWrite());
    // The receiver reads nothing for a while: the bridge must stop reading instead of buffering.
    await delay(300);
    const received = await withTimeout(readToEnd(server), "bulk transfer", 60_000);
    await withTimeout(writing, "writer");
    assert.equal(received.length, size);
    assert.deepEqual(received, data);
    const peak = bridge.stats().peakBufferedBytes;
    assert.ok(peak <= limit + 16 * 1024, `held ${peak} bytes, limit ${limit} + one read`);
    client.close();
  });
});

Deno.test("latency bridge reset partition closes connections, refuses new ones, heals", async () => {
  await withBridge({ upstream: { delayMs: 5 } }, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    bridge.partition({ mode: "reset" });
    assert.deepEqual(bridge.partitioned, { mode: "reset", upstream: true, downstream: true });
    // Both ends see their connection end.
    assert.equal((await withTimeout(readToEnd(client), "client closed")).length, 0);
    assert.equal((await withTimeout(readToEnd(server), "server closed")).length, 0);
    client.close();

    const refused = await Deno.connect({ hostname: HOST, port: bridge.port });
    assert.equal((await withTimeout(readToEnd(refused), "refused closed")).length, 0);
    refused.close();
    assert.ok(bridge.stats().refused >= 1);

    bridge.heal();
    assert.equal(bridge.partitioned, undefined);
    const again = await Deno.connect({ hostname: HOST, port: bridge.port });
    const serverAgain = await withTimeout(target.next(), "accept after heal");
    await writeAll(again, new TextEncoder().encode("back"));
    assert.equal(
      new TextDecoder().decode(await withTimeout(readBytes(serverAgain, 4), "after heal")),
      "back",
    );
    again.close();
  });
});

Deno.test("latency bridge black-hole holds bytes and new connections until the heal", async () => {
  const delayMs = 30;
  await withBridge({ upstream: { delayMs }, downstream: { delayMs } }, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    bridge.partition({ mode: "blackhole" });
    await writeAll(client, new TextEncoder().encode("held-up"));
    await writeAll(server, new TextEncoder().encode("held-down"));
    const up = readBytes(server, 7);
    const down = readBytes(client, 9);
    assert.ok(await stillPendingAfter(up, 200), "upstream bytes crossed a black-holed link");
    assert.ok(await stillPendingAfter(down, 0), "downstream bytes crossed a black-holed link");

    // A new connection gets no answer from the target while the link is cut.
    const late = await Deno.connect({ hostname: HOST, port: bridge.port });
    const lateAccept = target.next();
    assert.ok(await stillPendingAfter(lateAccept, 200), "a connection crossed a black-holed link");

    const healedAt = performance.now();
    bridge.heal();
    assert.equal(new TextDecoder().decode(await withTimeout(up, "upstream after heal")), "held-up");
    assert.equal(
      new TextDecoder().decode(await withTimeout(down, "downstream after heal")),
      "held-down",
    );
    const afterHealMs = performance.now() - healedAt;
    assert.ok(afterHealMs >= delayMs, `held bytes crossed ${afterHealMs.toFixed(1)} ms after heal`);
    const lateServer = await withTimeout(lateAccept, "held connection after heal");
    await writeAll(late, new Uint8Array([9]));
    assert.deepEqual(
      await withTimeout(readBytes(lateServer, 1), "held connection data"),
      new Uint8Array([9]),
    );
    client.close();
    late.close();
  });
});

Deno.test("latency bridge black-hole can cut one direction only", async () => {
  await withBridge({}, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    bridge.partition({ mode: "blackhole", direction: "downstream" });
    assert.deepEqual(bridge.partitioned, { mode: "blackhole", upstream: false, downstream: true });
    await writeAll(client, new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      await withTimeout(readBytes(server, 3), "upstream still open"),
      new Uint8Array([1, 2, 3]),
    );
    await writeAll(server, new Uint8Array([4]));
    const down = readBytes(client, 1);
    assert.ok(await stillPendingAfter(down, 200), "downstream bytes crossed a cut direction");
    bridge.heal();
    assert.deepEqual(await withTimeout(down, "downstream after heal"), new Uint8Array([4]));
    client.close();
  });
});

Deno.test("latency bridge inject() splices bytes into one direction, in stream order", async () => {
  await withBridge({}, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    // One round trip first: the connection's pumps exist once bytes have crossed.
    await writeAll(client, new Uint8Array([1, 2]));
    assert.deepEqual(
      await withTimeout(readBytes(server, 2), "first bytes"),
      new Uint8Array([1, 2]),
    );
    const garbage = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    assert.equal(bridge.inject("upstream", garbage), 1);
    garbage[0] = 0; // The bridge keeps its own copy.
    await writeAll(client, new Uint8Array([3]));
    assert.deepEqual(
      await withTimeout(readBytes(server, 5), "injected then written"),
      new Uint8Array([0xde, 0xad, 0xbe, 0xef, 3]),
    );
    assert.equal(bridge.inject("downstream", new Uint8Array([9, 9])), 1);
    await writeAll(server, new Uint8Array([4]));
    assert.deepEqual(
      await withTimeout(readBytes(client, 3), "downstream"),
      new Uint8Array([9, 9, 4]),
    );
    assert.throws(() => bridge.inject("upstream", new Uint8Array()), RangeError);
    assert.throws(() => bridge.inject("sideways" as "upstream", new Uint8Array([1])), RangeError);
    client.close();
    await withTimeout(readToEnd(server), "close passed on");
    server.close();
    for (let i = 0; i < 100 && bridge.stats().active > 0; i++) await delay(20);
    assert.equal(bridge.inject("upstream", new Uint8Array([1])), 0, "no connection left");
  });
});

Deno.test("latency bridge setLink() changes the delay of later bytes", async () => {
  await withBridge({}, async (bridge, target) => {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    const server = await withTimeout(target.next(), "accept");
    bridge.setLink("both", { delayMs: 60 });
    assert.deepEqual(bridge.link("upstream"), {
      delayMs: 60,
      jitterMs: 0,
      bandwidthBytesPerSec: 0,
    });
    assert.deepEqual(bridge.link("downstream"), {
      delayMs: 60,
      jitterMs: 0,
      bandwidthBytesPerSec: 0,
    });
    const sent = performance.now();
    await writeAll(client, new Uint8Array([5]));
    await withTimeout(readBytes(server, 1), "delayed byte");
    const tookMs = performance.now() - sent;
    assert.ok(tookMs >= 60, `took ${tookMs.toFixed(1)} ms after setLink(60)`);
    client.close();
  });
});

Deno.test("latency bridge refuses bad shapes, limits, modes and non-loopback addresses", async () => {
  const target = { hostname: HOST, port: 9 };
  await assert.rejects(
    startLatencyBridge({ target, upstream: { delayMs: -1 } }),
    /delayMs must be/,
  );
  await assert.rejects(startLatencyBridge({ target, downstream: { jitterMs: NaN } }), /jitterMs/);
  await assert.rejects(startLatencyBridge({ target, maxBufferedBytes: 0 }), /maxBufferedBytes/);
  await assert.rejects(startLatencyBridge({ target, hostname: "0.0.0.0" }), /loopback only/);
  await assert.rejects(startLatencyBridge({ target: { hostname: HOST, port: 0 } }), /target port/);
  await withBridge({}, (bridge) => {
    assert.throws(() => bridge.setLink("both", { bandwidthBytesPerSec: Infinity }), RangeError);
    assert.throws(
      () => bridge.partition({ mode: "blackhole", direction: "sideways" as "both" }),
      /unknown direction/,
    );
    assert.throws(
      () => bridge.partition({ mode: "drop" } as unknown as { mode: "reset" }),
      /unknown mode/,
    );
    return Promise.resolve();
  });
});

Deno.test("latency bridge closes the client when the target is down", async () => {
  const target = startTarget();
  const port = target.port;
  target.close();
  const bridge = await startLatencyBridge({ target: { hostname: HOST, port } });
  try {
    const client = await Deno.connect({ hostname: HOST, port: bridge.port });
    assert.equal((await withTimeout(readToEnd(client), "closed")).length, 0);
    client.close();
  } finally {
    await bridge.close();
  }
});
