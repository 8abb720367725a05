/**
 * Scenarios idle_memory and idle_memory_steady: the pool's resident memory (VmRSS of the service
 * process) before and after 10,000 connections that subscribed, authorized and received their
 * first job, then idle. The steady variant keeps them connected while the pool makes a new job
 * every second (update_interval 1 instead of the default 30, so an hour of template refreshes
 * passes in 90 s) and reads RSS again: what the pool keeps per miner per job shows there.
 */
import { DIFFICULTY_1_BITS, loadAverage1m, sleep, withDevnetPool } from "./bench_setup.ts";
import { startIdleMiners } from "./idle_miners.ts";
import type { BenchPool } from "./bench_pool.ts";
import { rssByMapping } from "./fresh_memory.ts";
import { parseSmapsRollup, readProcFile, rssBytes } from "./proc_stats.ts";
import type { BenchContext, Column, RunResult, Scenario } from "./scenario.ts";
import { POOL_CPU } from "./submit_workload.ts";
import { type Census, censusBytes, censusGrowth, heapCensus } from "./heap_census.ts";

/** Settling time before each reading (timers, lazy allocations). */
const SETTLE_MS = 5_000;
/** Kinds of heap object listed per connection in a --profile run's census note. */
const CENSUS_TOP = 30;

/** The pool's heap census after a full collection, when it runs under the inspector. */
async function census(pool: BenchPool): Promise<Census | null> {
  const text = await pool.inspector?.heapSnapshot();
  return text === undefined ? null : heapCensus(text);
}

/** What each connection added to the JS heap, by kind of object (largest first). */
function censusNote(before: Census, after: Census, connections: number): string {
  const total = (censusBytes(after) - censusBytes(before)) / connections;
  const rows = censusGrowth(before, after, connections).slice(0, CENSUS_TOP)
    .map((g) => `    ${g.bytesPerUnit.toFixed(0)} B  ${g.countPerUnit.toFixed(2)}×  ${g.kind}`);
  return `heap snapshot growth per connection: ${total.toFixed(0)} B of self size\n` +
    rows.join("\n");
}

/** How long the steady variant holds the miners while jobs churn. */
const STEADY_HOLD_MS = 90_000;

const COLUMNS: readonly Column[] = [
  { key: "established", label: "connections", digits: 0 },
  { key: "rssBeforeMb", label: "RSS before MB", digits: 1 },
  { key: "rssAfterMb", label: "RSS after MB", digits: 1 },
  { key: "bytesPerConn", label: "bytes per connection", digits: 0 },
  { key: "anonBeforeMb", label: "RssAnon before MB", digits: 1 },
  { key: "anonAfterMb", label: "RssAnon after MB", digits: 1 },
  { key: "pssAfterMb", label: "PSS after MB", digits: 1 },
  { key: "burstGcMs", label: "burst GC pause ms", digits: 1 },
  { key: "burstGcCpuMs", label: "burst GC CPU ms", digits: 1 },
  { key: "loadAvg", label: "load avg 1m", digits: 2 },
];

const STEADY_COLUMNS: readonly Column[] = [
  ...COLUMNS.filter((c) => c.key !== "loadAvg"),
  { key: "jobs", label: "jobs sent", digits: 0 },
  { key: "rssSteadyMb", label: "RSS after churn MB", digits: 1 },
  { key: "steadyBytesPerConn", label: "bytes per connection after churn", digits: 0 },
  COLUMNS.find((c) => c.key === "loadAvg")!,
];

/** Rss, Pss and Anonymous (= RssAnon) of the pool now, bytes. */
async function rollup(pool: BenchPool): Promise<Record<string, number>> {
  return parseSmapsRollup(await readProcFile(`/proc/${pool.servicePid}/smaps_rollup`));
}

/** The pool's log line for the collection it runs after a burst of connections. */
const BURST_GC_LOG = "memory reduced after a connection burst";

/** The pool's after-burst collections so far, in log order: pause and CPU, ms. */
function burstGcPauses(pool: BenchPool): { pauseMs: number; cpuMs: number }[] {
  return pool.logs.filter((l) => l.msg === BURST_GC_LOG)
    .map((l) => ({ pauseMs: Number(l.pause_ms), cpuMs: Number(l.cpu_ms) }));
}

async function heapNote(pool: BenchPool, label: string, connections: number, baseline: number) {
  const heap = await pool.inspector?.heapAfterGc();
  if (heap === undefined) return { note: null, usedSize: 0 };
  const rss = await rssBytes(pool.servicePid);
  return {
    usedSize: heap.usedSize,
    note: connections === 0
      ? null
      : `${label}: V8 heap used after full GC ${(heap.usedSize / 1e6).toFixed(1)} MB (${
        ((heap.usedSize - baseline) / connections).toFixed(0)
      } B per connection over the ` +
        `baseline); RSS after that GC ${(rss / 1e6).toFixed(1)} MB`,
  };
}

function idleMemoryScenario(steady: boolean): Scenario {
  return {
    name: steady ? "idle_memory_steady" : "idle_memory",
    workload: steady
      ? "as idle_memory, then the miners stay connected for 90 s while the pool makes a new job " +
        "every second (update_interval 1, 5-tx mempool): RSS again after the jobs churned"
      : "pool VmRSS before and 5 s after 10,000 idle authorized connections (2 load " +
        "processes, 10 s ramp), empty template",
    columns: steady ? STEADY_COLUMNS : COLUMNS,
    async run(context: BenchContext): Promise<RunResult> {
      const loadAvg = await loadAverage1m();
      return await withDevnetPool(
        { bits: DIFFICULTY_1_BITS, mempoolTarget: steady ? 5 : 0 },
        {
          cpus: POOL_CPU,
          inspect: context.profileDir !== null,
          ...(steady ? { overrides: { update_interval: 1 } } : {}),
        },
        async (_devnet, pool) => {
          await sleep(SETTLE_MS);
          const baseline = await heapNote(pool, "before", 0, 0);
          const censusBefore = await census(pool);
          const before = await rssBytes(pool.servicePid);
          const rollupBefore = await rollup(pool);
          let rollupAfter: Record<string, number> = {};
          const load = startIdleMiners(context, pool.stratumPort, context.idleMiners);
          const notes: string[] = [];
          let after = before;
          let steadyRss = NaN;
          let jobs = NaN;
          let established = 0;
          let burstGcs: { pauseMs: number; cpuMs: number }[] = [];
          try {
            const ready = await load.ready;
            established = ready.established;
            context.progress(`  ready: ${ready.established} established, ${ready.failed} failed`);
            // RSS each second of the settling time: when the after-burst collection ran, and
            // what came back after it, show here.
            const jobsAtReady = pool.logs.filter((l) => l.msg === "new job").length;
            const samples: string[] = [];
            for (let s = 1; s <= SETTLE_MS / 1000; s++) {
              await sleep(1000);
              const gcs = burstGcPauses(pool).length;
              samples.push(
                `${((await rssBytes(pool.servicePid)) / 1e6).toFixed(1)}${gcs ? "*" : ""}`,
              );
            }
            notes.push(
              `RSS MB each second after ready (* = after-burst GC done): ${samples.join(", ")}; ` +
                "jobs broadcast meanwhile (the 30 s template refresh): " +
                String(pool.logs.filter((l) => l.msg === "new job").length - jobsAtReady),
            );
            after = await rssBytes(pool.servicePid);
            rollupAfter = await rollup(pool);
            const top = rssByMapping(await readProcFile(`/proc/${pool.servicePid}/smaps`))
              .slice(0, 4).map(([n, kb]) => `${n.split("/").at(-1)} ${(kb / 1024).toFixed(1)} MB`);
            notes.push(`largest mappings by RSS after: ${top.join(", ")}`);
            burstGcs = burstGcPauses(pool);
            const afterHeap = await heapNote(pool, "after", established, baseline.usedSize);
            if (afterHeap.note !== null) notes.push(afterHeap.note);
            const censusAfter = censusBefore === null ? null : await census(pool);
            if (censusBefore !== null && censusAfter !== null && established > 0) {
              notes.push(censusNote(censusBefore, censusAfter, established));
            }
            if (steady) {
              const jobsAtReady = pool.logs.filter((l) => l.msg === "new job").length;
              await sleep(STEADY_HOLD_MS);
              steadyRss = await rssBytes(pool.servicePid);
              jobs = pool.logs.filter((l) => l.msg === "new job").length - jobsAtReady;
              const steadyHeap = await heapNote(
                pool,
                "after churn",
                established,
                baseline.usedSize,
              );
              if (steadyHeap.note !== null) notes.push(steadyHeap.note);
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
          for (const line of pool.logs.filter((l) => l.msg === BURST_GC_LOG)) {
            notes.push(
              `after-burst GC: ${line.pause_ms} ms (CPU ${line.cpu_ms} ms) with ${line.miners} ` +
                `miners, RSS ` +
                `${line.rss_mb_before} → ${line.rss_mb_after} MB, V8 heap ` +
                `${line.heap_mb_before} → ${line.heap_mb_after} MB`,
            );
          }
          const connections = summary.connectionsEstablished;
          return {
            values: {
              established: connections,
              rssBeforeMb: before / 1e6,
              rssAfterMb: after / 1e6,
              bytesPerConn: (after - before) / connections,
              anonBeforeMb: (rollupBefore.Anonymous ?? NaN) / 1e6,
              anonAfterMb: (rollupAfter.Anonymous ?? NaN) / 1e6,
              pssAfterMb: (rollupAfter.Pss ?? NaN) / 1e6,
              // The first after-burst collection before the reading; none (NaN) if it had not run.
              burstGcMs: burstGcs[0]?.pauseMs ?? NaN,
              burstGcCpuMs: burstGcs[0]?.cpuMs ?? NaN,
              ...(steady
                ? {
                  jobs,
                  rssSteadyMb: steadyRss / 1e6,
                  steadyBytesPerConn: (steadyRss - before) / connections,
                }
                : {}),
              loadAvg,
            },
            commands: [load.commandLine],
            notes,
          };
        },
      );
    },
  };
}

/** The idle_memory scenario. */
export const idleMemory: Scenario = idleMemoryScenario(false);

/** The idle_memory_steady scenario. */
export const idleMemorySteady: Scenario = idleMemoryScenario(true);
