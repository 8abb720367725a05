/**
 * The share-path workload of ARCHITECTURE.md: pool pinned to core 0, load generator pinned to
 * core 1, empty-mempool template with difficulty-1 bits, share difficulty 1e12 so every submit
 * is answered "low difficulty". Measures the pool process's CPU over the load's window.
 */
import type { LoadSummary } from "../load/load_summary.ts";
import { DIFFICULTY_1_BITS, loadAverage1m, sleep, withDevnetPool } from "./bench_setup.ts";
import { type GcSummary, parseGcTraceLine, summarizeGc } from "./gc_trace.ts";
import { startLoadProcess } from "./load_process.ts";
import { cpuSeconds, processAgeMs } from "./proc_stats.ts";
import type { BenchContext } from "./scenario.ts";
import { profileWindow } from "./window_profile.ts";

/** Core the pool runs on. */
export const POOL_CPU = "0";
/** Core the load generator runs on. */
export const LOAD_CPU = "1";

/** What one workload run measured. */
export interface WorkloadResult {
  readonly summary: LoadSummary;
  /** Pool CPU seconds per wall second during the window (1 = one core saturated). */
  readonly poolCpuUtil: number;
  /** Pool CPU seconds per 1,000 responses. */
  readonly poolCpuPer1k: number;
  /** Load generator CPU seconds per wall second during the window. */
  readonly loadCpuUtil: number;
  readonly loadAvg: number;
  /** The pool's garbage collections over the window (when run with `traceGc`). */
  readonly gc: GcSummary | null;
  /** Bytes the pool allocated per response over the window (NaN without `traceGc`). */
  readonly allocPerResponse: number;
  readonly commands: string[];
  readonly notes: string[];
}

/** Load timing: connections ramp, then warm-up (load, not measured), then the window. */
export interface WorkloadTiming {
  readonly rampS: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Run the pool with V8's `--trace-gc-nvp` and summarise its collections over the window. */
  readonly traceGc?: boolean;
}

/** Runs the load CLI with `modeArgs` against a fresh pinned pool and measures both processes. */
export async function runSubmitWorkload(
  context: BenchContext,
  connections: number,
  modeArgs: readonly string[],
  timing: WorkloadTiming,
): Promise<WorkloadResult> {
  const loadAvg = await loadAverage1m();
  const notes: string[] = [];
  const result = await withDevnetPool(
    { bits: DIFFICULTY_1_BITS, mempoolTarget: 0 },
    {
      cpus: POOL_CPU,
      inspect: context.profileDir !== null,
      ...(timing.traceGc === true ? { env: { DENO_V8_FLAGS: "--trace-gc-nvp" } } : {}),
    },
    async (_devnet, pool) => {
      const load = startLoadProcess(pool.stratumPort, [
        "--connections",
        String(connections),
        ...modeArgs,
        "--ramp-s",
        String(timing.rampS),
        "--warmup-s",
        String(timing.warmupS),
        "--duration-s",
        String(timing.durationS),
      ], LOAD_CPU);
      context.progress(`  load: ${load.commandLine}`);
      const ready = await load.ready;
      context.progress(`  ready: ${ready.established} established, ${ready.failed} failed`);
      // The load's window opens warm-up seconds after ready, on the same wall clock.
      const nowEpoch = () => performance.timeOrigin + performance.now();
      await sleep(Math.max(0, ready.epochMs + timing.warmupS * 1000 - nowEpoch()));
      const poolAge0 = await processAgeMs(pool.servicePid);
      const poolCpu0 = await cpuSeconds(pool.servicePid);
      const loadCpu0 = await cpuSeconds(load.pid);
      const t0 = performance.now();
      // Read the counters inside the profiled window: stopping a profile takes a while.
      const profiled = await profileWindow(
        context,
        pool,
        `submit-${modeArgs.join("")}`,
        async () => {
          await sleep(timing.durationS * 1000);
          return {
            poolAge1: await processAgeMs(pool.servicePid),
            poolCpu1: await cpuSeconds(pool.servicePid),
            loadCpu1: await cpuSeconds(load.pid).catch(() => NaN),
            wallS: (performance.now() - t0) / 1000,
          };
        },
      );
      notes.push(...profiled.notes);
      const { poolAge1, poolCpu1, loadCpu1, wallS } = profiled.value;
      const summary = await load.summary;
      return {
        summary,
        // V8 writes its trace through a buffer flushed at exit: read it after the pool stopped.
        gcWindow: [poolAge0, poolAge1] as const,
        logs: pool.logs,
        poolCpuS: poolCpu1 - poolCpu0,
        loadCpuS: loadCpu1 - loadCpu0,
        wallS,
        command: load.commandLine,
      };
    },
  );
  const { summary } = result;
  const unexpected = Object.entries(summary.errorsByCode).filter(([code]) => code !== "23");
  if (unexpected.length > 0 || summary.accepted > 0) {
    notes.push(
      `unexpected verdicts: accepted ${summary.accepted}, errors ${
        JSON.stringify(summary.errorsByCode)
      }`,
    );
  }
  if (summary.connectionsFailed > 0 || summary.closedByServer > 0) {
    notes.push(
      `connections failed ${summary.connectionsFailed} ${JSON.stringify(summary.failures)}, ` +
        `closed by server ${summary.closedByServer}`,
    );
  }
  const responsesInPoolWindow = summary.responsesPerS * result.wallS;
  const gcEvents = timing.traceGc === true
    ? result.logs.map((l) => typeof l.raw === "string" ? parseGcTraceLine(l.raw) : null)
      .filter((e) => e !== null)
    : [];
  const gc = timing.traceGc === true ? summarizeGc(gcEvents, ...result.gcWindow) : null;
  return {
    summary,
    poolCpuUtil: result.poolCpuS / result.wallS,
    poolCpuPer1k: responsesInPoolWindow > 0 ? result.poolCpuS / responsesInPoolWindow * 1000 : NaN,
    loadCpuUtil: result.loadCpuS / result.wallS,
    loadAvg,
    gc,
    allocPerResponse: gc === null ? NaN : gc.allocatedBytes /
      (summary.responsesPerS * (result.gcWindow[1] - result.gcWindow[0]) / 1000),
    commands: [result.command],
    notes,
  };
}
