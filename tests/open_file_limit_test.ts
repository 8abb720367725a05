/**
 * The open-file ceiling of the real stratum service (issue 11, item 4): under a lowered
 * `ulimit -n` the launcher passes the limit, the pool fits its connection cap
 * `open_files_reserve` under it, refuses the excess with a plain close (counted as
 * `ckpool_rate_limit_rejections_total{rule="maxclients"}`, logged once per episode), keeps
 * /health answering and keeps serving the miners it has. Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { startDevnet } from "./support/devnet/mod.ts";
import { startPoolProcess } from "./support/pool_process.ts";
import { regtestAddress } from "./support/addresses.ts";
import { StratumClient } from "./support/stratum_client/mod.ts";

/** The lowered limit: the default open_files_reserve (200) leaves 56 miner connections. */
const NOFILE = 256;
const EXPECTED_CAP = NOFILE - 200;
/** Connections tried past the cap. */
const EXCESS = 40;

/** Resolves true when the server closes `conn` without a byte, false if it stays open. */
async function closedByServer(conn: Deno.TcpConn, timeoutMs: number): Promise<boolean> {
  const buffer = new Uint8Array(64);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"open">((resolve) =>
    timer = setTimeout(() => resolve("open"), timeoutMs)
  );
  try {
    const n = await Promise.race([conn.read(buffer).catch(() => null), timeout]);
    return n === null;
  } finally {
    clearTimeout(timer);
  }
}

/** The value of the sample of `name` whose labels include `label`; NaN when there is none. */
function metricValue(text: string, name: string, label: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + "{") && l.includes(label));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

Deno.test({
  name:
    "under ulimit -n 256 the pool refuses miners past its open-file cap politely, counts and logs it once, keeps /health and its miners",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Default (regtest) bits: the devnet mines the external block below at once.
    const devnet = await startDevnet();
    const pool = await startPoolProcess(devnet, {
      rate_limits: { connections_per_ip_per_minute: 65535, max_connections_per_ip: 65535 },
    }, { nofile: NOFILE });
    const held: Deno.TcpConn[] = [];
    const client = await StratumClient.start({
      host: "127.0.0.1",
      port: pool.stratumPort,
      username: regtestAddress("p2wpkh", 5).address + ".ceiling",
    });
    try {
      const ready = await pool.waitForLog((l) => l.msg === "pool ready");
      assert.equal(ready.nofile_limit, NOFILE);
      assert.equal(ready.max_clients, EXPECTED_CAP);
      await client.waitForJob();

      // Fill the cap (the miner above holds one slot), then go past it.
      for (let i = 0; i < EXPECTED_CAP - 1; i++) {
        held.push(await Deno.connect({ hostname: "127.0.0.1", port: pool.stratumPort }));
      }
      const excess: Deno.TcpConn[] = [];
      for (let i = 0; i < EXCESS; i++) {
        excess.push(await Deno.connect({ hostname: "127.0.0.1", port: pool.stratumPort }));
      }
      const closed = await Promise.all(excess.map((c) => closedByServer(c, 15_000)));
      for (const c of excess) c.close();
      assert.equal(closed.filter((c) => c).length, EXCESS, "every connection past the cap closed");
      // The ones within the cap are still open.
      const stillOpen = await Promise.all(held.slice(-3).map((c) => closedByServer(c, 500)));
      assert.deepEqual(stillOpen, [false, false, false]);

      const metrics = await (await fetch(`http://127.0.0.1:${pool.metricsPort}/metrics`)).text();
      assert.equal(
        metricValue(metrics, "ckpool_rate_limit_rejections_total", 'rule="maxclients"'),
        EXCESS,
      );
      const health = await fetch(`http://127.0.0.1:${pool.metricsPort}/health`);
      await health.body?.cancel();
      assert.equal(health.status, 200);
      const episodes = pool.logs.filter((l) =>
        l.msg === "connection cap reached: refusing new miners"
      );
      assert.equal(episodes.length, 1, "logged once per episode");
      assert.equal(pool.logs.filter((l) => l.msg === "accept failed, pausing").length, 0);

      // The miner already connected is still served: a request answered, a new block's job.
      const answer = await client.suggestDifficulty(0.001);
      assert.equal(answer.error, null);
      await devnet.mineExternalBlock();
      await client.waitForJob(20_000, false);

      // Room again: the next miner is admitted and the episode's end is logged.
      for (const c of held.splice(0, 5)) c.close();
      const late = await StratumClient.start({
        host: "127.0.0.1",
        port: pool.stratumPort,
        username: regtestAddress("p2wpkh", 6).address + ".late",
      });
      try {
        await late.waitForJob();
      } finally {
        late.close();
      }
      const end = await pool.waitForLog((l) => l.msg === "connection cap: accepting again");
      assert.equal(end.refused, EXCESS);
    } finally {
      client.close();
      for (const c of held) c.close();
      assert.equal(await pool.stop(), 0, "the pool was alive and drained");
      await devnet.stop();
    }
  },
});

Deno.test({
  name:
    "out of descriptors (reserve below what the process uses) the accept loop backs off, logs once, and serves again when descriptors free up",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    // open_files_reserve 16 leaves a cap (240) above what the process can really open: accept()
    // meets EMFILE first. This is the misconfiguration the backoff protects against.
    const pool = await startPoolProcess(devnet, {
      open_files_reserve: 16,
      rate_limits: { connections_per_ip_per_minute: 65535, max_connections_per_ip: 65535 },
    }, { nofile: NOFILE });
    const held: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < NOFILE; i++) {
        held.push(await Deno.connect({ hostname: "127.0.0.1", port: pool.stratumPort }));
      }
      const failed = await pool.waitForLog((l) => l.msg === "accept failed, pausing", 30_000);
      assert.match(String(failed.error), /Too many open files|EMFILE|os error 24/);
      // Held at the limit for a while: one report per burst, not one per retry.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(pool.logs.filter((l) => l.msg === "accept failed, pausing").length, 1);

      for (const c of held.splice(0, 128)) c.close();
      await pool.waitForLog((l) => l.msg === "accepting again", 30_000);
      const health = await fetch(`http://127.0.0.1:${pool.metricsPort}/health`);
      await health.body?.cancel();
      assert.equal(health.status, 200);
      const miner = await StratumClient.start({
        host: "127.0.0.1",
        port: pool.stratumPort,
        username: regtestAddress("p2wpkh", 7).address + ".after",
      });
      try {
        await miner.waitForJob();
      } finally {
        miner.close();
      }
    } finally {
      for (const c of held) c.close();
      assert.equal(await pool.stop(), 0, "the pool was alive and drained");
      await devnet.stop();
    }
  },
});
