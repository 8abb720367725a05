// deno test --allow-net=127.0.0.1 shared/bitcoind/node_stats_poller_test.ts
import assert from "node:assert/strict";
import { type CannedReply, closedPort, startCannedNode } from "./_canned_node.ts";
import { BitcoindPool } from "./node_pool.ts";
import type { RpcCallRecord } from "./observed_rpc.ts";
import { type NodeStats, NodeStatsPoller, parseMempoolInfo } from "./node_stats_poller.ts";
import { RpcTransportError } from "./rpc_client.ts";

const QUIET_HEALTH_MS = 3_600_000;
const auth = { auth: "u", pass: "p" };

/** A node answering like Core, with a mempool reply the test chooses. */
function node(mempool: () => CannedReply) {
  return startCannedNode((method): CannedReply => {
    switch (method) {
      case "getblockchaininfo":
        return {
          result: {
            chain: "regtest",
            blocks: 7,
            headers: 7,
            bestblockhash: "ab".repeat(32),
            initialblockdownload: false,
          },
        };
      case "getmempoolinfo":
        return mempool();
      case "getnetworkinfo":
        return { result: { version: 270000, subversion: "/Satoshi:27.0.0/", connections: 8 } };
      default:
        return { error: { code: -32601, message: "Method not found" } };
    }
  });
}

Deno.test("parseMempoolInfo() reads size and bytes and refuses other shapes by name", () => {
  assert.deepEqual(parseMempoolInfo({ size: 3, bytes: 750, usage: 4000 }, "http://n"), {
    size: 3,
    bytes: 750,
  });
  for (const bad of [null, [], { size: 3 }, { size: -1, bytes: 0 }, { size: 1.5, bytes: 2 }]) {
    assert.throws(
      () => parseMempoolInfo(bad, "http://n"),
      (e) => e instanceof RpcTransportError && /getmempoolinfo.*size and bytes/.test(e.message),
    );
  }
});

Deno.test("NodeStatsPoller.pollOnce() reports mempool and peers, and every call is timed", async () => {
  const canned = node(() => ({ result: { size: 12, bytes: 3_400 } }));
  const pool = new BitcoindPool({
    nodes: [{ url: canned.url, ...auth }],
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  const calls: RpcCallRecord[] = [];
  pool.onRpcCall((record) => calls.push(record));
  const stats: NodeStats[] = [];
  const poller = new NodeStatsPoller({
    pool,
    intervalMs: QUIET_HEALTH_MS,
    onStats: (s) => stats.push(s),
  });
  try {
    await pool.start();
    assert.equal(await poller.pollOnce(), true);
    assert.deepEqual(stats, [{ mempoolTxs: 12, mempoolBytes: 3_400, peers: 8 }]);
    assert.deepEqual(
      calls.map((c) => [c.method, c.ok]).sort(),
      [["getblockchaininfo", true], ["getmempoolinfo", true], ["getnetworkinfo", true]],
    );
    assert.ok(calls.every((c) => c.durationMs >= 0 && Number.isFinite(c.durationMs)));
  } finally {
    await poller.stop();
    await pool.stop();
    await canned.close();
  }
});

Deno.test("NodeStatsPoller reports a malformed answer and a dead node as failures, never throws", async () => {
  let mempool: CannedReply = { result: { size: "many" } };
  const canned = node(() => mempool);
  const pool = new BitcoindPool({
    nodes: [{ url: canned.url, ...auth }],
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  const failures: unknown[] = [];
  const calls: RpcCallRecord[] = [];
  pool.onRpcCall((record) => calls.push(record));
  const poller = new NodeStatsPoller({
    pool,
    intervalMs: QUIET_HEALTH_MS,
    onStats: () => assert.fail("no stats from a failed poll"),
    onFailure: (e) => failures.push(e),
  });
  try {
    await pool.start();
    assert.equal(await poller.pollOnce(), false);
    assert.match(String(failures[0]), /getmempoolinfo.*size and bytes/);
    // A malformed result is not the node being down: the pool stays connected.
    assert.equal(pool.connected, true);
    mempool = { result: { size: 1, bytes: 2 } };
    await canned.close();
    assert.equal(await poller.pollOnce(), false);
    assert.match(String(failures[1]), /Connection refused|no eligible/);
    assert.equal(pool.connected, false, "a poll the node cannot answer marks it disconnected");
    assert.ok(calls.some((c) => !c.ok), "failed calls are reported too");
  } finally {
    await poller.stop();
    await pool.stop();
  }
});

Deno.test("NodeStatsPoller.stop() aborts a poll stuck on a hanging node", async () => {
  const canned = node(() => ({ hang: true }));
  const pool = new BitcoindPool({
    nodes: [{ url: canned.url, ...auth }],
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  const failures: unknown[] = [];
  const calls: RpcCallRecord[] = [];
  pool.onRpcCall((record) => calls.push(record));
  const poller = new NodeStatsPoller({
    pool,
    intervalMs: 60_000,
    timeoutMs: 60_000,
    onStats: () => {},
    onFailure: (e) => failures.push(e),
  });
  try {
    await pool.start();
    poller.start();
    // Wait until the mempool call is in flight, then stop: it must end without waiting 60 s.
    for (let i = 0; i < 200 && !canned.requests.some((r) => r.method === "getmempoolinfo"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(canned.requests.some((r) => r.method === "getmempoolinfo"));
    await poller.stop();
    assert.deepEqual(failures, [], "an abort on stop is not a failure");
    assert.deepEqual(
      calls.filter((c) => c.method === "getmempoolinfo"),
      [],
      "nor a timed call of the node",
    );
  } finally {
    await pool.stop();
    await canned.close();
  }
});

Deno.test("NodeStatsPoller refuses a zero or non-finite interval", () => {
  const pool = new BitcoindPool({ nodes: [{ url: `127.0.0.1:${closedPort()}`, ...auth }] });
  for (const intervalMs of [0, -1, NaN, Infinity]) {
    assert.throws(
      () => new NodeStatsPoller({ pool, intervalMs, onStats: () => {} }),
      /intervalMs must be positive/,
    );
  }
});

Deno.test("a long poll is not timed as getblocktemplate; a template fetch is", async () => {
  const canned = node(() => ({ result: { size: 0, bytes: 0 } }));
  const pool = new BitcoindPool({
    nodes: [{ url: canned.url, ...auth }],
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  const calls: RpcCallRecord[] = [];
  pool.onRpcCall((record) => calls.push(record));
  try {
    await pool.start();
    calls.length = 0;
    // The canned node refuses getblocktemplate (-32601): both calls fail, only one is timed.
    await assert.rejects(pool.longPollBlockTemplate("ab".repeat(32) + "1"));
    assert.equal(calls.length, 0, "the long poll is not reported");
    await assert.rejects(pool.getBlockTemplate());
    assert.deepEqual(calls.map((c) => [c.method, c.ok]), [["getblocktemplate", false]]);
    assert.deepEqual(
      canned.requests.filter((r) => r.method === "getblocktemplate").map((r) => r.params),
      [[{ rules: ["segwit"], longpollid: "ab".repeat(32) + "1" }], [{ rules: ["segwit"] }]],
    );
  } finally {
    await pool.stop();
    await canned.close();
  }
});
