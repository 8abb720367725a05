/**
 * Per-IP limits over real IPv6 and dual-stack loopback sockets: an IPv4 peer reaching a `[::]`
 * listener (seen as `::ffff:127.0.0.1`) counts as the same IP as on an IPv4 listener, and IPv6
 * peers are limited by their group (`rate_limits.ipv6_prefix_length`). Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import { RawStratum } from "./support/raw_stratum.ts";
import { type InProcessPool, startInProcessPool } from "./support/pool_in_process.ts";
import { runDenoInNamespace, withNetworkNamespace } from "./support/netns.ts";
import type { IpGroupResult } from "./support/ip_group_probe.ts";

const PROBE = new URL("./support/ip_group_probe.ts", import.meta.url).pathname;

const RELAXED = {
  connections_per_ip_per_minute: 65_535,
  max_connections_per_ip: 65_535,
};

let devnet: Devnet | null = null;

async function withPool(
  overrides: Record<string, unknown>,
  fn: (pool: InProcessPool) => Promise<void>,
): Promise<void> {
  devnet ??= await startDevnet({ bits: 0x1d00ffff });
  const pool = await startInProcessPool(devnet, overrides);
  try {
    await fn(pool);
  } finally {
    await pool.stop();
  }
}

/** Opens a connection and reports whether the pool answers a subscribe on it (else it closed). */
async function admitted(open: RawStratum[], port: number, hostname: string): Promise<boolean> {
  const raw = await RawStratum.open(port, hostname);
  open.push(raw);
  try {
    const reply = await raw.request(open.length, "mining.subscribe", []);
    return Array.isArray(reply.result);
  } catch {
    return false;
  }
}

function ipTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
}

ipTest("an IPv4 peer on a dual-stack listener counts as the same IP as on IPv4", async () => {
  await withPool({
    serverurl: ["127.0.0.1:0", "[::]:0"],
    rate_limits: { ...RELAXED, max_connections_per_ip: 2 },
  }, async (pool) => {
    const [v4, dual] = pool.runtime.server.addresses;
    assert.ok(v4 !== undefined && dual !== undefined);
    const open: RawStratum[] = [];
    try {
      assert.equal(await admitted(open, v4.port, "127.0.0.1"), true);
      // The "[::]" listener sees this peer as ::ffff:127.0.0.1.
      assert.equal(await admitted(open, dual.port, "127.0.0.1"), true);
      assert.equal(
        await admitted(open, dual.port, "127.0.0.1"),
        false,
        "third connection from 127.0.0.1 (over both listeners) must be refused",
      );
      // ::1 is another IP (an IPv6 group of its own).
      assert.equal(await admitted(open, dual.port, "::1"), true);
    } finally {
      for (const raw of open) raw.close();
    }
  });
});

ipTest("IPv6 loopback peers are limited per group like IPv4 peers", async () => {
  await withPool({
    serverurl: ["[::1]:0"],
    rate_limits: { ...RELAXED, max_connections_per_ip: 3 },
  }, async (pool) => {
    const port = pool.runtime.server.addresses[0]!.port;
    const open: RawStratum[] = [];
    try {
      for (let i = 0; i < 3; i++) assert.equal(await admitted(open, port, "::1"), true);
      assert.equal(await admitted(open, port, "::1"), false);
      open.shift()!.close();
      // The slot frees once the pool has seen the close.
      let again = false;
      for (let attempt = 0; attempt < 50 && !again; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        again = await admitted(open, port, "::1");
      }
      assert.equal(again, true);
    } finally {
      for (const raw of open) raw.close();
    }
  });
});

ipTest("IPv6 peers from one /64 share the per-IP limit; another /64 has its own", async () => {
  // Real distinct source addresses need a namespace: the host's loopback has only ::1.
  const hosts = ["fd00:64::a", "fd00:64::b", "fd00:64::c", "fd00:65::a", "fd00:65::b"];
  await withNetworkNamespace({ addresses: hosts.map((h) => `${h}/64`) }, async (ns) => {
    const results = await runDenoInNamespace<IpGroupResult[]>(
      ns,
      [
        `--allow-net=127.0.0.1,[::],${hosts.map((h) => `[${h}]`).join(",")}`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-ffi",
        "--allow-sys",
        "--allow-run",
      ],
      PROBE,
      hosts,
    );
    // max_connections_per_ip is 2: the third address of fd00:64::/64 is over its group's limit.
    assert.deepEqual(results.map((r) => `${r.host} ${r.admitted}`), [
      "fd00:64::a true",
      "fd00:64::b true",
      "fd00:64::c false",
      "fd00:65::a true",
      "fd00:65::b true",
    ]);
  });
});

Deno.test({
  name: "ip group tests: stop the shared devnet",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await devnet?.stop();
    devnet = null;
  },
});
