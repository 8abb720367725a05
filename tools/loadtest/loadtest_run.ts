/**
 * One load test: starts the pool fleet (nats-server, devnet, N pools on one port), drives the
 * miners from the generator's processes over the loopback source addresses, prints a live line
 * every report interval, measures the hold (the generator's window for share rate and RTT; the
 * pools' /metrics and /proc for CPU, memory, emission latency and stale shares), stops
 * everything it started, and returns the judged result.
 *
 * Every phase ends by time: the generator's own bounds, and a hard stop at ramp + handshake
 * timeout + warm-up + duration + half the driver's slack (tests/load/load_driver.ts). `stop()` (SIGINT/SIGTERM) ends the hold early; the
 * part measured so far is judged.
 */
import type { DrivenLoadRun } from "../../tests/load/load_driver.ts";
import { childSlackMs, startDriver } from "../../tests/load/load_driver.ts";
import { LoadMode, type LoadOptions } from "../../tests/load/load_options.ts";
import type { LoadSummary } from "../../tests/load/load_summary.ts";
import { judgeRows } from "./expected_results.ts";
import { type FleetScrape, fleetWindow, readFleetScrape } from "./fleet_metrics.ts";
import { formatLiveLine, LiveProgress } from "./live_line.ts";
import { type HostLimits, type LoadtestOptions, sourceAddressList } from "./loadtest_options.ts";
import { type PoolFleet, startPoolFleet } from "./pool_fleet.ts";
import { poolHoldMs } from "./pool_hold.ts";
import { coresBetween, type GroupSample, sampleGroup } from "./proc_memory.ts";
import type { GroupFigures, LoadtestResult } from "./result_file.ts";
import { RESULT_FORMAT } from "./result_file.ts";

/** The pools' hold ends this much before the generator's, so miners closing is not in it. */

/** What a run needs besides its options. */
export interface LoadtestContext {
  readonly host: HostLimits & { readonly cores: number };
  readonly commit: string;
  /** Where lines go (the live lines and progress notes). */
  readonly print: (line: string) => void;
}

/** A run in progress. */
export interface LoadtestRun {
  readonly result: Promise<LoadtestResult>;
  /** Ends the run early; idempotent. */
  stop(): void;
}

/** The generator's options for this run: open loop at miners / share interval shares/s. */
export function generatorOptions(options: LoadtestOptions, port: number): LoadOptions {
  return {
    host: "127.0.0.1",
    port,
    connections: options.miners,
    durationS: options.durationS,
    rampS: options.rampUpS,
    warmupS: options.warmupS,
    handshakeTimeoutS: options.handshakeTimeoutS,
    mode: LoadMode.rate,
    outstanding: 0,
    ratePerS: options.miners / options.shareIntervalS,
    processes: options.generatorProcesses,
    json: true,
    indexOffset: 0,
    emitHistogram: true,
    sourceAddresses: sourceAddressList(options.sourceAddresses),
    progressIntervalS: options.reportIntervalS,
  };
}

interface Peak {
  rss: number;
  pss: number;
}

function figures(
  processes: number,
  start: GroupSample | null,
  end: GroupSample | null,
  peak: Peak,
): GroupFigures {
  return {
    processes,
    cpuCores: start !== null && end !== null ? coresBetween(start, end) : null,
    peakRssBytes: peak.rss,
    peakPssBytes: peak.pss,
  };
}

/** Starts a run. */
export function startLoadtest(options: LoadtestOptions, context: LoadtestContext): LoadtestRun {
  const stopRequested = Promise.withResolvers<void>();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    stopRequested.resolve();
  };
  const result = run(options, context, stopRequested.promise, () => stopped);
  return { result, stop };
}

async function run(
  options: LoadtestOptions,
  context: LoadtestContext,
  stopRequested: Promise<void>,
  isStopped: () => boolean,
): Promise<LoadtestResult> {
  const print = context.print;
  const startedAt = new Date().toISOString();
  const loadAverage1mStart = Deno.loadavg()[0] ?? NaN;
  const t0 = performance.now();
  print(
    `loadtest: ${options.miners} miners, 1 share / ${options.shareIntervalS} s each ` +
      `(${
        (options.miners / options.shareIntervalS).toFixed(0)
      }/s offered), ramp ${options.rampUpS} s, ` +
      `warm-up ${options.warmupS} s, hold ${options.durationS} s; ${options.processes} pool ` +
      `processes, ${options.generatorProcesses} generator processes, ${options.sourceAddresses} ` +
      `source addresses; load average ${loadAverage1mStart.toFixed(2)}`,
  );
  const fleet: PoolFleet = await startPoolFleet(options.processes, options.poolV8Flags);
  print(
    `pools ready on 127.0.0.1:${fleet.stratumPort} (pids ${
      fleet.pools.map((p) => p.servicePid).join(", ")
    }), nats-server ${fleet.nats.url}, after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const poolPids = fleet.pools.map((p) => p.servicePid);
  let driver: DrivenLoadRun | null = null;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  try {
    if (isStopped()) throw new Error("Stopped before the miners started");
    const live = new LiveProgress();
    const ready = Promise.withResolvers<void>();
    /** When the first generator process was ready: its window ends first. */
    let firstReadyEpochMs = 0;
    const loadOptions = generatorOptions(options, fleet.stratumPort);
    driver = startDriver(loadOptions, {
      onReady: (info) => {
        firstReadyEpochMs = info.firstEpochMs ?? info.epochMs;
        print(
          `miners ready: ${info.established} established, ${info.failed} failed, after ` +
            `${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        ready.resolve();
      },
      onChildProgress: (index, progress) => live.update(index, progress),
      onChildLine: (index, line) => print(`[generator ${index}] ${line}`),
    });
    const generator = driver;
    const generatorPids = generator.pids;
    let phase = "ramp";
    const poolPeak: Peak = { rss: 0, pss: 0 };
    const generatorPeak: Peak = { rss: 0, pss: 0 };
    let poolStart: GroupSample | null = null;
    let poolEnd: GroupSample | null = null;
    let generatorStart: GroupSample | null = null;
    let generatorEnd: GroupSample | null = null;
    // nats-server takes every event the pools publish, on the same cores: its CPU belongs in the
    // budget of what the host carries.
    const natsPids = [fleet.nats.pid];
    let natsStart: GroupSample | null = null;
    let natsEnd: GroupSample | null = null;
    let scrapeStart: FleetScrape | null = null;
    let scrapeEnd: FleetScrape | null = null;
    let windowStartMs = 0;
    let windowEndMs = 0;

    // The live line: generator progress plus /proc readings over the last interval.
    let lastPool = await sampleGroup(poolPids);
    let lastGenerator = await sampleGroup(generatorPids);
    let lastResponses = 0;
    let lastTickMs = performance.now();
    let ticking = false;
    const tick = async () => {
      if (ticking) return;
      ticking = true;
      try {
        const [pool, gen, scrape] = await Promise.all([
          sampleGroup(poolPids),
          sampleGroup(generatorPids),
          fleet.scrape().then(readFleetScrape, () => null),
        ]);
        const merged = live.merged();
        const now = performance.now();
        if (phase === "hold") {
          poolPeak.rss = Math.max(poolPeak.rss, pool.rssBytes);
          poolPeak.pss = Math.max(poolPeak.pss, pool.pssBytes);
          generatorPeak.rss = Math.max(generatorPeak.rss, gen.rssBytes);
          generatorPeak.pss = Math.max(generatorPeak.pss, gen.pssBytes);
        }
        print(formatLiveLine({
          elapsedS: (now - t0) / 1000,
          phase,
          established: merged.established,
          miners: options.miners,
          failed: merged.failed,
          sharesPerS: (merged.responsesAll - lastResponses) / ((now - lastTickMs) / 1000),
          p99Ms: merged.p99Ms,
          poolCores: coresBetween(lastPool, pool),
          poolRssBytes: pool.rssBytes,
          poolPssBytes: pool.pssBytes,
          poolHeap: scrape === null
            ? null
            : { usedBytes: scrape.heapUsedBytes, totalBytes: scrape.heapTotalBytes },
          generatorCores: coresBetween(lastGenerator, gen),
          generatorRssBytes: gen.rssBytes,
        }));
        lastPool = pool;
        lastGenerator = gen;
        lastResponses = merged.responsesAll;
        lastTickMs = now;
      } finally {
        ticking = false;
      }
    };
    const ticker = setInterval(() => void tick().catch(() => {}), options.reportIntervalS * 1000);
    timers.add(ticker);

    // A pool that cannot be scraped leaves the metrics rows unmeasured ("n/a"), never the run.
    const scrapeOrNull = async (when: string): Promise<FleetScrape | null> => {
      try {
        return readFleetScrape(await fleet.scrape());
      } catch (e) {
        print(`loadtest: ${when}: ${e instanceof Error ? e.message : String(e)}`);
        return null;
      }
    };
    const openWindow = async () => {
      [poolStart, generatorStart, natsStart] = await Promise.all([
        sampleGroup(poolPids),
        sampleGroup(generatorPids),
        sampleGroup(natsPids),
      ]);
      scrapeStart = await scrapeOrNull("hold start");
      windowStartMs = performance.now();
      phase = "hold";
      poolPeak.rss = poolStart.rssBytes;
      poolPeak.pss = poolStart.pssBytes;
      generatorPeak.rss = generatorStart.rssBytes;
      generatorPeak.pss = generatorStart.pssBytes;
    };
    let closing: Promise<void> | null = null;
    const closeWindow = () =>
      closing ??= (async () => {
        if (phase !== "hold") return;
        [poolEnd, generatorEnd, natsEnd] = await Promise.all([
          sampleGroup(poolPids),
          sampleGroup(generatorPids),
          sampleGroup(natsPids),
        ]);
        scrapeEnd = await scrapeOrNull("hold end");
        windowEndMs = performance.now();
        phase = "end";
        for (
          const [peak, sample] of [[poolPeak, poolEnd], [generatorPeak, generatorEnd]] as const
        ) {
          peak.rss = Math.max(peak.rss, sample.rssBytes);
          peak.pss = Math.max(peak.pss, sample.pssBytes);
        }
      })();

    void ready.promise.then(() => {
      if (isStopped()) return;
      phase = "warmup";
      const warm = setTimeout(() => {
        openWindow().then(() => {
          const holdMs = poolHoldMs(
            options,
            firstReadyEpochMs,
            performance.timeOrigin + performance.now(),
          );
          const end = setTimeout(() => void closeWindow().catch(() => {}), holdMs);
          timers.add(end);
        }, (e) => print(`loadtest: cannot open the hold: ${e instanceof Error ? e.message : e}`));
      }, options.warmupS * 1000);
      timers.add(warm);
    });
    // Past every phase's bound, SIGTERM (summaries still printed) well before the driver's
    // SIGKILL of a child (which would lose its summary).
    const boundsMs = (options.rampUpS + options.handshakeTimeoutS + options.warmupS +
      options.durationS) * 1000;
    const hardStop = setTimeout(() => {
      print("loadtest: time bound reached, stopping");
      void closeWindow().catch(() => {}).finally(() => generator.stop());
    }, boundsMs + childSlackMs(boundsMs) / 2);
    timers.add(hardStop);
    void stopRequested.then(async () => {
      print("loadtest: stopping (signal)");
      await closeWindow().catch(() => {});
      generator.stop();
    });

    // A generator process that died takes the merged summary with it: the generator's rows are
    // then n/a, the pools' rows are still judged.
    let summary: LoadSummary | null = null;
    let generatorError: string | null = null;
    try {
      summary = await generator.done;
    } catch (e) {
      generatorError = e instanceof Error ? e.message : String(e);
      print(`loadtest: generator: ${generatorError}`);
    }
    await closeWindow().catch(() => {});
    for (const t of timers) clearTimeout(t);
    timers.clear();

    const poolWindowS = windowEndMs > windowStartMs ? (windowEndMs - windowStartMs) / 1000 : 0;
    const pools = figures(options.processes, poolStart, poolEnd, poolPeak);
    const gen = figures(options.generatorProcesses, generatorStart, generatorEnd, generatorPeak);
    const natsEnds: (GroupSample | null)[] = [natsStart, natsEnd];
    const nats = figures(1, natsStart, natsEnd, {
      rss: Math.max(0, ...natsEnds.map((sample) => sample?.rssBytes ?? 0)),
      pss: Math.max(0, ...natsEnds.map((sample) => sample?.pssBytes ?? 0)),
    });
    const fw = scrapeStart !== null && scrapeEnd !== null
      ? fleetWindow(scrapeStart, scrapeEnd)
      : null;
    const offeredPerS = options.miners / options.shareIntervalS;
    const held = poolWindowS > 0;
    const rows = judgeRows({ miners: options.miners, offeredPerS }, {
      connections: summary?.connectionsEstablished ?? null,
      shareRate: summary !== null && summary.windowS > 0 ? summary.responsesPerS : null,
      p99ShareRtt: summary !== null && summary.latency.count > 0 ? summary.latency.p99Ms : null,
      cpu: held && pools.cpuCores !== null ? (pools.cpuCores / context.host.cores) * 100 : null,
      memory: held ? pools.peakPssBytes : null,
      emissionP99: fw?.emissionP99Ms ?? null,
      staleRate: fw?.staleRatePct ?? null,
      connectionErrorRate: summary === null
        ? null
        : ((summary.connectionsFailed + summary.closedByServer) / options.miners) * 100,
    });
    const load: Record<string, unknown> = summary === null
      ? { error: generatorError }
      : (({ histogram: _histogram, ...rest }) => rest)(summary);
    return {
      format: RESULT_FORMAT,
      startedAt,
      finishedAt: new Date().toISOString(),
      commit: context.commit,
      interrupted: isStopped() || summary === null || summary.windowS < options.durationS * 0.99,
      options,
      host: {
        cores: context.host.cores,
        nofile: context.host.nofile,
        loadAverage1mStart,
        loadAverage1mEnd: Deno.loadavg()[0] ?? NaN,
      },
      rows,
      pools: {
        ...pools,
        cpuSPer1kShares: fw !== null && fw.shares > 0 && pools.cpuCores !== null
          ? (pools.cpuCores * poolWindowS / fw.shares) * 1000
          : null,
      },
      generator: gen,
      natsServer: nats,
      poolWindow: {
        seconds: poolWindowS,
        shares: fw?.shares ?? 0,
        stale: fw?.stale ?? 0,
        emissions: fw?.emissions ?? 0,
        submitP99Ms: fw?.submitP99Ms ?? null,
        notifyP99Ms: fw?.notifyP99Ms ?? null,
        notifies: fw?.notifies ?? 0,
        eventsPublished: fw?.published ?? 0,
        eventsDropped: fw?.dropped ?? 0,
      },
      load,
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    driver?.stop();
    await driver?.done.catch(() => {});
    if (options.poolLogDir !== null) await savePoolLogs(fleet, options.poolLogDir);
    await fleet.stop();
  }
}

/** Writes each pool's output lines (JSON log lines, and raw ones such as V8's) to `dir`. */
async function savePoolLogs(fleet: PoolFleet, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const pool of fleet.pools) {
    const lines = pool.process.logs.logs.map((l) =>
      "raw" in l && typeof l.raw === "string" ? l.raw : JSON.stringify(l)
    );
    await Deno.writeTextFile(`${dir}/pool-${pool.instance}.log`, lines.join("\n") + "\n");
  }
}
