/**
 * The share-path workload of ARCHITECTURE.md: pool pinned to core 0, load generator pinned to
 * core 1, empty-mempool template with difficulty-1 bits, share difficulty 1e12 so every submit
 * is answered "low difficulty". Measures the pool process's CPU over the load's window.
 */
import type { LoadSummary } from "../load/load_summary.ts";
import { DIFFICULTY_1_BITS, loadAverage1m, sleep, withDevnetPool } from "./bench_setup.ts";
import { type CpuProfile, selfTimeByFunction } from "./cpu_profile.ts";
import { startLoadProcess } from "./load_process.ts";
import { cpuSeconds } from "./proc_stats.ts";
import type { BenchContext } from "./scenario.ts";

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
  readonly commands: string[];
  readonly notes: string[];
}

/** Load timing: connections ramp, then warm-up (load, not measured), then the window. */
export interface WorkloadTiming {
  readonly rampS: number;
  readonly warmupS: number;
  readonly durationS: number;
}

/** Runs the load CLI with `modeArgs` against a fresh pinned pool and measures both processes. */
export async function runSubmitWorkload(
  context: BenchContext,
  connections: number,
  modeArgs: readonly string[],
  timing: WorkloadTiming,
): Promise<WorkloadResult> {
  const loadAvg = await loadAverage1m();
  const profileDir = context.profileDir;
  const notes: string[] = [];
  const result = await withDevnetPool(
    { bits: DIFFICULTY_1_BITS, mempoolTarget: 0 },
    { cpus: POOL_CPU, ...(profileDir === null ? {} : { cpuProfileDir: profileDir }) },
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
      const poolCpu0 = await cpuSeconds(pool.servicePid);
      const loadCpu0 = await cpuSeconds(load.pid);
      const t0 = performance.now();
      await sleep(timing.durationS * 1000);
      const poolCpu1 = await cpuSeconds(pool.servicePid);
      const loadCpu1 = await cpuSeconds(load.pid);
      const wallS = (performance.now() - t0) / 1000;
      const summary = await load.summary;
      return {
        summary,
        poolCpuS: poolCpu1 - poolCpu0,
        loadCpuS: loadCpu1 - loadCpu0,
        wallS,
        command: load.commandLine,
      };
    },
  );
  if (profileDir !== null) notes.push(...await profileNotes(profileDir));
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
  return {
    summary,
    poolCpuUtil: result.poolCpuS / result.wallS,
    poolCpuPer1k: responsesInPoolWindow > 0 ? result.poolCpuS / responsesInPoolWindow * 1000 : NaN,
    loadCpuUtil: result.loadCpuS / result.wallS,
    loadAvg,
    commands: [result.command],
    notes,
  };
}

/** Top self-time functions of the newest profile in `dir`. */
async function profileNotes(dir: string): Promise<string[]> {
  let newest: { path: string; mtime: number } | null = null;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    const path = `${dir}/${entry.name}`;
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    if (newest === null || mtime > newest.mtime) newest = { path, mtime };
  }
  if (newest === null) return [`no .cpuprofile written in ${dir}`];
  const profile = JSON.parse(await Deno.readTextFile(newest.path)) as CpuProfile;
  return [
    `pool CPU profile ${newest.path}, top self time (whole pool run, incl. start-up and ramp):`,
    ...selfTimeByFunction(profile, 25).map((r) =>
      `  ${r.percent.toFixed(1).padStart(5)}%  ${r.selfMs.toFixed(0).padStart(7)} ms  ${r.function}`
    ),
  ];
}
