/**
 * Scenario latency_floor (calibration, not a pool measurement): the latency_at_rate load against
 * floor_responder.ts, which rejects every submit without validating it. Same pinning (responder
 * on core 0, load on core 1), same load. Its percentiles are what the harness, Deno's socket I/O
 * and the shared machine add by themselves; the pool's latency_at_rate figures sit on top.
 */
import { loadAverage1m } from "./bench_setup.ts";
import { startLoadProcess } from "./load_process.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { startFloorProcess } from "./floor_process.ts";
import { LOAD_CPU } from "./submit_workload.ts";

/** The latency_floor scenario. */
export const latencyFloor: Scenario = {
  name: "latency_floor",
  workload: "calibration: the latency_at_rate load (1,000 connections, 5,000 submits/s open " +
    "loop) against floor_responder.ts (no validation) on core 0, load on core 1",
  columns: [
    { key: "responsesPerS", label: "responses/s", digits: 0 },
    { key: "p50Ms", label: "p50 ms", digits: 2 },
    { key: "p90Ms", label: "p90 ms", digits: 2 },
    { key: "p99Ms", label: "p99 ms", digits: 2 },
    { key: "p999Ms", label: "p99.9 ms", digits: 2 },
    { key: "maxMs", label: "max ms", digits: 1 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const responder = await startFloorProcess();
    try {
      const load = startLoadProcess(responder.port, [
        "--connections",
        "1000",
        "--rate",
        "5000",
        "--ramp-s",
        "5",
        "--warmup-s",
        "3",
        "--duration-s",
        "25",
      ], LOAD_CPU);
      context.progress(`  load: ${load.commandLine}`);
      const summary = await load.summary;
      const l = summary.latency;
      return {
        values: {
          responsesPerS: summary.responsesPerS,
          p50Ms: l.p50Ms,
          p90Ms: l.p90Ms,
          p99Ms: l.p99Ms,
          p999Ms: l.p999Ms,
          maxMs: l.maxMs,
          loadAvg,
        },
        commands: [responder.commandLine, load.commandLine],
        notes: summary.connectionsFailed > 0
          ? [`failed ${summary.connectionsFailed} ${JSON.stringify(summary.failures)}`]
          : [],
      };
    } finally {
      await responder.stop();
    }
  },
};
