/**
 * Scenario idle_memory: the pool's resident memory (VmRSS of the service process) before and
 * after 10,000 connections that subscribed, authorized and received their first job, then idle.
 */
import { DIFFICULTY_1_BITS, loadAverage1m, sleep, withDevnetPool } from "./bench_setup.ts";
import { startIdleMiners } from "./idle_miners.ts";
import { rssBytes } from "./proc_stats.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { POOL_CPU } from "./submit_workload.ts";

/** Settling time before each reading (timers, lazy allocations). */
const SETTLE_MS = 5_000;

/** The idle_memory scenario. */
export const idleMemory: Scenario = {
  name: "idle_memory",
  workload: "pool VmRSS before and 5 s after 10,000 idle authorized connections (2 load " +
    "processes, 10 s ramp), empty template",
  columns: [
    { key: "established", label: "connections", digits: 0 },
    { key: "rssBeforeMb", label: "RSS before MB", digits: 1 },
    { key: "rssAfterMb", label: "RSS after MB", digits: 1 },
    { key: "bytesPerConn", label: "bytes per connection", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    return await withDevnetPool(
      { bits: DIFFICULTY_1_BITS, mempoolTarget: 0 },
      { cpus: POOL_CPU },
      async (_devnet, pool) => {
        await sleep(SETTLE_MS);
        const before = await rssBytes(pool.servicePid);
        const load = startIdleMiners(context, pool.stratumPort);
        let after = before;
        try {
          const ready = await load.ready;
          context.progress(`  ready: ${ready.established} established, ${ready.failed} failed`);
          await sleep(SETTLE_MS);
          after = await rssBytes(pool.servicePid);
        } finally {
          load.stop();
        }
        const summary = await load.summary;
        const notes = summary.connectionsFailed > 0 || summary.closedByServer > 0
          ? [
            `failed ${summary.connectionsFailed} ${JSON.stringify(summary.failures)}, ` +
            `closed by server ${summary.closedByServer}`,
          ]
          : [];
        return {
          values: {
            established: summary.connectionsEstablished,
            rssBeforeMb: before / 1e6,
            rssAfterMb: after / 1e6,
            bytesPerConn: (after - before) / summary.connectionsEstablished,
            loadAvg,
          },
          commands: [load.commandLine],
          notes,
        };
      },
    );
  },
};
