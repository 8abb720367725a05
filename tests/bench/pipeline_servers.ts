/**
 * The event pipeline's servers for a benchmark: a real nats-server (JetStream, file store),
 * redis-server and PostgreSQL on free loopback ports, the MINING_EVENTS stream provisioned and
 * the schema migrated, all stopped afterwards however the benchmark ends.
 *
 * PostgreSQL runs with `fsync` on (the launcher's default for tests is off), so "acknowledged
 * after the batch is durable" costs what it costs in production, with `shared_buffers` 1 GB and
 * `max_wal_size` 4 GB as an operator would set for a write-heavy database. Redis runs without
 * persistence (the launcher's setting).
 *
 * @module
 */
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import postgres from "postgres";
import { miningEventsStreamConfig } from "@tbg/shared/nats";
import { migrate } from "../../tools/migrate.ts";
import { type NatsServerHandle, startNatsServer } from "../support/servers/nats_server.ts";
import { type PostgresServerHandle, startPostgres } from "../support/servers/postgres_server.ts";
import { type RedisServerHandle, startRedisServer } from "../support/servers/redis_server.ts";
import { childPids, cpuSeconds } from "./proc_stats.ts";

/** PostgreSQL settings of the benchmark server (see the module note). */
export const BENCH_POSTGRES_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  shared_buffers: "1GB",
  max_wal_size: "4GB",
});

/** The three running servers. */
export interface PipelineServers {
  readonly nats: NatsServerHandle;
  readonly redis: RedisServerHandle;
  readonly postgres: PostgresServerHandle;
  /** CPU seconds used so far by each server (PostgreSQL: the postmaster and its backends). */
  cpuSeconds(): Promise<{ nats: number; redis: number; postgres: number }>;
}

const quietLog = { info: () => {}, warn: () => {} };

async function treeCpuSeconds(pid: number): Promise<number> {
  let total = await cpuSeconds(pid).catch(() => 0);
  for (const child of await childPids(pid)) total += await cpuSeconds(child).catch(() => 0);
  return total;
}

/** Starts the servers, provisions the stream, migrates, runs `fn`, and stops everything. */
export async function withPipelineServers<T>(
  fn: (servers: PipelineServers) => Promise<T>,
): Promise<T> {
  const started = await Promise.allSettled([
    startNatsServer({ jetstream: true }),
    startRedisServer(),
    startPostgres({ fsync: true, settings: BENCH_POSTGRES_SETTINGS }),
  ]);
  const stopAll = () =>
    Promise.allSettled(
      started.map((s) => s.status === "fulfilled" ? s.value.stop() : Promise.resolve()),
    );
  try {
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const [nats, redis, pg] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [
      NatsServerHandle,
      RedisServerHandle,
      PostgresServerHandle,
    ];
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add(miningEventsStreamConfig());
    } finally {
      await nc.close();
    }
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(sql, quietLog);
      await sql`SELECT tbg_ensure_partitions(3)`;
    } finally {
      await sql.end({ timeout: 5 });
    }
    return await fn({
      nats,
      redis,
      postgres: pg,
      async cpuSeconds() {
        return {
          nats: await cpuSeconds(nats.pid).catch(() => 0),
          redis: await cpuSeconds(redis.pid).catch(() => 0),
          postgres: await treeCpuSeconds(pg.pid),
        };
      },
    });
  } finally {
    await stopAll();
  }
}
