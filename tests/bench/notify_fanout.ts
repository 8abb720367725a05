/**
 * Scenario notify_fanout: 10,000 idle authorized miners; the devnet mines a competing block
 * (regtest bits, so at once) and the pool learns it over ZMQ. Reported: the pool's broadcast
 * loop (ckpool_notify_broadcast_ms), the time from the pool's "new job" log line to the last
 * miner's mining.notify, the first-to-last arrival spread across miners, and trigger to last
 * arrival. Load processes stamp arrivals with timeOrigin + now, one clock on one machine.
 */
import { loadAverage1m, sleep, withDevnetPool } from "./bench_setup.ts";
import { histogramTotals } from "./metrics_text.ts";
import { startIdleMiners } from "./idle_miners.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { POOL_CPU } from "./submit_workload.ts";
import { profileWindow } from "./window_profile.ts";

const BROADCAST_METRIC = "ckpool_notify_broadcast_ms";
/** Time given to the last notifications to arrive after the new job. */
const ARRIVAL_WAIT_MS = 3_000;

/** The notify_fanout scenario. */
export const notifyFanout: Scenario = {
  name: "notify_fanout",
  workload: "10,000 idle authorized miners (2 load processes), devnet mineExternalBlock → ZMQ " +
    "→ pool → clean mining.notify to every miner; pool `taskset -c 0`, load `taskset -c 1`",
  columns: [
    { key: "received", label: "miners notified", digits: 0 },
    { key: "loopMs", label: "pool broadcast loop ms", digits: 1 },
    { key: "logToLastMs", label: "new-job log → last notify ms", digits: 1 },
    { key: "fanoutMs", label: "loop + log → last ms", digits: 1 },
    { key: "spreadMs", label: "first → last arrival ms", digits: 1 },
    { key: "triggerToJobMs", label: "block → new job ms", digits: 1 },
    { key: "triggerToLastMs", label: "block → last notify ms", digits: 1 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    return await withDevnetPool({}, {
      cpus: POOL_CPU,
      inspect: context.profileDir !== null,
    }, async (devnet, pool) => {
      const load = startIdleMiners(context, pool.stratumPort);
      const epochNow = () => performance.timeOrigin + performance.now();
      let newJob: Record<string, unknown>;
      let triggerEpochMs: number;
      let before: { sum: number; count: number };
      let after: { sum: number; count: number };
      const notes: string[] = [];
      try {
        const ready = await load.ready;
        context.progress(`  ready: ${ready.established} established, ${ready.failed} failed`);
        // The pool collects once after the miners' burst of connections (stratum/
        // burst_collection.ts); the block is mined after that pause, which is not what this
        // scenario measures (idle_memory reports it).
        try {
          await pool.waitForLog((l) => l.msg === "memory reduced after a connection burst", 15_000);
        } catch {
          notes.push("no after-burst collection within 15 s of ready");
        }
        await sleep(3_000);
        before = histogramTotals(await pool.metrics(), BROADCAST_METRIC);
        triggerEpochMs = epochNow();
        const profiled = await profileWindow(context, pool, "notify-fanout", async () => {
          await devnet.mineExternalBlock();
          const height = devnet.chain.tipHeight() + 1;
          const line = await pool.waitForLog(
            (l) => l.msg === "new job" && l.clean === true && l.height === height,
            20_000,
          );
          await sleep(ARRIVAL_WAIT_MS);
          return line;
        });
        newJob = profiled.value;
        notes.push(...profiled.notes);
        after = histogramTotals(await pool.metrics(), BROADCAST_METRIC);
      } finally {
        load.stop();
      }
      const summary = await load.summary;
      const arrival = summary.notify.find((n) => n.jobId === String(newJob.job));
      if (arrival === undefined) notes.push(`job ${String(newJob.job)} reached no miner`);
      if (summary.connectionsFailed > 0 || summary.closedByServer > 0) {
        notes.push(
          `failed ${summary.connectionsFailed} ${JSON.stringify(summary.failures)}, ` +
            `closed by server ${summary.closedByServer}`,
        );
      }
      const jobEpochMs = Date.parse(String(newJob.ts));
      const broadcasts = after.count - before.count;
      const loopMs = broadcasts > 0 ? (after.sum - before.sum) / broadcasts : NaN;
      const logToLastMs = arrival ? arrival.lastEpochMs - jobEpochMs : NaN;
      return {
        values: {
          received: arrival?.count ?? 0,
          loopMs,
          logToLastMs,
          fanoutMs: loopMs + logToLastMs,
          spreadMs: arrival?.spreadMs ?? NaN,
          triggerToJobMs: jobEpochMs - triggerEpochMs,
          triggerToLastMs: arrival ? arrival.lastEpochMs - triggerEpochMs : NaN,
          loadAvg,
        },
        commands: [load.commandLine],
        notes,
      };
    });
  },
};
