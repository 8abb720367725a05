/**
 * Scenario notify_floor (calibration, not a pool measurement): the notify_fanout miners (10,000
 * idle connections in 2 load processes on core 1) against floor_responder.ts on core 0, which
 * sends one precomputed clean job to all of them on SIGUSR1; BLOCKS_PER_RUN broadcasts per run,
 * the row is their median. With `--processes N` (N > 1), N responders share one port
 * (SO_REUSEPORT, `--instance 0…N−1`, responder i on CPU i mod the CPU count, the load generator
 * unpinned), the same split as notify_fanout's pools, and all are signalled at once. Broadcast
 * start → last arrival and the arrival spread are what Deno's socket writes and the load side's
 * reads cost by themselves; notify_fanout's figures sit on top. The responders' CPU per
 * broadcast is taken like the pools' there (a 5 s window less an idle 5 s window before it).
 */
import { pickFreePort } from "../support/servers/nats_server.ts";
import { loadAverage1m } from "./bench_setup.ts";
import { childPids, cpuSeconds } from "./proc_stats.ts";
import {
  broadcastCpuMs,
  cpuOfInstance,
  type FanoutFigures,
  fanoutFigures,
  finiteMedian,
  instanceSource,
  perProcessNote,
} from "./fanout_figures.ts";
import { type FloorBroadcast, type FloorProcess, startFloorProcess } from "./floor_process.ts";
import { startIdleMiners } from "./idle_miners.ts";
import { BLOCKS_PER_RUN } from "./notify_fanout.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { LOAD_CPU } from "./submit_workload.ts";

/**
 * Time given to the last notifications to arrive, and the length of each CPU window (on a busy
 * shared machine a fan-out has taken more than 3 s).
 */
const ARRIVAL_WAIT_MS = 5_000;

async function startResponders(processes: number): Promise<FloorProcess[]> {
  if (processes === 1) return [await startFloorProcess()];
  const port = pickFreePort();
  const cpus = navigator.hardwareConcurrency;
  const started: FloorProcess[] = [];
  try {
    for (let instance = 0; instance < processes; instance++) {
      started.push(
        await startFloorProcess({
          port,
          reusePort: true,
          instance,
          cpus: cpuOfInstance(instance, cpus),
        }),
      );
    }
    return started;
  } catch (e) {
    await Promise.all(started.map((r) => r.stop()));
    throw e;
  }
}

/** The notify_floor scenario. */
export const notifyFloor: Scenario = {
  name: "notify_floor",
  workload: "calibration: 10,000 idle miners (2 load processes, core 1) receive a clean job " +
    `from floor_responder.ts (core 0, one precomputed line written to every socket), ` +
    `${BLOCKS_PER_RUN} broadcasts per run (row: their median); with --processes N: N ` +
    "responders on one port (SO_REUSEPORT), responder i on CPU i mod CPUs, load unpinned",
  columns: [
    { key: "processes", label: "responder processes", digits: 0 },
    { key: "received", label: "miners notified", digits: 0 },
    { key: "loopMs", label: "responder queueing loop ms (slowest)", digits: 1 },
    { key: "slowestMs", label: "start → last notify ms (slowest process)", digits: 1 },
    { key: "startToLastMs", label: "first start → last notify ms", digits: 1 },
    { key: "spreadMs", label: "first → last arrival ms", digits: 1 },
    { key: "cpuMs", label: "responders' CPU ms per broadcast (all processes)", digits: 0 },
    { key: "maxCpuMs", label: "CPU ms of the busiest responder", digits: 0 },
    { key: "loadCpuMs", label: "load generator CPU ms per broadcast", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const processes = context.processes ?? 1;
    const responders = await startResponders(processes);
    try {
      const load = startIdleMiners(
        context,
        responders[0]!.port,
        undefined,
        processes === 1 ? LOAD_CPU : null,
      );
      const rounds: FloorBroadcast[][] = [];
      /** CPU ms of each responder, per broadcast. */
      const cpu: number[][] = [];
      const loadCpu: number[] = [];
      const loadPids: number[] = [];
      try {
        const ready = await load.ready;
        context.progress(`  ready: ${ready.established} established, ${ready.failed} failed`);
        loadPids.push(load.pid, ...await childPids(load.pid));
        for (let round = 0; round < BLOCKS_PER_RUN; round++) {
          // An idle window before the broadcast (its CPU is subtracted), then the broadcast's.
          const measured = await broadcastCpuMs(
            [...responders.map((r) => [r.pid]), loadPids],
            ARRIVAL_WAIT_MS,
            cpuSeconds,
            () => Promise.all(responders.map((r) => r.broadcast())),
          );
          rounds.push(measured.value);
          cpu.push(measured.cpuMs.slice(0, responders.length));
          loadCpu.push(measured.cpuMs[responders.length]!);
        }
      } finally {
        load.stop();
      }
      const summary = await load.summary;
      const notes: string[] = [];
      const results: FanoutFigures[] = rounds.map((round, b) => {
        const figures = fanoutFigures(
          summary.notify,
          round.map((broadcast, i) => ({
            source: instanceSource(processes === 1 ? 0 : i),
            jobId: broadcast.jobId,
            startEpochMs: broadcast.epochMs,
            loopMs: broadcast.loopMs,
          })),
        );
        notes.push(
          perProcessNote(`broadcast ${b + 1}`, figures) +
            `; CPU ms: responders ${cpu[b]!.map((c) => c.toFixed(0)).join(" + ")}, load generator ${
              loadCpu[b]!.toFixed(0)
            } ms`,
        );
        if (figures.silent.length > 0) {
          notes.push(`broadcast ${b + 1}: no miner of ${figures.silent.join(", ")} got the job`);
        }
        return figures;
      });
      const of = (pick: (f: FanoutFigures) => number) => finiteMedian(results.map(pick));
      return {
        values: {
          processes,
          received: of((f) => f.miners),
          loopMs: of((f) => Math.max(...f.perProcess.map((p) => p.loopMs))),
          slowestMs: of((f) => f.slowestStartToLastMs),
          startToLastMs: of((f) => f.firstStartToLastMs),
          spreadMs: of((f) => f.spreadMs),
          cpuMs: finiteMedian(cpu.map((c) => c.reduce((a, b) => a + b, 0))),
          maxCpuMs: finiteMedian(cpu.map((c) => Math.max(...c))),
          loadCpuMs: finiteMedian(loadCpu),
          loadAvg,
        },
        commands: [...responders.map((r) => r.commandLine), load.commandLine],
        notes,
      };
    } finally {
      await Promise.all(responders.map((r) => r.stop()));
    }
  },
};
