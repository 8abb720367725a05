// deno test --allow-net=127.0.0.1 shared/bitcoind/node_pool_test.ts
import assert from "node:assert/strict";
import { type CannedNode, type CannedReply, closedPort, startCannedNode } from "./_canned_node.ts";
import { BitcoindPool, type NodeSwitchEvent } from "./node_pool.ts";
import { RpcError } from "./rpc_client.ts";

const TIP_A = "aa".repeat(32);
const TIP_B = "bb".repeat(32);

/** A canned node whose answers follow a mutable state, the way Core's would. */
interface CoreLike {
  node: CannedNode;
  state: {
    warmup: boolean;
    ibd: boolean;
    tip: string;
    submit: string | null;
    /** getblocktemplate answers this error while set (-9, -10). */
    refuse?: { code: number; message: string } | undefined;
  };
}

function coreLike(tip: string): CoreLike {
  const state: CoreLike["state"] = { warmup: false, ibd: false, tip, submit: null };
  const node = startCannedNode((method): CannedReply => {
    if (state.warmup) return { error: { code: -28, message: "Verifying blocks…" } };
    switch (method) {
      case "getblockchaininfo":
        return {
          result: {
            chain: "regtest",
            blocks: 10,
            headers: 10,
            bestblockhash: state.tip,
            initialblockdownload: state.ibd,
          },
        };
      case "getbestblockhash":
        return { result: state.tip };
      case "submitblock":
        return { result: state.submit };
      case "getblocktemplate":
        return state.refuse === undefined
          ? { result: { previousblockhash: state.tip } }
          : { error: state.refuse };
      case "validateaddress":
        return { error: { code: -8, message: "Invalid parameter" } };
      default:
        return { error: { code: -32601, message: "Method not found" } };
    }
  });
  return { node, state };
}

const auth = { auth: "u", pass: "p" };
const QUIET_HEALTH_MS = 3_600_000;

async function waitFor(what: string, predicate: () => boolean, deadlineMs = 5_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`Cannot observe ${what}: deadline passed`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("BitcoindPool.start() skips a refused node and uses the next", async () => {
  const second = coreLike(TIP_B);
  const pool = new BitcoindPool({
    nodes: [{ url: `127.0.0.1:${closedPort()}`, ...auth }, { url: second.node.url, ...auth }],
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  const events: NodeSwitchEvent[] = [];
  pool.onSwitch((event) => events.push(event));
  try {
    await pool.start();
    assert.equal(pool.activeIndex, 1);
    assert.equal(pool.activeUrl, second.node.url);
    assert.equal(pool.connected, true);
    assert.deepEqual(events.map((e) => [e.reason, e.toIndex]), [["startup", 1]]);
    assert.equal(await pool.getBestBlockHash(), TIP_B);
    assert.equal(await pool.chain(), "regtest");
  } finally {
    await pool.stop();
    await second.node.close();
  }
});

Deno.test("BitcoindPool never chooses a node in initial block download or warming up", async () => {
  const ibd = coreLike(TIP_A);
  ibd.state.ibd = true;
  const warming = coreLike(TIP_A);
  warming.state.warmup = true;
  const ready = coreLike(TIP_B);
  const pool = new BitcoindPool({
    nodes: [ibd, warming, ready].map((n) => ({ url: n.node.url, ...auth })),
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  try {
    await pool.start();
    assert.equal(pool.activeIndex, 2);
    const statuses = pool.nodeStatuses();
    assert.equal(statuses[0]!.initialBlockDownload, true);
    assert.equal(statuses[0]!.eligible, false);
    assert.match(statuses[1]!.lastError ?? "", /-28: Verifying blocks/);
    // A failure of the active node must not fall back onto the ineligible ones.
    await ready.node.close();
    await assert.rejects(pool.getBestBlockHash(), /Connection refused/);
    assert.equal(pool.connected, false);
    assert.equal(pool.activeIndex, 2);
  } finally {
    await pool.stop();
    await Promise.all([ibd.node.close(), warming.node.close()]);
  }
});

Deno.test("BitcoindPool fails over and retries the call when the active node stops answering", async () => {
  const first = coreLike(TIP_A);
  const second = coreLike(TIP_B);
  const pool = new BitcoindPool({
    nodes: [first, second].map((n) => ({ url: n.node.url, ...auth })),
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  const events: NodeSwitchEvent[] = [];
  pool.onSwitch((event) => events.push(event));
  try {
    await pool.start();
    assert.equal(await pool.getBestBlockHash(), TIP_A);
    await first.node.close();
    const results = await Promise.all([pool.getBestBlockHash(), pool.getBestBlockHash()]);
    assert.deepEqual(results, [TIP_B, TIP_B]);
    assert.equal(pool.activeIndex, 1);
    assert.deepEqual(events.map((e) => [e.reason, e.fromIndex, e.toIndex]), [
      ["startup", -1, 0],
      ["failure", 0, 1],
    ]);
  } finally {
    await pool.stop();
    await Promise.all([first.node.close(), second.node.close()]);
  }
});

Deno.test("BitcoindPool fails over when the active node answers -28 warming up", async () => {
  const first = coreLike(TIP_A);
  const second = coreLike(TIP_B);
  const pool = new BitcoindPool({
    nodes: [first, second].map((n) => ({ url: n.node.url, ...auth })),
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  try {
    await pool.start();
    first.state.warmup = true;
    assert.equal(await pool.getBestBlockHash(), TIP_B);
    assert.equal(pool.activeIndex, 1);
    assert.equal(pool.connected, true);
  } finally {
    await pool.stop();
    await Promise.all([first.node.close(), second.node.close()]);
  }
});

Deno.test("BitcoindPool passes ordinary RPC errors through without switching", async () => {
  const first = coreLike(TIP_A);
  const second = coreLike(TIP_B);
  const pool = new BitcoindPool({
    nodes: [first, second].map((n) => ({ url: n.node.url, ...auth })),
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  try {
    await pool.start();
    const error = await pool.validateAddress("nonsense").then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcError);
    assert.equal(error.code, -8);
    assert.equal(pool.activeIndex, 0);
    assert.equal(second.node.requests.filter((r) => r.method === "validateaddress").length, 0);
  } finally {
    await pool.stop();
    await Promise.all([first.node.close(), second.node.close()]);
  }
});

Deno.test("BitcoindPool health check fails back to the preferred node when it is ready", async () => {
  const first = coreLike(TIP_A);
  first.state.warmup = true;
  const second = coreLike(TIP_B);
  const pool = new BitcoindPool({
    nodes: [first, second].map((n) => ({ url: n.node.url, ...auth })),
    healthCheckIntervalMs: 10,
  });
  const events: NodeSwitchEvent[] = [];
  pool.onSwitch((event) => events.push(event));
  try {
    await pool.start();
    assert.equal(pool.activeIndex, 1);
    first.state.warmup = false;
    first.state.ibd = true;
    await waitFor(
      "a probe of the syncing node",
      () => pool.nodeStatuses()[0]!.initialBlockDownload === true,
    );
    assert.equal(pool.activeIndex, 1);
    first.state.ibd = false;
    await waitFor("failback", () => pool.activeIndex === 0);
    assert.equal(await pool.getBestBlockHash(), TIP_A);
    assert.deepEqual(events.map((e) => e.reason), ["startup", "failback"]);
  } finally {
    await pool.stop();
    await Promise.all([first.node.close(), second.node.close()]);
  }
});

Deno.test("BitcoindPool health check reports a reconnect when the only node returns", async () => {
  const only = coreLike(TIP_A);
  const pool = new BitcoindPool({
    nodes: [{ url: only.node.url, ...auth }],
    healthCheckIntervalMs: 10,
  });
  const events: NodeSwitchEvent[] = [];
  pool.onSwitch((event) => events.push(event));
  try {
    await pool.start();
    only.state.warmup = true;
    await waitFor("disconnect", () => !pool.connected);
    only.state.warmup = false;
    await waitFor("reconnect", () => pool.connected);
    assert.deepEqual(events.map((e) => [e.reason, e.fromIndex, e.toIndex]), [
      ["startup", -1, 0],
      ["reconnect", 0, 0],
    ]);
  } finally {
    await pool.stop();
    await only.node.close();
  }
});

Deno.test("BitcoindPool.submitBlock() asks every node, healthy or not, and reports each", async () => {
  const first = coreLike(TIP_A);
  first.state.warmup = true;
  const second = coreLike(TIP_B);
  second.state.submit = "duplicate";
  const refusedUrl = `http://127.0.0.1:${closedPort()}`;
  const pool = new BitcoindPool({
    nodes: [first.node.url, second.node.url, refusedUrl].map((url) => ({ url, ...auth })),
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  try {
    const results = await pool.submitBlock("00ff");
    assert.equal(results.length, 3);
    assert.equal(results[0]!.url, first.node.url);
    assert.match(results[0]!.error ?? "", /-28/);
    assert.deepEqual(results[1], { url: second.node.url, result: "duplicate" });
    assert.match(results[2]!.error ?? "", /Connection refused/);
    assert.deepEqual(first.node.requests.at(-1)!.params, ["00ff"]);
  } finally {
    await Promise.all([first.node.close(), second.node.close()]);
  }
});

Deno.test("BitcoindPool rejects an empty node list", () => {
  assert.throws(() => new BitcoindPool({ nodes: [] }), RangeError);
  assert.equal(
    new BitcoindPool({ nodes: [{ url: "127.0.0.1:1", ...auth }], blockpollMs: 250 })
      .healthCheckIntervalMs,
    2_500,
  );
  assert.equal(
    new BitcoindPool({ nodes: [{ url: "127.0.0.1:1", ...auth }] }).healthCheckIntervalMs,
    1_000,
  );
});

Deno.test("BitcoindPool names every node's state when none can serve a call", async () => {
  const syncing = coreLike(TIP_A);
  syncing.state.ibd = true;
  const refusedUrl = `http://127.0.0.1:${closedPort()}`;
  const pool = new BitcoindPool({
    nodes: [{ url: syncing.node.url, ...auth }, { url: refusedUrl, ...auth }],
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  try {
    await pool.start();
    assert.equal(pool.activeIndex, -1);
    assert.equal(pool.activeUrl, null);
    const error = await pool.getBlockTemplate().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof Error);
    assert.match(error.message, /^Cannot call getblocktemplate on .*no eligible bitcoind node/);
    assert.match(error.message, /initial block download/);
    assert.match(error.message, /Connection refused/);
  } finally {
    await pool.stop();
    await syncing.node.close();
  }
});

Deno.test("a -9 template refusal fails over and keeps the node out until it serves templates", async () => {
  const first = coreLike(TIP_A);
  const second = coreLike(TIP_B);
  first.state.refuse = { code: -9, message: "Bitcoin Core is not connected!" };
  const pool = new BitcoindPool({
    nodes: [{ url: first.node.url, ...auth }, { url: second.node.url, ...auth }],
    healthCheckIntervalMs: 20,
  });
  try {
    await pool.start();
    // Its getblockchaininfo looks fine, so it starts active; the template call reveals it.
    assert.equal(pool.activeIndex, 0);
    const template = await pool.getBlockTemplate();
    assert.deepEqual(template, { previousblockhash: TIP_B });
    assert.equal(pool.activeIndex, 1);
    assert.match(
      pool.nodeStatuses()[0]!.lastError ?? "",
      /^getblocktemplate refused \(-9: Bitcoin Core is not connected!\)$/,
    );
    // Health checks keep probing it (with a template call) but do not fail back.
    const probes = pool.nodeStatuses()[0]!.probes;
    await waitFor("three more probes", () => pool.nodeStatuses()[0]!.probes >= probes + 3);
    assert.equal(pool.activeIndex, 1);
    first.state.refuse = undefined;
    await waitFor("failback once it serves templates", () => pool.activeIndex === 0);
    assert.equal(pool.nodeStatuses()[0]!.eligible, true);
  } finally {
    await pool.stop();
    await first.node.close();
    await second.node.close();
  }
});

Deno.test("with one node refusing (-10), no node is eligible and eligibilityDetail() says why", async () => {
  const only = coreLike(TIP_A);
  only.state.refuse = { code: -10, message: "Bitcoin is downloading blocks..." };
  const pool = new BitcoindPool({
    nodes: [{ url: only.node.url, ...auth }],
    healthCheckIntervalMs: QUIET_HEALTH_MS,
  });
  try {
    await pool.start();
    const error = await pool.getBlockTemplate().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcError && error.code === -10, String(error));
    assert.equal(pool.connected, false);
    assert.match(
      pool.eligibilityDetail(),
      /no eligible node \(.*refused \(-10: Bitcoin is downloading/,
    );
    // Other calls still answer, and do not make the node eligible again.
    assert.equal(await pool.getBestBlockHash(), TIP_A);
    assert.equal(pool.connected, false);
  } finally {
    await pool.stop();
    await only.node.close();
  }
});
