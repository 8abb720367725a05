/**
 * The arithmetic of the fan-out scenarios (notify_fanout, notify_floor) with one or several
 * processes on one port: given when each process started its broadcast (its template arrival,
 * or the responder's signal) and when the load generator saw each of that process's miners get
 * the job, the figures per process and over all of them.
 */
import type { NotifyArrival } from "../load/load_summary.ts";
import { median } from "./bench_table.ts";

/** One process's broadcast of one new job. */
export interface ProcessBroadcast {
  /** The process's extranonce1 prefix (load_connection.ts `notifySource`). */
  readonly source: string;
  /** The job id the process gave the new job. */
  readonly jobId: string;
  /** Wall clock (ms since the epoch) when the process started the broadcast. */
  readonly startEpochMs: number;
  /** Its broadcast loop's time, ms (NaN when unknown). */
  readonly loopMs: number;
}

/** One process's part of a fan-out. */
export interface ProcessFigure {
  readonly source: string;
  /** Its miners that received the job. */
  readonly miners: number;
  readonly loopMs: number;
  /** Its broadcast start → its last miner's arrival (NaN when none arrived). */
  readonly startToLastMs: number;
  /** Its first → last miner's arrival. */
  readonly spreadMs: number;
}

/** A fan-out over every process. */
export interface FanoutFigures {
  readonly perProcess: readonly ProcessFigure[];
  /** Miners that received the job, over every process. */
  readonly miners: number;
  /** The slowest process's broadcast start → last arrival. */
  readonly slowestStartToLastMs: number;
  /** Earliest broadcast start → the last arrival anywhere. */
  readonly firstStartToLastMs: number;
  /** Latest broadcast start (the last process to have the job), wall clock. */
  readonly lastStartEpochMs: number;
  /** The last arrival anywhere, wall clock (NaN when none). */
  readonly lastArrivalEpochMs: number;
  /** First → last arrival over every process. */
  readonly spreadMs: number;
  /** Sources whose job reached no miner. */
  readonly silent: readonly string[];
}

/** The figures of one fan-out; `broadcasts` has one entry per process. */
export function fanoutFigures(
  notify: readonly NotifyArrival[],
  broadcasts: readonly ProcessBroadcast[],
): FanoutFigures {
  const perProcess: ProcessFigure[] = [];
  const silent: string[] = [];
  let first = Infinity;
  let last = -Infinity;
  for (const b of broadcasts) {
    const arrival = notify.find((n) => n.source === b.source && n.jobId === b.jobId);
    if (arrival === undefined) {
      silent.push(b.source);
      perProcess.push({
        source: b.source,
        miners: 0,
        loopMs: b.loopMs,
        startToLastMs: NaN,
        spreadMs: NaN,
      });
      continue;
    }
    first = Math.min(first, arrival.firstEpochMs);
    last = Math.max(last, arrival.lastEpochMs);
    perProcess.push({
      source: b.source,
      miners: arrival.count,
      loopMs: b.loopMs,
      startToLastMs: arrival.lastEpochMs - b.startEpochMs,
      spreadMs: arrival.spreadMs,
    });
  }
  const anyArrival = Number.isFinite(last);
  const starts = broadcasts.map((b) => b.startEpochMs);
  return {
    perProcess,
    miners: perProcess.reduce((sum, p) => sum + p.miners, 0),
    slowestStartToLastMs: perProcess.reduce(
      (max, p) => Number.isNaN(p.startToLastMs) ? max : Math.max(max, p.startToLastMs),
      anyArrival ? -Infinity : NaN,
    ),
    firstStartToLastMs: anyArrival ? last - Math.min(...starts) : NaN,
    lastStartEpochMs: Math.max(...starts),
    lastArrivalEpochMs: anyArrival ? last : NaN,
    spreadMs: anyArrival ? last - first : NaN,
    silent,
  };
}

/** The median of the finite values of `values` (NaN when there are none). */
export function finiteMedian(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length === 0 ? NaN : median(finite);
}

/** The extranonce1 prefix of instance `instance` in region 0 (shared/config/extranonce_space.ts). */
export function instanceSource(instance: number): string {
  return "00" + instance.toString(16).padStart(2, "0");
}

/** The CPU list of process `instance` of several: one CPU each, in turn. */
export function cpuOfInstance(instance: number, cpus: number): string {
  return String(instance % Math.max(1, cpus));
}

/** One line per process, for a run's notes. */
export function perProcessNote(label: string, figures: FanoutFigures): string {
  return `${label}: ` +
    figures.perProcess.map((p) =>
      `${p.source} ${p.miners} miners, loop ${p.loopMs.toFixed(1)} ms, start → last ${
        p.startToLastMs.toFixed(1)
      } ms`
    ).join("; ");
}

/**
 * CPU milliseconds a broadcast cost each group of processes (`groups[g]` is a list of process
 * ids: the pools, the load generator), over a window of `windowMs` from the broadcast, less what
 * the same processes spent in an idle window of the same length just before it (their
 * per-second ticks). `read` gives a process's CPU seconds (user + system).
 */
export async function broadcastCpuMs<T>(
  groups: readonly (readonly number[])[],
  windowMs: number,
  read: (pid: number) => Promise<number>,
  broadcast: () => Promise<T>,
): Promise<{ value: T; cpuMs: number[] }> {
  const totals = () =>
    Promise.all(
      groups.map(async (pids) => (await Promise.all(pids.map(read))).reduce((a, b) => a + b, 0)),
    );
  const c0 = await totals();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const c1 = await totals();
  const started = performance.now();
  const value = await broadcast();
  const rest = windowMs - (performance.now() - started);
  if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
  const c2 = await totals();
  return { value, cpuMs: c2.map((c, g) => ((c - c1[g]!) - (c1[g]! - c0[g]!)) * 1000) };
}
