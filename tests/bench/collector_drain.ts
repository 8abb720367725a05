/**
 * One drain measurement shared by the collector scenarios: fill the stream with a backlog of
 * realistic events, start N collector processes on the shared durable consumer, follow the
 * consumer until every event is acknowledged (and, when asked, each collector's RSS once a
 * second), then check that PostgreSQL and Redis hold each event exactly once.
 *
 * @module
 */
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import postgres from "postgres";
import { Redis } from "ioredis";
import { EventType } from "@tbg/shared/events";
import { MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { type BenchCollector, startBenchCollector } from "./bench_collector.ts";
import { sleep } from "./bench_setup.ts";
import { type DrainSample, type SustainedRate, sustainedRate } from "./drain_progress.ts";
import type { EventMixOptions } from "./event_mix.ts";
import { type PrefillResult, prefillStream } from "./event_publisher.ts";
import type { PipelineServers } from "./pipeline_servers.ts";
import { cpuSeconds, rssBytes } from "./proc_stats.ts";
import type { BenchContext } from "./scenario.ts";
import { profileWindow } from "./window_profile.ts";

/** The durable consumer name every bench collector shares (the service default). */
const DURABLE = "event-pipeline";
/** Interval between consumer readings. */
const SAMPLE_MS = 250;
/** Interval between RSS readings. */
const RSS_MS = 1_000;
/** Slowest drain accepted before the run is failed (events per second). */
const MIN_RATE_PER_S = 500;

/** The event mix of every collector benchmark: 5,000 addresses with 2 workers each. */
export const BENCH_MIX: Omit<EventMixOptions, "seed"> = {
  users: 5_000,
  workersPerUser: 2,
  region: "eu",
  source: "stratum-eu-1",
};

/** What to drain and how. */
export interface DrainOptions {
  /** Events in the backlog. */
  readonly events: number;
  /** Collector processes sharing the durable consumer. */
  readonly instances: number;
  /** Seed of the event mix (distinct per phase). */
  readonly seed: number;
  /** Read every collector's RSS once a second. */
  readonly sampleRss?: boolean;
  /**
   * Start the first collector with `--inspect` (no sampling unless --profile) to read its V8
   * heap after a full GC at the end of the drain.
   */
  readonly inspectHeap?: boolean;
}

/** One RSS reading of a collector. */
export interface RssSample {
  readonly epochMs: number;
  readonly bytes: number;
}

/** What one drain measured. */
export interface DrainResult {
  readonly prefill: PrefillResult;
  /** Acknowledgements per second between 10% and 90% of the backlog. */
  readonly sustained: SustainedRate;
  /** Backlog over the time from the first collector ready to the last acknowledgement. */
  readonly wholePerS: number;
  readonly drainS: number;
  /** Collector CPU seconds (all instances) per 1,000 events, ready → drained. */
  readonly collectorCpuPer1k: number;
  /** Server CPU seconds per 1,000 events over the same time. */
  readonly natsCpuPer1k: number;
  readonly redisCpuPer1k: number;
  readonly postgresCpuPer1k: number;
  /** Per collector, RSS readings once a second (empty unless `sampleRss`). */
  readonly rss: readonly (readonly RssSample[])[];
  readonly commands: readonly string[];
  readonly notes: readonly string[];
}

async function streamLastSeq(natsUrl: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).state.last_seq;
  } finally {
    await nc.close();
  }
}

/** Empties the tables and Redis between phases, so each drain starts from the same state. */
export async function resetStores(servers: PipelineServers): Promise<void> {
  const sql = postgres(servers.postgres.url, { max: 1, onnotice: () => {} });
  try {
    await sql`TRUNCATE mining_events, blocks, miners, worker_hourly, summary_deltas`;
    await sql`VACUUM ANALYZE`;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const redis = new Redis(servers.redis.url, { maxRetriesPerRequest: 1 });
  try {
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}

/** Checks PostgreSQL rows and Redis share counters against what was published. */
async function verifyStores(servers: PipelineServers, prefill: PrefillResult): Promise<void> {
  const sql = postgres(servers.postgres.url, { max: 1, onnotice: () => {} });
  let rows: number;
  let minerShares: number;
  let deltas: number;
  try {
    const [row] = await sql<{ n: string }[]>`SELECT count(*)::text AS n FROM mining_events`;
    rows = Number(row?.n);
    const [sums] = await sql<{ s: string | null; d: string }[]>`
      SELECT (SELECT sum(shares_accepted + shares_rejected) FROM miners)::text AS s,
        (SELECT count(*) FROM summary_deltas)::text AS d`;
    minerShares = Number(sums?.s ?? 0);
    deltas = Number(sums?.d);
  } finally {
    await sql.end({ timeout: 5 });
  }
  if (rows !== prefill.events) {
    throw new Error(
      `Cannot verify the drain: ${rows} rows in mining_events, ${prefill.events} sent`,
    );
  }
  const redis = new Redis(servers.redis.url, { maxRetriesPerRequest: 1 });
  let shares = 0;
  try {
    let cursor = "0";
    for (let round = 0; round < 100_000; round++) {
      const [next, keys] = await redis.scan(cursor, "MATCH", "tbg:worker:*", "COUNT", 1000);
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.hmget(key, "shares_accepted", "shares_rejected");
      for (const [, reply] of (await pipeline.exec()) ?? []) {
        const [accepted, rejected] = reply as (string | null)[];
        shares += Number(accepted ?? 0) + Number(rejected ?? 0);
      }
      cursor = next;
      if (cursor === "0") break;
    }
  } finally {
    redis.disconnect();
  }
  const sent = prefill.byType[EventType.ShareSubmitted] ?? 0;
  // The last batch of the drain folds every summary delta before it is acknowledged.
  if (deltas !== 0 || minerShares !== sent) {
    throw new Error(
      `Cannot verify the drain: miners counts ${minerShares} shares, ${sent} sent; ` +
        `${deltas} summary deltas not folded`,
    );
  }
  if (shares !== sent) {
    throw new Error(`Cannot verify the drain: Redis counts ${shares} shares, ${sent} sent`);
  }
}

/** Redis `used_memory` in bytes. */
async function redisUsedMemory(url: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return Number(/^used_memory:(\d+)/m.exec(await redis.info("memory"))?.[1] ?? NaN);
  } finally {
    redis.disconnect();
  }
}

/** Fills the backlog, drains it with `instances` collectors, verifies, and reports. */
export async function drainBacklog(
  context: BenchContext,
  servers: PipelineServers,
  options: DrainOptions,
): Promise<DrainResult> {
  const baseSeq = await streamLastSeq(servers.nats.url);
  context.progress(`  prefill: ${options.events} events`);
  const prefill = await prefillStream(servers.nats.url, options.events, {
    ...BENCH_MIX,
    seed: options.seed,
  });
  context.progress(
    `  prefill: ${prefill.events} events in ${prefill.seconds.toFixed(1)} s ` +
      `(${(prefill.events / prefill.seconds).toFixed(0)}/s, ${
        (prefill.bytes / 1e6).toFixed(0)
      } MB)`,
  );
  const lastSeq = baseSeq + prefill.events;
  const redisMemory0 = await redisUsedMemory(servers.redis.url);
  const notes: string[] = [];
  const collectors: BenchCollector[] = [];
  const nc = await connect({ servers: servers.nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const started = await Promise.allSettled(
      Array.from({ length: options.instances }, (_, i) =>
        startBenchCollector({
          natsUrl: servers.nats.url,
          postgresUrl: servers.postgres.url,
          redisUrl: servers.redis.url,
          inspect: i === 0 && (context.profileDir !== null || options.inspectHeap === true),
        })),
    );
    for (const s of started) if (s.status === "fulfilled") collectors.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const readyEpochMs = Math.min(...collectors.map((c) => c.readyEpochMs));
    const cpu0 = await Promise.all(collectors.map((c) => cpuSeconds(c.pid)));
    const servers0 = await servers.cpuSeconds();
    const samples: DrainSample[] = [];
    const rss: RssSample[][] = collectors.map(() => []);
    const deadlineMs = performance.now() + (options.events / MIN_RATE_PER_S) * 1000 + 60_000;
    const profiled = await profileWindow(context, collectors[0]!, "collector", async () => {
      let nextRssMs = 0;
      for (;;) {
        const info = await jsm.consumers.info(MINING_EVENTS_STREAM_NAME, DURABLE);
        const acked = lastSeq - baseSeq - info.num_pending - info.num_ack_pending;
        samples.push({ epochMs: performance.timeOrigin + performance.now(), acked });
        if (options.sampleRss === true && performance.now() >= nextRssMs) {
          nextRssMs = performance.now() + RSS_MS;
          const readings = await Promise.all(collectors.map((c) => rssBytes(c.pid)));
          const epochMs = performance.timeOrigin + performance.now();
          readings.forEach((bytes, i) => rss[i]!.push({ epochMs, bytes }));
        }
        if (info.num_pending === 0 && info.num_ack_pending === 0) break;
        if (performance.now() > deadlineMs) {
          throw new Error(`Cannot drain: ${acked} of ${prefill.events} acknowledged in time`);
        }
        await sleep(SAMPLE_MS);
      }
    });
    notes.push(...profiled.notes);
    const cpu1 = await Promise.all(collectors.map((c) => cpuSeconds(c.pid)));
    const inspector = collectors[0]!.inspector;
    if (inspector !== null) {
      // What the RSS is made of: live JavaScript objects versus heap slack and native memory.
      const rssBefore = await rssBytes(collectors[0]!.pid);
      const heap = await inspector.heapAfterGc();
      const rssAfter = await rssBytes(collectors[0]!.pid);
      notes.push(
        `collector after the drain: RSS ${(rssBefore / 1e6).toFixed(1)} MB; V8 heap used after ` +
          `a full GC ${(heap.usedSize / 1e6).toFixed(1)} MB of ${
            (heap.totalSize / 1e6).toFixed(1)
          }` +
          ` MB; RSS after that GC ${(rssAfter / 1e6).toFixed(1)} MB`,
      );
    }
    const servers1 = await servers.cpuSeconds();
    const endEpochMs = samples.at(-1)!.epochMs;
    const per1k = (seconds: number) => (seconds / prefill.events) * 1000;
    const collectorCpu = cpu1.reduce((sum, v, i) => sum + v - cpu0[i]!, 0);
    const metrics = await Promise.all(collectors.map((c) => c.metrics()));
    const invalid = metrics.map((text) =>
      /^collector_invalid_events_total(?:\{[^}]*\})? (\S+)$/m
        .exec(text)?.[1]
    ).map(Number).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    if (invalid > 0) notes.push(`collectors counted ${invalid} invalid events`);
    const drainS = (endEpochMs - readyEpochMs) / 1000;
    const redisGrowth = (await redisUsedMemory(servers.redis.url)) - redisMemory0;
    notes.push(
      `Redis used_memory grew ${(redisGrowth / 1e6).toFixed(1)} MB for ${prefill.events} events ` +
        `(${(redisGrowth / prefill.events).toFixed(0)} B per event until the streams reach ` +
        `their MAXLEN; nothing is kept per event)`,
    );
    const result: DrainResult = {
      prefill,
      sustained: sustainedRate(samples, prefill.events, 0.1, 0.9),
      wholePerS: prefill.events / drainS,
      drainS,
      collectorCpuPer1k: per1k(collectorCpu),
      natsCpuPer1k: per1k(servers1.nats - servers0.nats),
      redisCpuPer1k: per1k(servers1.redis - servers0.redis),
      postgresCpuPer1k: per1k(servers1.postgres - servers0.postgres),
      rss,
      commands: collectors.slice(0, 1).map((c) => c.commandLine),
      notes,
    };
    await Promise.all(collectors.splice(0).map((c) => c.stop()));
    await verifyStores(servers, prefill);
    return result;
  } finally {
    await Promise.all(collectors.map((c) => c.stop()));
    await nc.close();
  }
}
