/**
 * Scenario submit_throughput: 1,000 connections each keeping 4 submits in flight (closed loop),
 * every share rejected as low difficulty, pool on core 0 and load on core 1; responses per second
 * and pool CPU seconds per 1,000 responses over a 25 s window after ramp and warm-up.
 */
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { runSubmitWorkload } from "./submit_workload.ts";

/** The submit_throughput scenario. */
export const submitThroughput: Scenario = {
  name: "submit_throughput",
  workload: "1,000 connections × 4 submits outstanding, all low-difficulty rejects, empty " +
    "template, pool `taskset -c 0`, load `taskset -c 1`, 5 s ramp + 3 s warm-up + 25 s window",
  columns: [
    { key: "responsesPerS", label: "responses/s", digits: 0 },
    { key: "cpuPer1k", label: "pool CPU-s per 1k", digits: 3 },
    { key: "poolCpu", label: "pool CPU (cores)", digits: 2 },
    { key: "loadCpu", label: "load CPU (cores)", digits: 2 },
    { key: "p50Ms", label: "p50 ms", digits: 1 },
    { key: "p99Ms", label: "p99 ms", digits: 1 },
    { key: "minPerConn", label: "fewest responses on one conn", digits: 0 },
    { key: "starved", label: "conns with none", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const r = await runSubmitWorkload(context, 1_000, ["--outstanding", "4"], {
      rampS: 5,
      warmupS: 3,
      durationS: 25,
    });
    return {
      values: {
        responsesPerS: r.summary.responsesPerS,
        cpuPer1k: r.poolCpuPer1k,
        poolCpu: r.poolCpuUtil,
        loadCpu: r.loadCpuUtil,
        p50Ms: r.summary.latency.p50Ms,
        p99Ms: r.summary.latency.p99Ms,
        minPerConn: r.summary.perConnectionResponses.min,
        starved: r.summary.starvedConnections,
        loadAvg: r.loadAvg,
      },
      commands: r.commands,
      notes: r.notes,
    };
  },
};
