/**
 * Scenario emission_latency: the pool with events on, publishing to a real nats-server
 * (JetStream, stream MINING_EVENTS), under 10,000 submits/s offered by the load tool. The pool's
 * own histogram `ckpool_event_emit_latency_us` (share verdict → event in the emitter's buffer,
 * the hand-off to the background publisher) is scraped at the start and end of each window, so
 * the percentiles are of that window alone.
 *
 * One pool, four load runs:
 *   1. NATS up: events go straight to JetStream.
 *   2. NATS stopped (SIGKILL before the run): the emitter spools to disk.
 *   3. NATS restarted at the start of the window: the spool replays while miners submit.
 *   4. NATS up again once the spool is empty: run 1's state on a warm pool, which tells the
 *      first run's warm-up apart from the cost of publishing.
 * Submit → response latency of the runs shows whether the share path waits on NATS. At the end
 * the bench waits for the emitter to settle and checks that the stream holds every event the
 * pool emitted (none lost, none twice).
 *
 * @module
 */
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { MINING_EVENTS_STREAM_NAME, miningEventsStreamConfig } from "@tbg/shared/nats";
import type { LoadSummary } from "../load/load_summary.ts";
import { type NatsServerHandle, startNatsServer } from "../support/servers/nats_server.ts";
import type { BenchPool } from "./bench_pool.ts";
import { DIFFICULTY_1_BITS, loadAverage1m, sleep, withDevnetPool } from "./bench_setup.ts";
import { startLoadProcess } from "./load_process.ts";
import {
  bucketDelta,
  bucketMaxBound,
  bucketQuantile,
  type Buckets,
  fractionAtOrBelow,
  histogramBuckets,
} from "./metrics_text.ts";
import { cpuSeconds } from "./proc_stats.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { LOAD_CPU, POOL_CPU } from "./submit_workload.ts";
import { profileWindow } from "./window_profile.ts";

const EMIT_METRIC = "ckpool_event_emit_latency_us";
const CONNECTIONS = 1_000;
const RATE_PER_S = 10_000;
const TIMING = { rampS: 5, warmupS: 3, durationS: 20 };
/** Longest wait for the spool to replay after the last run. */
const REPLAY_WAIT_MS = 120_000;

/** What one load run against the running pool measured. */
interface PhaseResult {
  readonly summary: LoadSummary;
  readonly emit: Buckets;
  readonly poolCpuUtil: number;
  /** Pool CPU seconds per 1,000 responses in the window. */
  readonly poolCpuPer1k: number;
  readonly command: string;
  readonly notes: string[];
}

function metricValue(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

async function runPhase(
  context: BenchContext,
  pool: BenchPool,
  label: string,
  atWindowStart: () => Promise<void>,
): Promise<PhaseResult> {
  const load = startLoadProcess(pool.stratumPort, [
    "--connections",
    String(CONNECTIONS),
    "--rate",
    String(RATE_PER_S),
    "--ramp-s",
    String(TIMING.rampS),
    "--warmup-s",
    String(TIMING.warmupS),
    "--duration-s",
    String(TIMING.durationS),
  ], LOAD_CPU);
  const ready = await load.ready;
  context.progress(`  ${label}: ${ready.established} connections ready, ${ready.failed} failed`);
  const nowEpoch = () => performance.timeOrigin + performance.now();
  await sleep(Math.max(0, ready.epochMs + TIMING.warmupS * 1000 - nowEpoch()));
  await atWindowStart();
  const before = histogramBuckets(await pool.metrics(), EMIT_METRIC);
  const cpu0 = await cpuSeconds(pool.servicePid);
  const t0 = performance.now();
  const profiled = await profileWindow(context, pool, `emission-${label}`, async () => {
    await sleep(TIMING.durationS * 1000);
    return {
      after: histogramBuckets(await pool.metrics(), EMIT_METRIC),
      cpu1: await cpuSeconds(pool.servicePid),
      wallS: (performance.now() - t0) / 1000,
    };
  });
  const summary = await load.summary;
  const notes = [...profiled.notes];
  if (summary.connectionsFailed > 0 || summary.closedByServer > 0) {
    notes.push(
      `${label}: connections failed ${summary.connectionsFailed}, closed by server ` +
        `${summary.closedByServer}`,
    );
  }
  const poolCpuS = profiled.value.cpu1 - cpu0;
  return {
    summary,
    emit: bucketDelta(before, profiled.value.after),
    poolCpuUtil: poolCpuS / profiled.value.wallS,
    poolCpuPer1k: (poolCpuS / (summary.responsesPerS * profiled.value.wallS)) * 1000,
    command: load.commandLine,
    notes,
  };
}

async function streamMessages(nats: NatsServerHandle): Promise<number> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Waits until the pool's emitter has nothing in memory or on disk and every emit is settled. */
async function waitForReplay(pool: BenchPool): Promise<string> {
  const deadline = performance.now() + REPLAY_WAIT_MS;
  for (;;) {
    const text = await pool.metrics();
    const emitted = metricValue(text, `${EMIT_METRIC}_count`);
    const settled = metricValue(text, "ckpool_events_published_total") +
      metricValue(text, "ckpool_events_dropped_total");
    const idle = metricValue(text, "ckpool_event_buffer_depth") === 0 &&
      metricValue(text, "ckpool_event_spool_bytes") === 0;
    if (idle && settled >= emitted) return text;
    if (performance.now() > deadline) {
      throw new Error(`Cannot finish the replay: ${settled} of ${emitted} events settled`);
    }
    await sleep(500);
  }
}

const us = (buckets: Buckets, q: number) => bucketQuantile(buckets, q) ?? NaN;
/** Observations above `bound` (a bucket bound). */
const over = (buckets: Buckets, bound: number) =>
  (buckets.get(Infinity) ?? 0) - (buckets.get(bound) ?? 0);

/** The emission_latency scenario. */
export const emissionLatency: Scenario = {
  name: "emission_latency",
  workload: `${CONNECTIONS.toLocaleString("en-US")} connections, ` +
    `${RATE_PER_S.toLocaleString("en-US")} submits/s offered open loop (all low-difficulty ` +
    "rejects, each one a share_submitted event), events on to a real nats-server; one pool, " +
    `four load runs of ${TIMING.rampS} s ramp + ${TIMING.warmupS} s warm-up + ` +
    `${TIMING.durationS} s window: NATS up, NATS stopped (SIGKILL, events spool), NATS ` +
    "restarted as the third window opens (spool replays under load), NATS up again once the " +
    "spool is empty; pool `taskset -c 0`, load `taskset -c 1`, nats-server unpinned",
  columns: [
    { key: "upRate", label: "responses/s", digits: 0 },
    { key: "emitP50", label: "emit p50 µs", digits: 1 },
    { key: "emitP99", label: "emit p99 µs", digits: 1 },
    { key: "emitOver1ms", label: "emits > 1 ms", digits: 0 },
    { key: "emitUnder1ms", label: "emits ≤ 1 ms %", digits: 3 },
    { key: "emitP99Down", label: "emit p99 µs, NATS down", digits: 1 },
    { key: "emitP99Back", label: "emit p99 µs, replaying", digits: 1 },
    { key: "upP99", label: "submit p99 ms, NATS up", digits: 2 },
    { key: "downP99", label: "submit p99 ms, NATS down", digits: 2 },
    { key: "backP99", label: "submit p99 ms, replaying", digits: 2 },
    { key: "againP99", label: "submit p99 ms, NATS up again", digits: 2 },
    { key: "spooled", label: "events spooled", digits: 0 },
    { key: "lost", label: "events lost", digits: 0 },
    { key: "upCpu", label: "pool CPU-s/1k submits, NATS up", digits: 4 },
    { key: "downCpu", label: "pool CPU-s/1k submits, NATS down", digits: 4 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const nats = await startNatsServer({ jetstream: true });
    const spoolDir = await Deno.makeTempDir({ prefix: "tbg-bench-spool-" });
    try {
      const nc = await connect({ servers: nats.url });
      try {
        await (await jetstreamManager(nc)).streams.add(miningEventsStreamConfig());
      } finally {
        await nc.close();
      }
      const overrides = {
        events: { enabled: true, nats_url: nats.url, spool_dir: spoolDir },
      };
      return await withDevnetPool(
        { bits: DIFFICULTY_1_BITS, mempoolTarget: 0 },
        { cpus: POOL_CPU, inspect: context.profileDir !== null, overrides },
        async (_devnet, pool) => {
          const up = await runPhase(context, pool, "nats up", () => Promise.resolve());
          nats.kill("SIGKILL");
          const down = await runPhase(context, pool, "nats down", () => Promise.resolve());
          const back = await runPhase(context, pool, "replaying", () => nats.restart());
          await waitForReplay(pool);
          const again = await runPhase(context, pool, "nats up again", () => Promise.resolve());
          const text = await waitForReplay(pool);
          const emitted = metricValue(text, `${EMIT_METRIC}_count`);
          const dropped = metricValue(text, "ckpool_events_dropped_total");
          const stored = await streamMessages(nats);
          const all = histogramBuckets(text, EMIT_METRIC);
          const phases = { up, down, replaying: back, "up again": again };
          const each = (describe: (p: PhaseResult) => string) =>
            Object.entries(phases).map(([name, phase]) => `${name} ${describe(phase)}`).join(", ");
          const notes = [
            `events emitted ${emitted}, in the stream ${stored}, dropped ${dropped}; emission ` +
            `over the whole run: p99 ${us(all, 0.99).toFixed(1)} µs, ${over(all, 1000)} above ` +
            `1 ms, ${over(all, 10_000)} above 10 ms, highest bucket le=${bucketMaxBound(all)}`,
            `emission p99 µs: ${each((p) => us(p.emit, 0.99).toFixed(1))}`,
            `emissions above 1 ms / 10 ms: ${
              each((p) => `${over(p.emit, 1000)} / ${over(p.emit, 10_000)}`)
            }`,
            `submit p50 ms: ${each((p) => p.summary.latency.p50Ms.toFixed(2))}`,
            `submit max ms: ${each((p) => p.summary.latency.maxMs.toFixed(1))}`,
            `responses/s: ${each((p) => p.summary.responsesPerS.toFixed(0))}`,
            `pool CPU (cores): ${each((p) => p.poolCpuUtil.toFixed(2))}`,
            ...Object.values(phases).flatMap((p) => p.notes),
          ];
          return {
            values: {
              upRate: up.summary.responsesPerS,
              emitP50: us(up.emit, 0.5),
              emitP99: us(up.emit, 0.99),
              emitOver1ms: over(up.emit, 1000),
              emitUnder1ms: 100 * (fractionAtOrBelow(up.emit, 1000) ?? NaN),
              emitP99Down: us(down.emit, 0.99),
              emitP99Back: us(back.emit, 0.99),
              upP99: up.summary.latency.p99Ms,
              downP99: down.summary.latency.p99Ms,
              backP99: back.summary.latency.p99Ms,
              againP99: again.summary.latency.p99Ms,
              spooled: metricValue(text, "ckpool_events_spooled_total"),
              lost: emitted - stored - dropped,
              upCpu: up.poolCpuPer1k,
              downCpu: down.poolCpuPer1k,
              loadAvg,
            },
            commands: [up.command],
            notes,
          };
        },
      );
    } finally {
      await nats.stop();
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
};
