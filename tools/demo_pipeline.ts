/**
 * The event pipeline of the demo: nats-server, redis-server and PostgreSQL (throwaway ones on free
 * loopback ports, or running ones given by URL), the collector started through the launcher as an
 * operator starts it, and the summary of what was persisted.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Redis } from "ioredis";
import { startNatsServer } from "../tests/support/servers/nats_server.ts";
import { startPostgres } from "../tests/support/servers/postgres_server.ts";
import { startRedisServer } from "../tests/support/servers/redis_server.ts";
import { pickFreePort } from "../tests/support/servers/nats_server.ts";
import { JsonLogCollector } from "../tests/support/json_log_collector.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Running servers given by the operator instead of throwaway ones. */
export interface PipelineUrls {
  readonly nats?: string | undefined;
  readonly redis?: string | undefined;
  readonly postgres?: string | undefined;
}

/** The demo's event pipeline. */
export interface DemoPipeline {
  readonly natsUrl: string;
  readonly redisUrl: string;
  readonly postgresUrl: string;
  readonly collectorMetricsUrl: string;
  /** Directory for the pool's event spool. */
  readonly spoolDir: string;
  /** Events in PostgreSQL so far. */
  persistedCount(): Promise<number>;
  /** Waits until the persisted count stops growing (bounded), then returns it. */
  settle(timeoutMs: number): Promise<number>;
  /** Events persisted per type in PostgreSQL, and entries per type in the Redis Streams. */
  perType(): Promise<{ type: string; postgres: number; redisStream: number }[]>;
  /** Stops the collector (drain) and every server the demo started; returns the collector's exit code. */
  stop(): Promise<number>;
}

/** Starts what is missing of NATS, Redis and PostgreSQL, then the collector. */
export async function startDemoPipeline(urls: PipelineUrls): Promise<DemoPipeline> {
  const stops: (() => Promise<void>)[] = [];
  const dir = await Deno.makeTempDir({ prefix: "tbg-demo-" });
  stops.push(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  try {
    const nats = urls.nats ?? await started(stops, startNatsServer());
    const redis = urls.redis ?? await started(stops, startRedisServer());
    const pg = urls.postgres ?? await started(stops, startPostgres({ database: "tbg_demo" }));
    const metricsPort = pickFreePort();
    const configPath = `${dir}/collector.json`;
    await Deno.writeTextFile(
      configPath,
      JSON.stringify({
        nats_url: nats,
        postgres: { url: pg },
        redis: { url: redis },
        batch: { max_events: 1000, max_wait_ms: 50 },
        stream: "MINING_EVENTS",
        durable: "event-pipeline",
        metrics: { enabled: true, host: "127.0.0.1", port: metricsPort, path: "/metrics" },
        migrate_on_start: true,
      }),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-run",
        "--allow-env=INIT_CWD",
        "tools/launch.ts",
        "run",
        "collector",
        "--config",
        configPath,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const logs = new JsonLogCollector([child.stdout, child.stderr]);
    const exited = child.status.then(async (s) => {
      await logs.done;
      return s.code;
    });
    await logs.waitFor((l) => l.msg === "collector ready", 60_000, "collector");
    const sql = postgres(pg, { max: 2, onnotice: () => {} });
    const redisClient = new Redis(redis, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redisClient.connect();

    const persistedCount = async () =>
      Number((await sql`SELECT count(*)::int8 AS n FROM mining_events`)[0]!.n);
    return {
      natsUrl: nats,
      redisUrl: redis,
      postgresUrl: pg,
      collectorMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      spoolDir: `${dir}/spool`,
      persistedCount,
      async settle(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        let last = -1;
        let current = await persistedCount();
        while (current !== last && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 1000));
          last = current;
          current = await persistedCount();
        }
        return current;
      },
      async perType() {
        const rows = await sql<{ event_type: string; n: string }[]>`
          SELECT event_type, count(*)::int8 AS n FROM mining_events GROUP BY 1 ORDER BY 1`;
        const out = [];
        for (const row of rows) {
          const streamLength = await redisClient.xlen(`tbg:stream:${row.event_type}`);
          out.push({ type: row.event_type, postgres: Number(row.n), redisStream: streamLength });
        }
        return out;
      },
      async stop() {
        await sql.end({ timeout: 5 });
        redisClient.disconnect();
        try {
          child.kill("SIGTERM");
        } catch {
          // Already exited.
        }
        const code = await exited;
        for (const stop of stops.reverse()) await stop();
        return code;
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }
}

/** Registers a throwaway server's stop and returns its URL. */
async function started(
  stops: (() => Promise<void>)[],
  server: Promise<{ url: string; stop(): Promise<void> }>,
): Promise<string> {
  const handle = await server;
  stops.push(() => handle.stop());
  return handle.url;
}
