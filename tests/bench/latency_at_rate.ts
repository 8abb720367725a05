/**
 * Scenario latency_at_rate: 1,000 connections, 5,000 submits/s offered open-loop (5 per
 * connection per second), every share rejected as low difficulty; submit → response latency
 * percentiles over a 25 s window. Same pinning and template as submit_throughput. The pool runs
 * with V8's GC trace, so the same run reports what it allocated per response and how long its
 * collections paused it: the main cause of the tail besides the machine itself.
 */
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { runSubmitWorkload } from "./submit_workload.ts";

/** The latency_at_rate scenario. */
export const latencyAtRate: Scenario = {
  name: "latency_at_rate",
  workload: "1,000 connections, 5,000 submits/s offered open loop, all low-difficulty rejects, " +
    "empty template, pool `taskset -c 0` with `DENO_V8_FLAGS=--trace-gc-nvp`, load `taskset -c 1`, " +
    "5 s ramp + 3 s warm-up + 25 s window",
  columns: [
    { key: "responsesPerS", label: "responses/s", digits: 0 },
    { key: "p50Ms", label: "p50 ms", digits: 2 },
    { key: "p90Ms", label: "p90 ms", digits: 2 },
    { key: "p99Ms", label: "p99 ms", digits: 2 },
    { key: "p999Ms", label: "p99.9 ms", digits: 2 },
    { key: "maxMs", label: "max ms", digits: 1 },
    { key: "skipped", label: "skipped", digits: 0 },
    { key: "starved", label: "conns with none", digits: 0 },
    { key: "poolCpu", label: "pool CPU (cores)", digits: 2 },
    { key: "allocPerResponse", label: "pool alloc B/response", digits: 0 },
    { key: "gcMinor", label: "young GCs", digits: 0 },
    { key: "gcPauseSumMs", label: "GC pause sum ms", digits: 1 },
    { key: "gcPauseMaxMs", label: "GC pause max ms", digits: 1 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const r = await runSubmitWorkload(context, 1_000, ["--rate", "5000"], {
      rampS: 5,
      warmupS: 3,
      durationS: 25,
      traceGc: true,
    });
    const l = r.summary.latency;
    return {
      values: {
        responsesPerS: r.summary.responsesPerS,
        p50Ms: l.p50Ms,
        p90Ms: l.p90Ms,
        p99Ms: l.p99Ms,
        p999Ms: l.p999Ms,
        maxMs: l.maxMs,
        skipped: r.summary.skippedSubmits,
        starved: r.summary.starvedConnections,
        poolCpu: r.poolCpuUtil,
        allocPerResponse: r.allocPerResponse,
        gcMinor: r.gc?.minor ?? NaN,
        gcPauseSumMs: r.gc?.pauseSumMs ?? NaN,
        gcPauseMaxMs: r.gc?.pauseMaxMs ?? NaN,
        loadAvg: r.loadAvg,
      },
      commands: r.commands,
      notes: r.notes,
    };
  },
};
