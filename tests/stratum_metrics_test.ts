/**
 * The pool's Prometheus endpoint and /health over HTTP: seed metric names move with real traffic,
 * and /health answers 200 only while the Stratum port accepts and the template is fresh.
 * Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { startDevnet } from "./support/devnet/mod.ts";
import { startInProcessPool } from "./support/pool_in_process.ts";
import { regtestAddress } from "./support/addresses.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";

function sample(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((l) =>
    l.startsWith(name + (labels ? `{${labels}` : "{")) || l.startsWith(name + " ")
  );
  return line === undefined ? NaN : Number(line.split(" ").pop());
}

Deno.test({
  name: "metrics follow real shares and /health turns 503 when the Stratum port stops accepting",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const devnet = await startDevnet({ bits: 0x1d00ffff });
    const pool = await startInProcessPool(devnet);
    const base = `http://127.0.0.1:${pool.runtime.metricsServer!.port}`;
    const client = await StratumClient.start({
      host: "127.0.0.1",
      port: pool.port,
      username: regtestAddress("p2tr", 1).address + ".m",
    });
    const miner = new CpuMiner(client, { batchNonces: 512 });
    try {
      miner.start();
      const deadline = Date.now() + 30_000;
      while (miner.stats.accepted < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await miner.stop();
      assert.ok(miner.stats.accepted >= 3);
      await client.submit("ffffff", "0000000000000001", 0, 0);

      const text = await (await fetch(`${base}/metrics`)).text();
      assert.ok(sample(text, "ckpool_shares_total", 'valid="true"') >= 3, text);
      assert.ok(sample(text, "ckpool_connected_miners") >= 1);
      assert.equal(sample(text, "ckpool_bitcoin_height"), devnet.chain.tipHeight());
      // Node metrics (dashboard "Bitcoin Core"): polled at start from the devnet's mempool of
      // about 20 transactions, and every RPC call timed.
      assert.ok(sample(text, "bitcoin_mempool_size") > 0, "mempool polled");
      assert.ok(sample(text, "bitcoin_mempool_bytes") > 0);
      assert.equal(sample(text, "bitcoin_peer_count"), 0, "the devnet reports no peers");
      for (const method of ["getblocktemplate", "getmempoolinfo", "getnetworkinfo"]) {
        assert.ok(
          sample(text, "bitcoin_rpc_latency_ms_count", `method="${method}"`) >= 1,
          `${method} timed`,
        );
      }
      for (
        const name of [
          "ckpool_blocks_found_total",
          "ckpool_hashrate_total",
          "ckpool_bitcoin_connected",
          "ckpool_block_submit_failures_total",
          "ckpool_event_emit_latency_us_bucket",
          "ckpool_memory_bytes",
          "ckpool_uptime_seconds",
          "ckpool_rate_limit_rejections_total",
        ]
      ) assert.ok(text.includes(name), `missing ${name}`);

      const healthy = await fetch(`${base}/health`);
      assert.equal(healthy.status, 200);
      await healthy.body?.cancel();
      pool.runtime.server.stopAccepting();
      const unhealthy = await fetch(`${base}/health`);
      assert.equal(unhealthy.status, 503);
      const body = await unhealthy.json() as { failing: string[] };
      assert.ok(body.failing.length > 0);
    } finally {
      client.close();
      await pool.stop();
      await devnet.stop();
    }
  },
});
