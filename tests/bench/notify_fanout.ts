/**
 * Scenario notify_fanout: 10,000 idle authorized miners; the devnet mines a competing block
 * (regtest bits, so at once) and the pool learns it over ZMQ. Each run mines BLOCKS_PER_RUN
 * blocks and reports their medians. With `--processes N` (N > 1) the miners are spread by the
 * kernel over N `reuse_port` pool processes on one port (`--instance 0…N−1`, process i pinned to
 * CPU i mod the CPU count, the load generator unpinned); each process learns the block itself.
 *
 * Reported, per block: the broadcast loop (ckpool_notify_broadcast_ms) and template → last
 * notify of each process (its loop plus its "new job" log line → the last of its miners'
 * arrivals), the slowest process's; first → last arrival over all miners; block → new job in
 * the last process to get it; block → the last miner's notify; and the CPU the pools and the load generator spent
 * on the block (a 5 s window from the block, less an idle 5 s window just before it). The miners of each process are
 * told apart by their extranonce1 (region and instance bytes). Load processes stamp arrivals
 * with timeOrigin + now, one clock on one machine.
 */
import type { Devnet } from "../support/devnet/mod.ts";
import { startDevnet } from "../support/devnet/mod.ts";
import { type BenchPool, startBenchPool } from "./bench_pool.ts";
import { startBenchPools } from "./bench_pools.ts";
import { loadAverage1m } from "./bench_setup.ts";
import {
  broadcastCpuMs,
  cpuOfInstance,
  type FanoutFigures,
  fanoutFigures,
  finiteMedian,
  instanceSource,
  perProcessNote,
} from "./fanout_figures.ts";
import { startIdleMiners } from "./idle_miners.ts";
import { histogramTotals } from "./metrics_text.ts";
import { childPids, cpuSeconds } from "./proc_stats.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { LOAD_CPU, POOL_CPU } from "./submit_workload.ts";
import { profileWindow } from "./window_profile.ts";

const BROADCAST_METRIC = "ckpool_notify_broadcast_ms";
/**
 * Time given to the last notifications to arrive, and the length of each CPU window (on a busy
 * shared machine a fan-out has taken more than 3 s).
 */
const ARRIVAL_WAIT_MS = 5_000;
/** Blocks mined per run; the row is their median. */
export const BLOCKS_PER_RUN = 3;

/** One block's figures. */
interface BlockFigures {
  readonly figures: FanoutFigures;
  readonly triggerEpochMs: number;
  /** CPU ms of each pool process, in instance order. */
  readonly cpuMs: readonly number[];
  readonly loadCpuMs: number;
}

/** Mean broadcast loop of each pool between two scrapes (NaN when it logged none). */
function loopMeans(
  before: readonly { sum: number; count: number }[],
  after: readonly { sum: number; count: number }[],
): number[] {
  return after.map((a, i) => {
    const n = a.count - before[i]!.count;
    return n > 0 ? (a.sum - before[i]!.sum) / n : NaN;
  });
}

/**
 * No template refresh during a run: a refresh is a broadcast to every miner too, and one in a
 * CPU window (every 30 s by default) would be counted against the block.
 */
const OVERRIDES = { update_interval: 3_600 };

async function startPools(
  devnet: Devnet,
  processes: number,
  inspect: boolean,
): Promise<BenchPool[]> {
  if (processes === 1) {
    return [await startBenchPool(devnet, { cpus: POOL_CPU, inspect, overrides: OVERRIDES })];
  }
  const cpus = navigator.hardwareConcurrency;
  return await startBenchPools(devnet, {
    count: processes,
    cpusOf: (i) => cpuOfInstance(i, cpus),
    overrides: OVERRIDES,
  });
}

/** The notify_fanout scenario. */
export const notifyFanout: Scenario = {
  name: "notify_fanout",
  workload: "10,000 idle authorized miners (2 load processes), devnet mineExternalBlock → ZMQ " +
    `→ pool → clean mining.notify to every miner, ${BLOCKS_PER_RUN} blocks per run (row: their ` +
    "median); one pool `taskset -c 0`, load `taskset -c 1`; with --processes N: N reuse_port " +
    "pools, pool i on CPU i mod CPUs, load unpinned",
  columns: [
    { key: "processes", label: "pool processes", digits: 0 },
    { key: "received", label: "miners notified", digits: 0 },
    { key: "loopMs", label: "broadcast loop ms (slowest process)", digits: 1 },
    { key: "fanoutMs", label: "template → last notify ms (slowest process)", digits: 1 },
    { key: "spreadMs", label: "first → last arrival ms", digits: 1 },
    { key: "triggerToJobMs", label: "block → template ms (last process)", digits: 1 },
    { key: "triggerToLastMs", label: "block → last notify ms", digits: 1 },
    { key: "cpuMs", label: "pools' CPU ms per block (all processes)", digits: 0 },
    { key: "maxCpuMs", label: "CPU ms of the busiest pool process", digits: 0 },
    { key: "loadCpuMs", label: "load generator CPU ms per block", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const processes = context.processes ?? 1;
    const devnet = await startDevnet({});
    let pools: BenchPool[] = [];
    try {
      pools = await startPools(devnet, processes, context.profileDir !== null);
      const load = startIdleMiners(
        context,
        pools[0]!.stratumPort,
        undefined,
        processes === 1 ? LOAD_CPU : null,
      );
      const epochNow = () => performance.timeOrigin + performance.now();
      const notes: string[] = [];
      const loadPids: number[] = [];
      const blocks: {
        triggerEpochMs: number;
        jobs: Record<string, unknown>[];
        loops: number[];
        cpuMs: number[];
        loadCpuMs: number;
      }[] = [];
      try {
        const ready = await load.ready;
        context.progress(`  ready: ${ready.established} established, ${ready.failed} failed`);
        loadPids.push(load.pid, ...await childPids(load.pid));
        // Each pool collects once after the miners' burst of connections (stratum/
        // burst_collection.ts); the blocks are mined after that pause, which is not what this
        // scenario measures (idle_memory reports it).
        await Promise.all(pools.map(async (pool, i) => {
          try {
            await pool.waitForLog(
              (l) => l.msg === "memory reduced after a connection burst",
              15_000,
            );
          } catch {
            notes.push(`pool ${i}: no after-burst collection within 15 s of ready`);
          }
        }));
        for (let block = 0; block < BLOCKS_PER_RUN; block++) {
          const before = await Promise.all(
            pools.map(async (p) => histogramTotals(await p.metrics(), BROADCAST_METRIC)),
          );
          let triggerEpochMs = NaN;
          // An idle window before the block (its CPU is subtracted), then the block's window.
          const measured = await broadcastCpuMs(
            [...pools.map((p) => [p.servicePid]), loadPids],
            ARRIVAL_WAIT_MS,
            cpuSeconds,
            () =>
              profileWindow(context, pools[0]!, `notify-fanout-${block}`, async () => {
                triggerEpochMs = epochNow();
                await devnet.mineExternalBlock();
                const height = devnet.chain.tipHeight() + 1;
                return await Promise.all(pools.map((pool) =>
                  pool.waitForLog(
                    (l) => l.msg === "new job" && l.clean === true && l.height === height,
                    20_000,
                  )
                ));
              }),
          );
          notes.push(...measured.value.notes);
          const after = await Promise.all(
            pools.map(async (p) => histogramTotals(await p.metrics(), BROADCAST_METRIC)),
          );
          // Exactly one broadcast per pool in the two windows, or the CPU is not the block's.
          const extra = after.some((a, i) => a.count - before[i]!.count !== 1);
          if (extra) notes.push(`block ${block + 1}: another broadcast in its CPU windows`);
          blocks.push({
            triggerEpochMs,
            jobs: measured.value.value,
            loops: loopMeans(before, after),
            cpuMs: measured.cpuMs.slice(0, pools.length).map((c) => extra ? NaN : c),
            loadCpuMs: extra ? NaN : measured.cpuMs[pools.length]!,
          });
        }
      } finally {
        load.stop();
      }
      const summary = await load.summary;
      if (summary.connectionsFailed > 0 || summary.closedByServer > 0) {
        notes.push(
          `failed ${summary.connectionsFailed} ${JSON.stringify(summary.failures)}, ` +
            `closed by server ${summary.closedByServer}`,
        );
      }
      const results: BlockFigures[] = blocks.map(
        ({ triggerEpochMs, jobs, loops, cpuMs, loadCpuMs }, b) => {
          const figures = fanoutFigures(
            summary.notify,
            jobs.map((job, i) => {
              const loopMs = loops[i]!;
              // The "new job" line is logged after the loop; the template arrived a loop earlier.
              const logged = Date.parse(String(job.ts));
              return {
                source: instanceSource(processes === 1 ? 0 : i),
                jobId: String(job.job),
                startEpochMs: Number.isNaN(loopMs) ? logged : logged - loopMs,
                loopMs,
              };
            }),
          );
          notes.push(
            perProcessNote(`block ${b + 1}`, figures) +
              `; block → last ${(figures.lastArrivalEpochMs - triggerEpochMs).toFixed(1)} ms` +
              `; CPU ms: pools ${cpuMs.map((c) => c.toFixed(0)).join(" + ")}, load generator ${
                loadCpuMs.toFixed(0)
              }`,
          );
          if (figures.silent.length > 0) {
            notes.push(`block ${b + 1}: no miner of ${figures.silent.join(", ")} got the job`);
          }
          return { figures, triggerEpochMs, cpuMs, loadCpuMs };
        },
      );
      const of = (pick: (r: BlockFigures) => number) => finiteMedian(results.map(pick));
      return {
        values: {
          processes,
          received: of((r) => r.figures.miners),
          loopMs: of((r) => Math.max(...r.figures.perProcess.map((p) => p.loopMs))),
          fanoutMs: of((r) => r.figures.slowestStartToLastMs),
          spreadMs: of((r) => r.figures.spreadMs),
          triggerToJobMs: of((r) => r.figures.lastStartEpochMs - r.triggerEpochMs),
          triggerToLastMs: of((r) => r.figures.lastArrivalEpochMs - r.triggerEpochMs),
          cpuMs: of((r) => r.cpuMs.reduce((a, b) => a + b, 0)),
          maxCpuMs: of((r) => Math.max(...r.cpuMs)),
          loadCpuMs: of((r) => r.loadCpuMs),
          loadAvg,
        },
        commands: [load.commandLine],
        notes,
      };
    } finally {
      await Promise.all(pools.map((p) => p.stop()));
      await devnet.stop();
    }
  },
};
