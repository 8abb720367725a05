/**
 * Counters one load process keeps while it runs: connection outcomes, submit responses in the
 * measured window with their latencies, and when each new job reached the miners.
 */
import type { Histogram } from "hdr-histogram-js";
import * as hdr from "hdr-histogram-js";
import {
  latencyFromHistogram,
  type LoadSummary,
  newLatencyHistogram,
  type NotifyArrival,
  notifyKey,
} from "./load_summary.ts";
import type { LoadMode } from "./load_options.ts";

/** Jobs whose arrivals are remembered (oldest forgotten first) so a long run stays bounded. */
const MAX_NOTIFY_JOBS = 64;

interface Arrivals {
  jobId: string;
  source: string;
  clean: boolean;
  count: number;
  firstEpochMs: number;
  lastEpochMs: number;
}

/** What {@link LoadStats.summary} needs besides the counters. */
export interface SummaryContext {
  readonly mode: LoadMode;
  readonly connectionsTarget: number;
  readonly windowS: number;
  readonly offeredPerS: number;
  readonly readyAtEpochMs: number;
  readonly cpuUserS: number;
  readonly cpuSystemS: number;
  readonly emitHistogram: boolean;
  /** Window responses of each connection that was ready when the run ended. */
  readonly perConnectionResponses: readonly number[];
}

/** What one load process has done since it started (a `progress` event on stderr). */
export interface LoadProgress {
  readonly epochMs: number;
  readonly established: number;
  readonly failed: number;
  readonly closedByServer: number;
  /** Submit responses since the start, every phase. */
  readonly responsesAll: number;
  /** Compressed latency histogram (microseconds) of every response since the start. */
  readonly histogram: string;
}

/** Mutable counters of one load process; only its event loop touches them. */
export class LoadStats {
  /** Responses and sends count only while the measured window is open. */
  windowOpen = false;
  established = 0;
  failed = 0;
  closedByServer = 0;
  submitsSent = 0;
  skippedSubmits = 0;
  responses = 0;
  accepted = 0;
  /** Responses in every phase (progress reports). */
  responsesAll = 0;
  readonly #allHistogram: Histogram = newLatencyHistogram();
  readonly #errorsByCode = new Map<number, number>();
  readonly #failures = new Map<string, number>();
  readonly #histogram: Histogram = newLatencyHistogram();
  readonly #notify = new Map<string, Arrivals>();

  /** A connection that never became ready. */
  fail(reason: string): void {
    this.failed++;
    this.#failures.set(reason, (this.#failures.get(reason) ?? 0) + 1);
  }

  /** One submit response; `latencyUs` < 0 when the send time is unknown. */
  response(errorCode: number, accepted: boolean, latencyUs: number): void {
    this.responsesAll++;
    const us = Math.max(1, Math.round(latencyUs));
    if (latencyUs >= 0) this.#allHistogram.recordValue(us);
    if (!this.windowOpen) return;
    this.responses++;
    if (accepted) this.accepted++;
    if (errorCode !== 0) {
      this.#errorsByCode.set(errorCode, (this.#errorsByCode.get(errorCode) ?? 0) + 1);
    }
    if (latencyUs >= 0) this.#histogram.recordValue(us);
  }

  /** Counters since the start, for a progress event. */
  progress(): LoadProgress {
    return {
      epochMs: performance.timeOrigin + performance.now(),
      established: this.established,
      failed: this.failed,
      closedByServer: this.closedByServer,
      responsesAll: this.responsesAll,
      histogram: hdr.encodeIntoCompressedBase64(this.#allHistogram),
    };
  }

  /**
   * A mining.notify for `jobId` reached a ready connection at `epochMs`; `source` is the pool
   * process that sent it (load_connection.ts `notifySource`), "" when unknown. Arrivals are kept
   * per job and source.
   */
  notify(jobId: string, clean: boolean, epochMs: number, source = ""): void {
    const key = notifyKey(jobId, source);
    const seen = this.#notify.get(key);
    if (seen !== undefined) {
      seen.count++;
      if (epochMs < seen.firstEpochMs) seen.firstEpochMs = epochMs;
      if (epochMs > seen.lastEpochMs) seen.lastEpochMs = epochMs;
      return;
    }
    this.#notify.set(key, {
      jobId,
      source,
      clean,
      count: 1,
      firstEpochMs: epochMs,
      lastEpochMs: epochMs,
    });
    if (this.#notify.size > MAX_NOTIFY_JOBS) {
      this.#notify.delete(this.#notify.keys().next().value!);
    }
  }

  /** The summary of this process. */
  summary(context: SummaryContext): LoadSummary {
    const notify: NotifyArrival[] = [...this.#notify.values()].map((a) => ({
      jobId: a.jobId,
      source: a.source,
      clean: a.clean,
      count: a.count,
      firstEpochMs: a.firstEpochMs,
      lastEpochMs: a.lastEpochMs,
      spreadMs: a.lastEpochMs - a.firstEpochMs,
    }));
    return {
      mode: context.mode,
      processes: 1,
      connectionsTarget: context.connectionsTarget,
      connectionsEstablished: this.established,
      connectionsFailed: this.failed,
      failures: Object.fromEntries(this.#failures),
      closedByServer: this.closedByServer,
      windowS: context.windowS,
      offeredPerS: context.offeredPerS,
      submitsSent: this.submitsSent,
      skippedSubmits: this.skippedSubmits,
      responses: this.responses,
      responsesPerS: context.windowS > 0 ? this.responses / context.windowS : 0,
      accepted: this.accepted,
      perConnectionResponses: {
        min: context.perConnectionResponses.length === 0
          ? 0
          : context.perConnectionResponses.reduce((a, n) => Math.min(a, n), Infinity),
        max: context.perConnectionResponses.reduce((a, n) => Math.max(a, n), 0),
      },
      starvedConnections: context.mode === "idle"
        ? 0
        : context.perConnectionResponses.filter((n) => n === 0).length,
      errorsByCode: Object.fromEntries(
        [...this.#errorsByCode].map(([code, n]) => [String(code), n]),
      ),
      latency: latencyFromHistogram(this.#histogram),
      notify,
      cpuUserS: context.cpuUserS,
      cpuSystemS: context.cpuSystemS,
      readyAtEpochMs: context.readyAtEpochMs,
      ...(context.emitHistogram
        ? { histogram: hdr.encodeIntoCompressedBase64(this.#histogram) }
        : {}),
    };
  }
}
