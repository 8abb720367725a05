/**
 * Runs one load process: starts the connections over the ramp, waits until each is ready or has
 * failed (bounded by the handshake timeout), applies load through a warm-up, measures for the
 * window, and closes everything. Every phase ends by time, so a run cannot hang.
 */
import process from "node:process";
import { regtestAddress } from "../support/addresses.ts";
import { type ConnectionHost, ConnectionState, LoadConnection } from "./load_connection.ts";
import { LoadMode, type LoadOptions } from "./load_options.ts";
import { sourceEndpoint } from "./load_socket.ts";
import { type LoadProgress, LoadStats } from "./load_stats.ts";
import type { LoadSummary } from "./load_summary.ts";

/** Reported once every connection is ready or failed. */
export interface ReadyInfo {
  readonly established: number;
  readonly failed: number;
  readonly epochMs: number;
  /**
   * When the first of several load processes was ready (its window, and so its end, comes
   * first); the same as `epochMs` for one process.
   */
  readonly firstEpochMs?: number;
}

/** Callbacks of a run. */
export interface LoadRunHooks {
  readonly onReady?: (info: ReadyInfo) => void;
  /** Every `progressIntervalS` while the run lasts (when that is above 0). */
  readonly onProgress?: (progress: LoadProgress) => void;
}

/** A run in progress. */
export interface LoadRun {
  /** Resolves with the summary once the run has ended and its sockets are closed. */
  readonly done: Promise<LoadSummary>;
  /** Ends the run early (the window so far is measured). Idempotent. */
  stop(): void;
}

/** Open-loop cap of submits in flight per connection (a power of two). */
const RATE_MAX_IN_FLIGHT = 64;
/** How long closing sockets may take at the end. */
const CLOSE_GRACE_MS = 3_000;

function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The username of connection `index`: a distinct regtest P2WPKH address and worker. */
export function loadUsername(index: number): string {
  return `${regtestAddress("p2wpkh", index + 1).address}.w${index}`;
}

/** Starts a run of `options.connections` connections in this process. */
export function startLoad(options: LoadOptions, hooks: LoadRunHooks = {}): LoadRun {
  const stats = new LoadStats();
  const closedLoop = options.mode === LoadMode.outstanding ? options.outstanding : 0;
  const maxInFlight = options.mode === LoadMode.outstanding
    ? powerOfTwoAtLeast(options.outstanding)
    : options.mode === LoadMode.rate
    ? RATE_MAX_IN_FLIGHT
    : 0;
  const connections: LoadConnection[] = [];
  const runs: Promise<void>[] = [];
  let settledCount = 0;
  let running = true;
  const host: ConnectionHost = {
    stats,
    closedLoop,
    maxInFlight,
    get running() {
      return running;
    },
    settled: () => {
      settledCount++;
    },
  };
  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  const rampMs = options.rampS * 1000;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const finished = Promise.withResolvers<void>();
  let readyAtEpochMs = 0;
  let windowStartMs = 0;
  let windowEndMs = 0;

  const startNext = () => {
    const index = connections.length;
    const connection = new LoadConnection(host, loadUsername(options.indexOffset + index));
    connections.push(connection);
    const sources = options.sourceAddresses;
    const source = sources.length === 0
      ? undefined
      : sourceEndpoint(sources, options.indexOffset + index);
    runs.push(connection.run(options.host, options.port, source));
  };

  // Ramp: start connections as their slot comes due, checking every few milliseconds.
  const ramp = setInterval(() => {
    const elapsed = performance.now() - t0;
    while (
      connections.length < options.connections &&
      (rampMs === 0 || elapsed >= connections.length * rampMs / options.connections)
    ) {
      startNext();
    }
    if (connections.length >= options.connections) {
      clearInterval(ramp);
      timers.delete(ramp);
    }
  }, 2);
  timers.add(ramp);

  if (options.progressIntervalS > 0 && hooks.onProgress !== undefined) {
    const onProgress = hooks.onProgress;
    const progress = setInterval(
      () => onProgress(stats.progress()),
      options.progressIntervalS * 1000,
    );
    timers.add(progress);
  }

  // Readiness: every connection settled, or the handshake timeout passed for the stragglers.
  const handshakeMs = options.handshakeTimeoutS * 1000;
  const readiness = setInterval(() => {
    const now = performance.now();
    if (connections.length < options.connections) return;
    if (settledCount < options.connections) {
      for (const c of connections) {
        if (c.state === ConnectionState.handshake && now - c.startedAtMs > handshakeMs) {
          c.fail("handshake timeout");
        }
      }
      if (settledCount < options.connections) return;
    }
    clearInterval(readiness);
    timers.delete(readiness);
    onReady();
  }, 20);
  timers.add(readiness);

  let rateTimer: ReturnType<typeof setInterval> | null = null;
  const onReady = () => {
    readyAtEpochMs = performance.timeOrigin + performance.now();
    hooks.onReady?.({
      established: stats.established,
      failed: stats.failed,
      epochMs: readyAtEpochMs,
    });
    if (options.mode === LoadMode.rate) rateTimer = startRate();
    const warmup = setTimeout(() => {
      timers.delete(warmup);
      stats.windowOpen = true;
      windowStartMs = performance.now();
      const end = setTimeout(() => {
        timers.delete(end);
        stop();
      }, options.durationS * 1000);
      timers.add(end);
    }, options.warmupS * 1000);
    timers.add(warmup);
  };

  // Open loop: send what is due since the start, round-robin over ready connections.
  const startRate = (): ReturnType<typeof setInterval> => {
    const rateStart = performance.now();
    let scheduled = 0;
    let next = 0;
    const timer = setInterval(() => {
      const due = Math.floor((performance.now() - rateStart) * options.ratePerS / 1000) -
        scheduled;
      for (let k = 0; k < due; k++) {
        scheduled++;
        let sent = false;
        for (let tries = 0; tries < connections.length && !sent; tries++) {
          const c = connections[next]!;
          next = (next + 1) % connections.length;
          if (c.state !== ConnectionState.ready) continue;
          sent = c.requestSubmit();
          if (!sent) break;
        }
        if (!sent && stats.windowOpen) stats.skippedSubmits++;
      }
    }, 1);
    timers.add(timer);
    return timer;
  };

  let stopped = false;
  let perConnectionResponses: number[] = [];
  const stop = () => {
    if (stopped) return;
    stopped = true;
    perConnectionResponses = connections.filter((c) => c.state === ConnectionState.ready)
      .map((c) => c.windowResponses);
    if (stats.windowOpen) {
      windowEndMs = performance.now();
      stats.windowOpen = false;
    }
    running = false;
    for (const timer of timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    if (rateTimer !== null) clearInterval(rateTimer);
    for (const c of connections) c.close();
    finished.resolve();
  };

  const done = (async (): Promise<LoadSummary> => {
    await finished.promise;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(runs),
      new Promise<void>((resolve) => graceTimer = setTimeout(resolve, CLOSE_GRACE_MS)),
    ]);
    clearTimeout(graceTimer);
    const cpu = process.cpuUsage(cpuStart);
    return stats.summary({
      mode: options.mode,
      connectionsTarget: options.connections,
      windowS: windowStartMs > 0 ? (windowEndMs - windowStartMs) / 1000 : 0,
      offeredPerS: options.mode === LoadMode.rate ? options.ratePerS : 0,
      readyAtEpochMs,
      cpuUserS: cpu.user / 1e6,
      cpuSystemS: cpu.system / 1e6,
      emitHistogram: options.emitHistogram,
      perConnectionResponses,
    });
  })();
  return { done, stop };
}
