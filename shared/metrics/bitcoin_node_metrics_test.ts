import assert from "node:assert/strict";
import { parseExposition, sampleValue } from "./_exposition.ts";
import {
  BITCOIN_RPC_METHODS,
  BitcoinNodeMetrics,
  OTHER_RPC_METHOD,
} from "./bitcoin_node_metrics.ts";
import { MetricRegistry } from "./registry.ts";

Deno.test("BitcoinNodeMetrics exports mempool, peers and per-method RPC latency and errors", async () => {
  const registry = new MetricRegistry();
  const node = new BitcoinNodeMetrics(registry);
  node.noteStats({ mempoolTxs: 42, mempoolBytes: 9_000, peers: 10 });
  node.observeRpc("getblocktemplate", 30, true);
  node.observeRpc("getblocktemplate", 700, false);
  const parsed = parseExposition(await registry.metrics());
  assert.equal(sampleValue(parsed, "bitcoin_mempool_size"), 42);
  assert.equal(sampleValue(parsed, "bitcoin_mempool_bytes"), 9_000);
  assert.equal(sampleValue(parsed, "bitcoin_peer_count"), 10);
  const gbt = { method: "getblocktemplate" };
  assert.equal(sampleValue(parsed, "bitcoin_rpc_latency_ms_count", gbt), 2);
  assert.equal(sampleValue(parsed, "bitcoin_rpc_latency_ms_sum", gbt), 730);
  assert.equal(sampleValue(parsed, "bitcoin_rpc_latency_ms_bucket", { ...gbt, le: "50" }), 1);
  assert.equal(sampleValue(parsed, "bitcoin_rpc_errors_total", gbt), 1);
  // Every method's series exists from the start, so rate() over them works before a call.
  for (const method of [...BITCOIN_RPC_METHODS, OTHER_RPC_METHOD]) {
    assert.notEqual(sampleValue(parsed, "bitcoin_rpc_latency_ms_count", { method }), undefined);
    assert.notEqual(sampleValue(parsed, "bitcoin_rpc_errors_total", { method }), undefined);
  }
});

Deno.test("BitcoinNodeMetrics counts an unknown method as other and ignores a bad duration", async () => {
  const registry = new MetricRegistry();
  const node = new BitcoinNodeMetrics(registry);
  node.observeRpc("getrawmempool", 5, true);
  node.observeRpc("x".repeat(1000), 5, false);
  node.observeRpc("getnetworkinfo", NaN, false);
  node.observeRpc("getnetworkinfo", -1, true);
  const parsed = parseExposition(await registry.metrics());
  const other = { method: OTHER_RPC_METHOD };
  assert.equal(sampleValue(parsed, "bitcoin_rpc_latency_ms_count", other), 2);
  assert.equal(sampleValue(parsed, "bitcoin_rpc_errors_total", other), 1);
  const net = { method: "getnetworkinfo" };
  assert.equal(sampleValue(parsed, "bitcoin_rpc_latency_ms_count", net), 0);
  assert.equal(sampleValue(parsed, "bitcoin_rpc_errors_total", net), 1);
  const methods = new Set(
    parsed.samples.filter((s) => s.name === "bitcoin_rpc_errors_total").map((s) => s.labels.method),
  );
  assert.equal(methods.size, BITCOIN_RPC_METHODS.length + 1, "the label keeps a fixed set");
});
