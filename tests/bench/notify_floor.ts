/**
 * Scenario notify_floor (calibration, not a pool measurement): the notify_fanout miners (10,000
 * idle connections in 2 load processes on core 1) against floor_responder.ts on core 0, which
 * sends one precomputed clean job to all of them on SIGUSR1. Broadcast start → last arrival and
 * the arrival spread are what Deno's socket writes and the load side's reads cost by themselves;
 * notify_fanout's figures sit on top.
 */
import { loadAverage1m, sleep } from "./bench_setup.ts";
import { startFloorProcess } from "./floor_process.ts";
import { startIdleMiners } from "./idle_miners.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";

/** Time given to the last notifications to arrive after the broadcast. */
const ARRIVAL_WAIT_MS = 3_000;

/** The notify_floor scenario. */
export const notifyFloor: Scenario = {
  name: "notify_floor",
  workload: "calibration: 10,000 idle miners (2 load processes, core 1) receive one clean job " +
    "from floor_responder.ts (core 0, one precomputed line written to every socket)",
  columns: [
    { key: "received", label: "miners notified", digits: 0 },
    { key: "loopMs", label: "responder queueing loop ms", digits: 1 },
    { key: "startToLastMs", label: "broadcast start → last notify ms", digits: 1 },
    { key: "spreadMs", label: "first → last arrival ms", digits: 1 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const responder = await startFloorProcess();
    try {
      const load = startIdleMiners(context, responder.port);
      let broadcast: { epochMs: number; loopMs: number };
      try {
        const ready = await load.ready;
        context.progress(`  ready: ${ready.established} established, ${ready.failed} failed`);
        await sleep(3_000);
        broadcast = await responder.broadcast();
        await sleep(ARRIVAL_WAIT_MS);
      } finally {
        load.stop();
      }
      const summary = await load.summary;
      const arrival = summary.notify.find((n) => n.jobId === "2");
      return {
        values: {
          received: arrival?.count ?? 0,
          loopMs: broadcast.loopMs,
          startToLastMs: arrival ? arrival.lastEpochMs - broadcast.epochMs : NaN,
          spreadMs: arrival?.spreadMs ?? NaN,
          loadAvg,
        },
        commands: [responder.commandLine, load.commandLine],
        notes: arrival === undefined ? ["the broadcast reached no miner"] : [],
      };
    } finally {
      await responder.stop();
    }
  },
};
