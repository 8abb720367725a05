/**
 * Scenario redis_memory (issue 12, item 1): Redis memory while the pipeline runs at a fixed
 * event rate for minutes, with Redis set up as `infra/redis/redis.conf` says (maxmemory, eviction
 * policy, AOF fsync). A paced publisher sends the benchmark's event mix (95% share_submitted,
 * 10,000 workers) at `REDIS_MEMORY_RATE` events/s (default 10,000) for `REDIS_MEMORY_DURATION_S`
 * seconds (default 600) while one collector drains it; every 10 s it samples Redis `used_memory`,
 * the settled record's keys and bytes, the dedup keys, and the consumer's backlog. Pass: Redis
 * never refused a write (the collector's redis error counter stays 0) and stays under maxmemory.
 *
 * When the machine cannot publish or drain at the rate, the row says what it achieved; memory
 * is judged per event delivered, which is what grows when something is kept per event.
 *
 * @module
 */
import { connect } from "nats";
import { jetstream, jetstreamManager, type PubAck } from "nats/jetstream";
import { Redis } from "ioredis";
import { MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { ALL_EVENT_TYPES } from "@tbg/shared/events";
import { STREAM_MAXLEN } from "@tbg/collector";
import { type BenchCollector, startBenchCollector } from "./bench_collector.ts";
import { loadAverage1m, sleep } from "./bench_setup.ts";
import { BENCH_MIX } from "./collector_drain.ts";
import { encodedEvents } from "./event_mix.ts";
import { withPipelineServers } from "./pipeline_servers.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";

/** Events per second offered unless `REDIS_MEMORY_RATE` says otherwise. */
export const DEFAULT_RATE = 10_000;
/** Seconds of publishing unless `REDIS_MEMORY_DURATION_S` says otherwise. */
export const DEFAULT_DURATION_S = 600;
/** Interval between memory samples. */
const SAMPLE_MS = 10_000;
/** Publisher tick: each sends the events due so far. */
const TICK_MS = 100;
/** Publishes awaiting their ack at once. */
const IN_FLIGHT = 2_000;
/** Longest wait for the collector to catch up after publishing stops. */
const DRAIN_LIMIT_MS = 20 * 60_000;
const DURABLE = "event-pipeline";
const CONFIG_URL = new URL("../../infra/redis/redis.conf", import.meta.url);

/** One memory reading. */
export interface MemorySample {
  readonly seconds: number;
  readonly published: number;
  readonly acked: number;
  readonly usedMemory: number;
  readonly settledKeys: number;
  readonly settledBytes: number;
  readonly dedupKeys: number;
}

/**
 * The settings of `infra/redis/redis.conf` that shape memory: maxmemory, its policy, AOF.
 *
 * @param text The file's text.
 * @returns Directive → value for the directives the scenario applies.
 */
export function memoryDirectives(text: string): Map<string, string> {
  const wanted = new Set(["maxmemory", "maxmemory-policy", "appendonly", "appendfsync"]);
  const found = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*([a-z-]+)\s+(\S+)\s*$/.exec(line);
    if (match !== null && wanted.has(match[1]!)) found.set(match[1]!, match[2]!);
  }
  for (const name of wanted) {
    if (!found.has(name)) throw new Error(`Cannot read redis.conf: no "${name}" directive`);
  }
  return found;
}

function envNumber(name: string, fallback: number): number {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Cannot run redis_memory: ${name} must be a positive number, got "${text}"`,
    );
  }
  return value;
}

async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  for (let round = 0; round < 100_000; round++) {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
    if (cursor === "0") return keys;
  }
  throw new Error(`Cannot list ${pattern}: SCAN did not finish`);
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info("memory"))?.[1] ?? NaN);
}

function metricValue(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/** The redis_memory scenario. */
export const redisMemory: Scenario = {
  name: "redis_memory",
  workload: "event mix (95% share_submitted, 10,000 workers) published at REDIS_MEMORY_RATE " +
    "(default 10,000/s) for REDIS_MEMORY_DURATION_S (default 600 s) while one collector drains " +
    "it into PostgreSQL (fsync on) + Redis configured from infra/redis/redis.conf " +
    "(maxmemory, noeviction, AOF everysec); Redis sampled every 10 s",
  columns: [
    { key: "offered", label: "offered events/s", digits: 0 },
    { key: "published", label: "published events/s", digits: 0 },
    { key: "drained", label: "collector events/s", digits: 0 },
    { key: "events", label: "events", digits: 0 },
    { key: "maxUsedMb", label: "max used_memory MB", digits: 1 },
    { key: "maxmemoryMb", label: "maxmemory MB", digits: 0 },
    { key: "lateGrowthB", label: "growth B/event, 2nd half", digits: 2 },
    { key: "settledKeysMax", label: "max settled keys", digits: 0 },
    { key: "settledKbMax", label: "max settled KB", digits: 1 },
    { key: "dedupKeys", label: "dedup keys", digits: 0 },
    { key: "redisErrors", label: "Redis refusals", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const rate = envNumber("REDIS_MEMORY_RATE", DEFAULT_RATE);
    const durationS = envNumber("REDIS_MEMORY_DURATION_S", DEFAULT_DURATION_S);
    const total = Math.round(rate * durationS);
    const loadAvg = await loadAverage1m();
    const directives = memoryDirectives(await Deno.readTextFile(CONFIG_URL));
    return await withPipelineServers(async (servers) => {
      const redis = new Redis(servers.redis.url, { maxRetriesPerRequest: 1 });
      const nc = await connect({ servers: servers.nats.url, name: "tbg-bench-redis-memory" });
      let collector: BenchCollector | undefined;
      try {
        // The throwaway server gets the shipped file's memory and persistence settings.
        for (const [name, value] of directives) await redis.config("SET", name, value);
        const maxmemory = Number(await redis.config("GET", "maxmemory").then((r) => r[1]));
        collector = await startBenchCollector({
          natsUrl: servers.nats.url,
          postgresUrl: servers.postgres.url,
          redisUrl: servers.redis.url,
        });
        const jsm = await jetstreamManager(nc);
        const js = jetstream(nc, { timeout: 30_000 });
        const memory0 = await usedMemory(redis);
        const samples: MemorySample[] = [];
        const startedMs = performance.now();
        let published = 0;
        let failure: unknown = null;
        const sample = async () => {
          const info = await jsm.consumers.info(MINING_EVENTS_STREAM_NAME, DURABLE);
          const settled = await keysMatching(redis, "tbg:settled:*");
          let settledBytes = 0;
          for (const key of settled) {
            settledBytes += Number(await redis.memory("USAGE", key, "SAMPLES", "0") ?? 0);
          }
          const reading: MemorySample = {
            seconds: (performance.now() - startedMs) / 1000,
            published,
            acked: info.ack_floor.stream_seq,
            usedMemory: await usedMemory(redis),
            settledKeys: settled.length,
            settledBytes,
            dedupKeys: (await keysMatching(redis, "tbg:dedup:*")).length,
          };
          samples.push(reading);
          context.progress(
            `  ${reading.seconds.toFixed(0)} s: published ${published}, acked ${reading.acked}, ` +
              `used_memory ${(reading.usedMemory / 1e6).toFixed(1)} MB, settled keys ` +
              `${reading.settledKeys} (${(settledBytes / 1024).toFixed(1)} KB)`,
          );
        };

        // The paced publisher: at each tick, whatever is due by the clock, acks bounded.
        const events = encodedEvents(total, { ...BENCH_MIX, seed: 12 });
        const inFlight = new Set<Promise<void>>();
        let nextSampleMs = 0;
        // Publishing stops at the duration even when the machine could not keep the rate.
        while (published < total && failure === null) {
          const elapsedMs = performance.now() - startedMs;
          if (elapsedMs >= durationS * 1000) break;
          if (elapsedMs >= nextSampleMs) {
            nextSampleMs += SAMPLE_MS;
            await sample();
          }
          const due = Math.min(total, Math.floor((elapsedMs / 1000) * rate));
          // Back to the outer loop for each sample, even when the publisher is behind.
          while (
            published < due && failure === null &&
            performance.now() - startedMs < Math.min(nextSampleMs, durationS * 1000)
          ) {
            const next = events.next();
            if (next.done === true) break;
            const event = next.value;
            const done: Promise<void> = js.publish(event.subject, event.payload, {
              msgID: event.msgId,
            }).then((ack: PubAck) => {
              if (ack.duplicate) failure ??= new Error(`Cannot publish: ${event.msgId} duplicated`);
            }, (error: unknown) => {
              failure ??= error;
            }).finally(() => inFlight.delete(done));
            inFlight.add(done);
            published++;
            if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
          }
          await sleep(TICK_MS);
        }
        await Promise.all(inFlight);
        if (failure !== null) throw failure;
        const publishS = (performance.now() - startedMs) / 1000;
        const drainDeadline = performance.now() + DRAIN_LIMIT_MS;
        for (;;) {
          const info = await jsm.consumers.info(MINING_EVENTS_STREAM_NAME, DURABLE);
          if (info.num_pending === 0 && info.num_ack_pending === 0) break;
          if (performance.now() > drainDeadline) {
            throw new Error(`Cannot drain: ${info.num_pending} events still pending`);
          }
          if (performance.now() - startedMs >= nextSampleMs) {
            nextSampleMs += SAMPLE_MS;
            await sample();
          }
          await sleep(250);
        }
        const drainedS = (performance.now() - startedMs) / 1000;
        await sample();
        const metrics = await collector.metrics();
        const redisErrors = metricValue(metrics, 'collector_errors_total{stage="redis"}');

        // Growth per event delivered over the second half, when the share stream is capped.
        const half = samples.findIndex((s) => s.acked >= published / 2);
        const last = samples.at(-1)!;
        const mid = samples[Math.max(0, half)]!;
        const lateGrowth = last.acked > mid.acked
          ? (last.usedMemory - mid.usedMemory) / (last.acked - mid.acked)
          : 0;
        const streamNotes: string[] = [];
        // Bytes per entry of the streams long enough for the per-stream overhead not to count.
        let largestEntryBytes = 0;
        for (const type of ALL_EVENT_TYPES) {
          const key = `tbg:stream:${type}`;
          const length = await redis.xlen(key);
          if (length === 0) continue;
          const bytes = Number(await redis.memory("USAGE", key, "SAMPLES", "0") ?? 0);
          if (length >= 1_000) largestEntryBytes = Math.max(largestEntryBytes, bytes / length);
          streamNotes.push(`${type} ${length} entries ${(bytes / length).toFixed(0)} B/entry`);
        }
        const fullStreamsBytes = ALL_EVENT_TYPES.length * STREAM_MAXLEN * largestEntryBytes;
        const workers = (await keysMatching(redis, "tbg:worker:*")).length;
        const maxUsed = Math.max(...samples.map((s) => s.usedMemory));
        return {
          values: {
            offered: rate,
            published: published / publishS,
            drained: last.acked / drainedS,
            events: published,
            maxUsedMb: maxUsed / 1e6,
            maxmemoryMb: maxmemory / 1024 / 1024,
            lateGrowthB: lateGrowth,
            settledKeysMax: Math.max(...samples.map((s) => s.settledKeys)),
            settledKbMax: Math.max(...samples.map((s) => s.settledBytes)) / 1024,
            dedupKeys: last.dedupKeys,
            redisErrors,
            loadAvg,
          },
          commands: [collector.commandLine],
          notes: [
            `Redis settings from infra/redis/redis.conf: ${
              [...directives].map(([k, v]) => `${k} ${v}`).join(", ")
            }; used_memory before the run ${(memory0 / 1e6).toFixed(1)} MB`,
            `published ${published} events in ${publishS.toFixed(0)} s, all acknowledged at ` +
            `${drainedS.toFixed(0)} s`,
            `used_memory MB every ${SAMPLE_MS / 1000} s: ${
              samples.map((s) => (s.usedMemory / 1e6).toFixed(1)).join(" ")
            }`,
            `acknowledged events at each sample: ${samples.map((s) => s.acked).join(" ")}`,
            `streams: ${streamNotes.join("; ")}; ${workers} worker hashes`,
            `all nine streams full (MAXLEN ${STREAM_MAXLEN}) at the largest measured entry size ` +
            `(${largestEntryBytes.toFixed(0)} B): ${(fullStreamsBytes / 1e6).toFixed(0)} MB; ` +
            `the rare types fill over days`,
          ],
        };
      } finally {
        await collector?.stop();
        await nc.close();
        redis.disconnect();
      }
    });
  },
};
