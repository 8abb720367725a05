/**
 * The load generator's result as one JSON object, and how a driver merges the results of its
 * child processes (counts add up, latency histograms merge, notify arrivals keep the earliest
 * first and the latest last arrival).
 */
import * as hdr from "hdr-histogram-js";
import type { LoadMode } from "./load_options.ts";

/** Latency percentiles in milliseconds (microsecond resolution). */
export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** When one job's mining.notify reached the miners (wall clock: timeOrigin + now). */
export interface NotifyArrival {
  readonly jobId: string;
  /**
   * The pool process that sent it: the first 4 hex digits of the miners' extranonce1 (region and
   * instance index); "" when unknown. Each job has one entry per source.
   */
  readonly source: string;
  readonly clean: boolean;
  /** Connections that received it. */
  readonly count: number;
  readonly firstEpochMs: number;
  readonly lastEpochMs: number;
  readonly spreadMs: number;
}

/** The result of one load run (one process, or merged over several). */
export interface LoadSummary {
  readonly mode: LoadMode;
  readonly processes: number;
  readonly connectionsTarget: number;
  readonly connectionsEstablished: number;
  readonly connectionsFailed: number;
  /** Failure reason → connections. */
  readonly failures: Readonly<Record<string, number>>;
  /** Ready connections the server closed before the run ended. */
  readonly closedByServer: number;
  /** Length of the measured window. */
  readonly windowS: number;
  /** Submits per second offered (rate mode), else 0. */
  readonly offeredPerS: number;
  /** Submits written during the window. */
  readonly submitsSent: number;
  /** Open-loop submits not sent because a connection already had its cap in flight. */
  readonly skippedSubmits: number;
  /** Submit responses received during the window. */
  readonly responses: number;
  readonly responsesPerS: number;
  readonly accepted: number;
  /** Fewest and most responses one ready connection got in the window (fairness). */
  readonly perConnectionResponses: { readonly min: number; readonly max: number };
  /** Ready connections that got no response at all in the window (while submitting). */
  readonly starvedConnections: number;
  /** Stratum error code → responses (window only). */
  readonly errorsByCode: Readonly<Record<string, number>>;
  readonly latency: LatencySummary;
  /** New jobs seen after connections were ready, oldest first. */
  readonly notify: readonly NotifyArrival[];
  /** CPU time of the generator process(es). */
  readonly cpuUserS: number;
  readonly cpuSystemS: number;
  /** Wall clock when every connection was ready or failed (latest over processes). */
  readonly readyAtEpochMs: number;
  /** Compressed latency histogram (microseconds), for merging. */
  readonly histogram?: string;
}

/** The key of one job's arrivals from one source (several processes may reuse a job id). */
export function notifyKey(jobId: string, source: string): string {
  return `${source}/${jobId}`;
}

/**
 * One job's arrivals over every source: the earliest first, the latest last arrival, the
 * connections summed (`source` is "" when they came from more than one). Undefined when no
 * miner received `jobId`.
 */
export function notifyAcrossSources(
  notify: readonly NotifyArrival[],
  jobId: string,
): NotifyArrival | undefined {
  const parts = notify.filter((n) => n.jobId === jobId);
  if (parts.length === 0) return undefined;
  return parts.reduce(combineArrivals);
}

function combineArrivals(a: NotifyArrival, b: NotifyArrival): NotifyArrival {
  const firstEpochMs = Math.min(a.firstEpochMs, b.firstEpochMs);
  const lastEpochMs = Math.max(a.lastEpochMs, b.lastEpochMs);
  return {
    jobId: a.jobId,
    source: a.source === b.source ? a.source : "",
    clean: a.clean || b.clean,
    count: a.count + b.count,
    firstEpochMs,
    lastEpochMs,
    spreadMs: lastEpochMs - firstEpochMs,
  };
}

/** Latencies are recorded in microseconds up to one minute with three significant digits. */
export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

function ms(us: number): number {
  return Math.round(us) / 1000;
}

/** Percentiles of a microsecond histogram, in milliseconds. */
export function latencyFromHistogram(histogram: hdr.Histogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) {
    return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  }
  return {
    count,
    meanMs: ms(histogram.mean),
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
  };
}

function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}

/**
 * Merges child results. Latency percentiles are recomputed from the children's histograms.
 *
 * @throws {RangeError} when `parts` is empty.
 * @throws {TypeError} when a part with latency samples carries no histogram.
 */
export function mergeSummaries(parts: readonly LoadSummary[]): LoadSummary {
  const first = parts[0];
  if (first === undefined) throw new RangeError("Cannot merge summaries: none given");
  const failures: Record<string, number> = {};
  const errorsByCode: Record<string, number> = {};
  const histogram = newLatencyHistogram();
  const notify = new Map<string, NotifyArrival>();
  let order = 0;
  const notifyOrder = new Map<string, number>();
  for (const [index, part] of parts.entries()) {
    addCounts(failures, part.failures);
    addCounts(errorsByCode, part.errorsByCode);
    if (part.histogram !== undefined) {
      histogram.add(hdr.decodeFromCompressedBase64(part.histogram));
    } else if (part.latency.count > 0) {
      throw new TypeError(
        `Cannot merge latency: part ${index} has ${part.latency.count} samples but no histogram`,
      );
    }
    for (const arrival of part.notify) {
      const key = notifyKey(arrival.jobId, arrival.source);
      const seen = notify.get(key);
      if (seen === undefined) {
        notify.set(key, arrival);
        notifyOrder.set(key, order++);
        continue;
      }
      notify.set(key, combineArrivals(seen, arrival));
    }
  }
  const sum = (pick: (s: LoadSummary) => number) => parts.reduce((acc, s) => acc + pick(s), 0);
  return {
    mode: first.mode,
    processes: sum((s) => s.processes),
    connectionsTarget: sum((s) => s.connectionsTarget),
    connectionsEstablished: sum((s) => s.connectionsEstablished),
    connectionsFailed: sum((s) => s.connectionsFailed),
    failures,
    closedByServer: sum((s) => s.closedByServer),
    windowS: Math.max(...parts.map((s) => s.windowS)),
    offeredPerS: sum((s) => s.offeredPerS),
    submitsSent: sum((s) => s.submitsSent),
    skippedSubmits: sum((s) => s.skippedSubmits),
    responses: sum((s) => s.responses),
    // The children's windows run side by side, so their rates add up.
    responsesPerS: sum((s) => s.responsesPerS),
    accepted: sum((s) => s.accepted),
    perConnectionResponses: {
      min: Math.min(...parts.map((s) => s.perConnectionResponses.min)),
      max: Math.max(...parts.map((s) => s.perConnectionResponses.max)),
    },
    starvedConnections: sum((s) => s.starvedConnections),
    errorsByCode,
    latency: latencyFromHistogram(histogram),
    notify: [...notify.entries()].sort(([a], [b]) => notifyOrder.get(a)! - notifyOrder.get(b)!)
      .map(([, arrival]) => arrival),
    cpuUserS: sum((s) => s.cpuUserS),
    cpuSystemS: sum((s) => s.cpuSystemS),
    readyAtEpochMs: Math.max(...parts.map((s) => s.readyAtEpochMs)),
  };
}
