/**
 * Start-up rules of the real stratum service: the network is learned from bitcoind when the
 * config omits it, and configured addresses of another network stop the service with exit 2
 * before any Stratum socket opens. Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { startDevnet } from "./support/devnet/mod.ts";
import { launcherCommand, startPoolProcess } from "./support/pool_process.ts";
import { pickFreePort } from "./support/servers/nats_server.ts";
import { regtestAddress } from "./support/addresses.ts";
import { difficultyToTarget } from "@tbg/shared/bitcoin";
import { grindNonce } from "./support/miner/grind.ts";
import {
  buildHeader,
  extranonce2Hex,
  type MinerJob,
  StratumClient,
  type SubmitOutcome,
} from "./support/stratum_client/mod.ts";
import { startRedisServer } from "./support/servers/redis_server.ts";

Deno.test({
  name: "stratum learns the network from getblockchaininfo when the config has none",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const pool = await startPoolProcess(devnet, { network: undefined });
    try {
      const ready = await pool.waitForLog((l) => l.msg === "pool ready");
      assert.equal(ready.network, "regtest");
    } finally {
      assert.equal(await pool.stop(), 0);
      await devnet.stop();
    }
  },
});

Deno.test({
  name:
    "stratum refuses to run with exit 2 when btcaddress belongs to another network than bitcoind's",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const dir = await Deno.makeTempDir({ prefix: "tbg-startup-" });
    const stratumPort = pickFreePort();
    try {
      const configPath = `${dir}/stratum.json`;
      await Deno.writeTextFile(
        configPath,
        JSON.stringify({
          btcd: [{ url: `127.0.0.1:${devnet.rpcPort}`, auth: devnet.user, pass: devnet.password }],
          btcaddress: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
          donation: 1,
          serverurl: [`127.0.0.1:${stratumPort}`],
          metrics: { enabled: false },
        }),
      );
      const out = await launcherCommand(configPath).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, stderr);
      assert.match(
        stderr,
        /btcaddress: bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 is a mainnet address, but network is "regtest"/,
      );
      // Nothing listened on the Stratum port.
      const probe = Deno.listen({ hostname: "127.0.0.1", port: stratumPort });
      probe.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
      await devnet.stop();
    }
  },
});

Deno.test({
  name: "SIGTERM drains: miners get client.reconnect, the pool stops accepting and exits 0",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet({ bits: 0x1d00ffff });
    const pool = await startPoolProcess(devnet, {});
    const client = await StratumClient.start({
      host: "127.0.0.1",
      port: pool.stratumPort,
      username: regtestAddress("p2wpkh", 3).address + ".drain",
    });
    try {
      await client.waitForJob();
      const reconnect = new Promise<unknown[]>((resolve) =>
        client.onNotification((method, params) => {
          if (method === "client.reconnect") resolve(params);
        })
      );
      const exit = pool.stop();
      await reconnect;
      assert.equal(await exit, 0);
      await client.connection.closed;
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: pool.stratumPort }));
    } finally {
      client.close();
      await devnet.stop();
    }
  },
});

Deno.test({
  name: "two pool processes share one port (reuse_port) and hand out disjoint extranonce1 spaces",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet({ bits: 0x1d00ffff });
    const port = pickFreePort();
    const relaxed = {
      rate_limits: { connections_per_ip_per_minute: 1000, max_connections_per_ip: 1000 },
    };
    const a = await startPoolProcess(devnet, { reuse_port: true, ...relaxed }, {
      stratumPort: port,
      serviceArgs: ["--instance", "0"],
    });
    const b = await startPoolProcess(devnet, { reuse_port: true, ...relaxed }, {
      stratumPort: port,
      serviceArgs: ["--instance", "1"],
    });
    const clients: StratumClient[] = [];
    try {
      for (let i = 0; i < 24; i++) {
        const client = await StratumClient.connect({ host: "127.0.0.1", port, username: "unused" });
        await client.subscribe();
        clients.push(client);
      }
      const prefixes = clients.map((c) => c.extranonce1[1]);
      const extranonces = new Set(clients.map((c) => c.sessionId));
      assert.equal(extranonces.size, clients.length, "no two miners share an extranonce1");
      assert.ok(prefixes.every((p) => p === 0 || p === 1));
      assert.ok(
        prefixes.includes(0) && prefixes.includes(1),
        `the kernel spread connections: ${prefixes}`,
      );
    } finally {
      for (const c of clients) c.close();
      assert.equal(await a.stop(), 0);
      assert.equal(await b.stop(), 0);
      await devnet.stop();
    }
  },
});

/** A difficulty a share is found at in well under a second on a CPU (about 430,000 hashes). */
const REMEMBERED = 0.0001;

/** Grinds and submits one share at the client's difficulty. */
async function mineShare(client: StratumClient, job: MinerJob): Promise<SubmitOutcome> {
  const target = difficultyToTarget(client.difficulty);
  for (let counter = 1n; counter < 200n; counter++) {
    const en2 = extranonce2Hex(counter, client.extranonce2Size);
    const en2Bytes = Uint8Array.from(en2.match(/../g)!, (b) => parseInt(b, 16));
    const header = buildHeader(job, client.extranonce1, en2Bytes, job.ntime, job.version, 0);
    const nonce = grindNonce(header, target, 0, 2_000_000);
    if (nonce !== null) return await client.submit(job.jobId, en2, job.ntime, nonce);
  }
  throw new Error(`no share at difficulty ${client.difficulty}`);
}

Deno.test({
  name: "a reconnecting worker gets its remembered difficulty from Redis, across pool processes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet({ bits: 0x1d00ffff });
    const redis = await startRedisServer();
    const username = regtestAddress("p2wpkh", 4).address + ".memory";
    try {
      const first = await startPoolProcess(devnet, { redis: { url: redis.url } });
      const a = await StratumClient.start({ host: "127.0.0.1", port: first.stratumPort, username });
      await a.waitForJob();
      await a.suggestDifficulty(REMEMBERED);
      // Only a difficulty backed by an accepted share is remembered (issue 10, finding 1).
      const shareAt = await a.waitForJob();
      assert.equal(a.difficulty, REMEMBERED);
      const share = await mineShare(a, shareAt);
      assert.equal(share.accepted, true, JSON.stringify(share));
      a.close();
      await a.connection.closed;
      assert.equal(
        await first.stop(),
        0,
        JSON.stringify(first.logs.filter((l) => l.level !== "info").slice(-5)),
      );

      const second = await startPoolProcess(devnet, { redis: { url: redis.url } });
      try {
        const b = await StratumClient.start({
          host: "127.0.0.1",
          port: second.stratumPort,
          username,
        });
        const deadline = Date.now() + 5_000;
        while (b.difficulty !== REMEMBERED && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(
          b.difficulty,
          REMEMBERED,
          JSON.stringify(second.logs.filter((l) => l.level !== "info").slice(-5)),
        );
        b.close();
      } finally {
        assert.equal(await second.stop(), 0);
      }
    } finally {
      await redis.stop();
      await devnet.stop();
    }
  },
});
