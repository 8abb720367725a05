import assert from "node:assert/strict";
import { startDevnet } from "../support/devnet/mod.ts";
import { startInProcessPool } from "../support/pool_in_process.ts";
import { startDriver } from "./load_driver.ts";
import { parseLoadArgs } from "./load_options.ts";
import { type ReadyInfo, startLoad } from "./load_run.ts";

/** Pool settings of the benchmarks: every random share is far below the difficulty. */
const HUGE_DIFFICULTY = {
  startdiff: 1e12,
  mindiff: 1e12,
  maxdiff: 0,
  rate_limits: {
    connections_per_ip_per_minute: 65535,
    max_connections_per_ip: 65535,
    max_shares_per_minute: 65535,
    max_invalid_shares_per_minute: 65535,
    max_requests_per_minute: 65535,
    max_invalid_requests_per_minute: 65535,
  },
};

Deno.test({
  name: "startLoad() closed loop gets every submit answered as low difficulty",
  async fn() {
    const devnet = await startDevnet({ bits: 0x1d00ffff, mempoolTarget: 0 });
    const pool = await startInProcessPool(devnet, HUGE_DIFFICULTY);
    try {
      const run = startLoad(parseLoadArgs([
        "--port",
        String(pool.port),
        "--connections",
        "3",
        "--outstanding",
        "2",
        "--ramp-s",
        "0",
        "--warmup-s",
        "0",
        "--duration-s",
        "1",
      ]));
      const summary = await run.done;
      assert.equal(summary.connectionsEstablished, 3);
      assert.equal(summary.connectionsFailed, 0);
      assert.ok(summary.responses > 0);
      assert.equal(summary.accepted, 0);
      assert.deepEqual(Object.keys(summary.errorsByCode), ["23"]);
      assert.equal(summary.errorsByCode["23"], summary.responses);
      assert.equal(summary.latency.count, summary.responses);
      assert.ok(summary.perConnectionResponses.min > 0);
    } finally {
      await pool.stop();
      await devnet.stop();
    }
  },
});

Deno.test({
  name: "startLoad() idle miners report when a new block's clean job reached each of them",
  async fn() {
    const devnet = await startDevnet();
    const pool = await startInProcessPool(devnet, {
      ...HUGE_DIFFICULTY,
      zmqblock: devnet.zmqUrl,
    });
    try {
      const ready = Promise.withResolvers<ReadyInfo>();
      const run = startLoad(
        parseLoadArgs([
          "--port",
          String(pool.port),
          "--connections",
          "4",
          "--idle",
          "--ramp-s",
          "0",
          "--warmup-s",
          "0",
          "--duration-s",
          "30",
        ]),
        { onReady: ready.resolve },
      );
      assert.equal((await ready.promise).established, 4);
      const before = pool.runtime.engine.jobs.current!.id;
      await devnet.mineExternalBlock();
      // Bounded wait for the new job to reach the miners, then end the run early.
      for (let i = 0; i < 100 && pool.runtime.engine.jobs.current!.id === before; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 500));
      run.stop();
      const summary = await run.done;
      const job = summary.notify.find((n) => n.jobId === pool.runtime.engine.jobs.current!.id);
      assert.ok(job, JSON.stringify(summary.notify));
      assert.equal(job.clean, true);
      assert.equal(job.count, 4);
      // Region 0, instance 0: the first two bytes of every extranonce1 (load_connection.ts).
      assert.equal(job.source, "0000");
      assert.ok(job.lastEpochMs >= job.firstEpochMs);
      assert.equal(summary.responses, 0);
    } finally {
      await pool.stop();
      await devnet.stop();
    }
  },
});

Deno.test({
  name: "startDriver() spreads connections over child processes and merges their summaries",
  async fn() {
    const devnet = await startDevnet({ bits: 0x1d00ffff, mempoolTarget: 0 });
    const pool = await startInProcessPool(devnet, HUGE_DIFFICULTY);
    try {
      const readies: ReadyInfo[] = [];
      const run = startDriver(
        parseLoadArgs([
          "--port",
          String(pool.port),
          "--connections",
          "5",
          "--outstanding",
          "1",
          "--processes",
          "2",
          "--ramp-s",
          "0",
          "--warmup-s",
          "0",
          "--duration-s",
          "1",
        ]),
        { onReady: (info) => readies.push(info) },
      );
      const summary = await run.done;
      assert.deepEqual(readies.map((r) => [r.established, r.failed]), [[5, 0]]);
      assert.equal(summary.processes, 2);
      assert.equal(summary.connectionsTarget, 5);
      assert.equal(summary.connectionsEstablished, 5);
      assert.ok(summary.responses > 0);
      assert.equal(summary.latency.count, summary.responses);
      assert.deepEqual(Object.keys(summary.errorsByCode), ["23"]);
    } finally {
      await pool.stop();
      await devnet.stop();
    }
  },
});
