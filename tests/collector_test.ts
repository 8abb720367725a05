/**
 * The event collector end to end: real nats-server, redis-server and PostgreSQL processes, the
 * collector run as its own process with exactly the permissions the launcher derives from its
 * config, events published with `makeEvent`/`encodeEvent` and `js.publish(…, { msgID })`.
 *
 * Run with:
 *
 *   deno test --allow-net=127.0.0.1 --allow-read --allow-write --allow-run --allow-env \
 *     --allow-sys tests/collector_test.ts
 *
 * (`deno task test tests/collector_test.ts` grants a superset.) `--allow-run` starts
 * nats-server, redis-server, PostgreSQL (through setpriv when root) and the collector (deno);
 * `--allow-env` is for the in-process ioredis and postgres clients the assertions use;
 * `--allow-sys` for the PostgreSQL launcher's uid check. Needs the Debian packages nats-server,
 * redis-server and postgresql; fails, never skips, without them. Every wait is bounded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "nats";
import {
  AckPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "nats/jetstream";
import postgres from "postgres";
import { Redis } from "ioredis";
import {
  ALL_EVENT_TYPES,
  encodeEvent,
  EventType,
  makeEvent,
  type MiningEvent,
} from "@tbg/shared/events";
import { eventSubject, miningEventsStreamConfig } from "@tbg/shared/nats";
import { isConnectionLoss } from "@tbg/shared/postgres";
import {
  consumerFilter,
  ensureConsumer,
  ensureStream,
  EntryMode,
  MAX_ACK_PENDING,
  MICROS_PER_HOUR,
  PostgresStore,
  RedisStore,
  RETRY_MAX_MS,
  workerKey,
} from "@tbg/collector";
import { serviceFlags } from "../tools/launch.ts";
import { regtestAddress } from "./support/addresses.ts";
import { pickFreePort, startNatsServer } from "./support/servers/nats_server.ts";
import { startPostgres } from "./support/servers/postgres_server.ts";
import { keysMatching } from "./support/redis_keys.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const USERS = [regtestAddress("p2wpkh", 1).address, regtestAddress("p2wpkh", 2).address];
const WORKERS = ["rig1", "rig2", ""];
const REGION = "eu";
const SOURCE = "stratum-eu-1";
const DURABLE = "event-pipeline";
const STREAM = "MINING_EVENTS";

const SLOW = { sanitizeOps: false, sanitizeResources: false } as const;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 100 ms until it returns true; fails naming `what` after `timeoutMs`. */
async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error: unknown) {
      lastError = error;
    }
    await delay(100);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

// --- redis-server with persistence, restartable on its port ---------------------------------

/** A redis-server this file controls: AOF on (fsync always), so state survives a kill. */
interface RedisProcess {
  readonly url: string;
  readonly port: number;
  /** Sends a signal to the server (SIGKILL, SIGSTOP, SIGCONT, …). */
  kill(signal?: Deno.Signal): void;
  /** Starts the server again on the same port and data (after a kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startRedis(): Promise<RedisProcess> {
  const port = pickFreePort();
  const dir = await Deno.makeTempDir({ prefix: "tbg-collector-redis-" });
  let child: Deno.ChildProcess | undefined;
  const spawn = async () => {
    try {
      child = new Deno.Command("redis-server", {
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "yes",
          "--appendfsync",
          "always",
          "--dir",
          dir,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error: unknown) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(
          'Cannot start redis-server: binary not found (install the Debian package "redis-server")',
        );
      }
      throw error;
    }
    await waitFor("redis-server to answer PING", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buffer = new Uint8Array(64);
        const n = await conn.read(buffer);
        return n !== null && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG");
      } finally {
        conn.close();
      }
    }, 15_000);
  };
  await spawn();
  const kill = (signal: Deno.Signal = "SIGKILL") => {
    try {
      child?.kill(signal);
    } catch {
      // Already exited.
    }
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async restart() {
      kill("SIGKILL");
      await child?.status;
      await spawn();
    },
    async stop() {
      kill("SIGKILL");
      await child?.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// --- the three servers, plus clients for publishing and assertions ---------------------------

interface Stack {
  readonly nats: Awaited<ReturnType<typeof startNatsServer>>;
  readonly pg: Awaited<ReturnType<typeof startPostgres>>;
  readonly redis: RedisProcess;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly sql: postgres.Sql;
  readonly rc: Redis;
  readonly dir: string;
  close(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const [nats, pg, redis] = await Promise.all([
    startNatsServer({ jetstream: true }),
    startPostgres(),
    startRedis(),
  ]);
  const nc = await connect({ servers: nats.url, timeout: 5_000 });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  // Created here so events can be published before a collector runs; the collector finds it.
  await jsm.streams.add(miningEventsStreamConfig());
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  const rc = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  rc.on("error", () => {});
  const dir = await Deno.makeTempDir({ prefix: "tbg-collector-test-" });
  return {
    nats,
    pg,
    redis,
    nc,
    js,
    jsm,
    sql,
    rc,
    dir,
    async close() {
      await nc.close().catch(() => {});
      rc.disconnect();
      await sql.end({ timeout: 1 }).catch(() => {});
      await Promise.allSettled([nats.stop(), pg.stop(), redis.stop()]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Collector processes of the running test, whose logs a failure prints. */
const started: CollectorProcess[] = [];

async function withStack(body: (stack: Stack) => Promise<void>): Promise<void> {
  const stack = await startStack();
  started.length = 0;
  try {
    await body(stack);
  } catch (error) {
    await Deno.stderr.write(new TextEncoder().encode(`test failed: ${String(error)}\n`));
    for (const collector of started) {
      const tail = collector.logs.slice(-15).map((line) => JSON.stringify(line)).join("\n");
      await Deno.stderr.write(
        new TextEncoder().encode(`--- collector ${collector.pid} ---\n${tail}\n`),
      );
    }
    throw error;
  } finally {
    for (const collector of started) collector.killTree();
    await Promise.race([Promise.all(started.map((collector) => collector.exited)), delay(10_000)]);
    await stack.close();
  }
}

// --- the collector as a child process --------------------------------------------------------

interface CollectorProcess {
  readonly metricsPort: number;
  readonly logs: Record<string, unknown>[];
  readonly pid: number;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  kill(signal: Deno.Signal): void;
  /** SIGKILL to the process and its descendants (cleanup after a failure). */
  killTree(): void;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
  /** One sample of a metric series from /metrics (0 when absent). */
  metric(series: string): Promise<number>;
  health(): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Process ids below `pid`, deepest first (Linux /proc; children are listed per thread). */
function descendants(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`);
      for (const child of text.trim().split(/\s+/)) if (child !== "") children.push(Number(child));
    }
  } catch {
    // The process is gone.
  }
  return children.flatMap((child) => [...descendants(child), child]);
}

interface CollectorProcessOptions {
  /** Run through `tools/launch.ts run collector` (as `deno task start:collector` does). */
  readonly viaLauncher?: boolean;
  readonly batch?: { max_events: number; max_wait_ms: number };
  /** Another Redis than the stack's. */
  readonly redisUrl?: string;
}

async function startCollectorProcess(
  stack: Stack,
  options: CollectorProcessOptions = {},
): Promise<CollectorProcess> {
  const metricsPort = pickFreePort();
  const configPath = `${stack.dir}/collector-${metricsPort}.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      nats_url: stack.nats.url,
      postgres: { url: stack.pg.url },
      redis: { url: options.redisUrl ?? stack.redis.url },
      batch: options.batch ?? { max_events: 500, max_wait_ms: 20 },
      stream: STREAM,
      durable: DURABLE,
      metrics: { enabled: true, host: "127.0.0.1", port: metricsPort, path: "/metrics" },
      migrate_on_start: true,
    }),
  );
  const args = options.viaLauncher
    ? [
      "run",
      "--allow-read",
      "--allow-run",
      "--allow-env=INIT_CWD",
      "tools/launch.ts",
      "run",
      "collector",
      "--config",
      configPath,
    ]
    : [
      "run",
      "--no-prompt",
      ...serviceFlags("collector", configPath),
      "collector/main.ts",
      "--config",
      configPath,
    ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const logs: Record<string, unknown>[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          logs.push(JSON.parse(line));
        } catch {
          logs.push({ raw: line });
        }
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exitCode: number | undefined;
  const exited = child.status.then(async (status) => {
    await pumps;
    exitCode = status.code;
    return status.code;
  });
  const process: CollectorProcess = {
    metricsPort,
    logs,
    pid: child.pid,
    exited,
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
    },
    killTree() {
      // Through the launcher the collector is a grandchild: signal it too.
      for (const pid of [...descendants(child.pid), child.pid]) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already exited.
        }
      }
    },
    async stop() {
      process.kill("SIGTERM");
      return await exited;
    },
    async metric(series) {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      for (const line of text.split("\n")) {
        if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
      }
      return 0;
    },
    async health() {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/health`);
      return { status: response.status, body: await response.json() };
    },
  };
  try {
    await waitFor("the collector to log 'collector ready'", () => {
      if (exitCode !== undefined) {
        throw new Error(`collector exited with ${exitCode}: ${JSON.stringify(logs.slice(-5))}`);
      }
      return logs.some((line) => line.msg === "collector ready");
    }, 60_000);
  } catch (error) {
    process.killTree();
    await exited;
    throw new Error(`collector did not start; logs: ${JSON.stringify(logs.slice(-10))}`, {
      cause: error,
    });
  }
  started.push(process);
  return process;
}

// --- events and the expected results ---------------------------------------------------------

function at<E extends MiningEvent>(event: E, timestampUs: number): E {
  return { ...event, timestamp: timestampUs };
}

/** Start of the current UTC hour in µs, minus `hoursBack` hours. */
function hourStartUs(hoursBack = 0): number {
  const nowUs = Date.now() * 1000;
  return nowUs - (nowUs % MICROS_PER_HOUR) - hoursBack * MICROS_PER_HOUR;
}

/** `count` shares spread over two users, three workers and the current and previous hour. */
function shareEvents(count: number, seed = 0): MiningEvent[] {
  const events: MiningEvent[] = [];
  for (let k = 0; k < count; k++) {
    const accepted = (k + seed) % 5 !== 0;
    const event = makeEvent(EventType.ShareSubmitted, REGION, SOURCE, {
      user: USERS[k % 2]!,
      worker: WORKERS[k % 3]!,
      session_id: "0a1b2c3d",
      job_id: "6a",
      share_diff: 1000 + ((k * 7919 + seed) % 100_000) / 8,
      pool_diff: 512,
      accepted,
      ...(accepted ? {} : { reject_reason: "low_difficulty" as const }),
      block_candidate: false,
    });
    events.push(at(event, hourStartUs(k % 2) + 1000 + k));
  }
  return events;
}

const HASH = (n: number) => n.toString(16).padStart(64, "0");

/** Events of the eight other types with known final state. */
function otherEvents(): MiningEvent[] {
  const base = hourStartUs(0) + 500_000;
  const [u0, u1] = [USERS[0]!, USERS[1]!];
  const session = (n: number) => `00${n}f`;
  const out: MiningEvent[] = [];
  const push = (event: MiningEvent, offsetUs: number) => out.push(at(event, base + offsetUs));
  push(
    makeEvent(EventType.BlockFound, REGION, SOURCE, {
      user: u0,
      worker: "rig1",
      height: 101,
      hash: HASH(0xb1),
      reward_sats: 312_500_000,
      region: REGION,
      accepted: true,
      submitted_to: ["local"],
    }),
    10,
  );
  push(
    makeEvent(EventType.BlockFound, REGION, SOURCE, {
      user: u1,
      worker: "rig2",
      height: 102,
      hash: HASH(0xb2),
      reward_sats: 312_500_000,
      region: REGION,
      accepted: false,
      reject_reason: "high-hash",
      submitted_to: ["local", "primary"],
    }),
    20,
  );
  for (let n = 1; n <= 4; n++) {
    push(
      makeEvent(EventType.MinerConnected, REGION, SOURCE, {
        user: u0,
        worker: "rig1",
        session_id: session(n),
        ip: "10.0.0.1",
        user_agent: `bitaxe/${n}`,
        resumed: false,
      }),
      100 + n,
    );
  }
  for (const n of [1, 2]) {
    push(
      makeEvent(EventType.MinerDisconnected, REGION, SOURCE, {
        user: u0,
        worker: "rig1",
        session_id: session(n),
        ip: "10.0.0.1",
        reason: "closed",
        duration_s: 12,
        shares_accepted: 3,
        shares_rejected: 0,
      }),
      200 + n,
    );
  }
  for (const [n, diff] of [[1, 2048], [3, 8192], [2, 4096]] as const) {
    push(
      makeEvent(EventType.DiffUpdated, REGION, SOURCE, {
        user: u0,
        worker: "rig1",
        session_id: session(3),
        old_diff: 1024,
        new_diff: diff,
        reason: "vardiff",
      }),
      300 + n,
    );
  }
  for (const [n, rate] of [[2, 2e12], [1, 1e12], [3, 3e12]] as const) {
    push(
      makeEvent(EventType.HashrateUpdate, REGION, SOURCE, {
        user: u1,
        worker: "rig2",
        hashrate_1m: rate,
        hashrate_5m: rate / 2,
        hashrate_1h: rate / 4,
        shares_1m: 10,
      }),
      400 + n,
    );
  }
  for (const height of [100, 102, 101]) {
    push(
      makeEvent(EventType.NewBlockNetwork, REGION, SOURCE, {
        height,
        hash: HASH(height),
        prev_hash: HASH(height - 1),
        source: "zmq",
      }),
      500 + height,
    );
  }
  for (const best of [5e9, 7e9]) {
    push(
      makeEvent(EventType.ShareBestDiff, REGION, SOURCE, {
        user: u1,
        worker: "",
        best_diff: best,
        previous_best: 1,
        scope: "worker",
      }),
      700 + best / 1e9,
    );
  }
  push(
    makeEvent(EventType.AsicboostDetected, REGION, SOURCE, {
      user: u0,
      worker: "rig2",
      session_id: session(9),
      version_mask: "1fffe000",
      version_bits: "00002000",
    }),
    800,
  );
  return out;
}

async function publish(
  js: JetStreamClient,
  events: readonly MiningEvent[],
  msgId = (e: MiningEvent) => e.event_id,
): Promise<void> {
  const inFlight: Promise<unknown>[] = [];
  for (const event of events) {
    inFlight.push(
      js.publish(eventSubject(event.region, event.event), encodeEvent(event), {
        msgID: msgId(event),
      }),
    );
    if (inFlight.length >= 1000) {
      await Promise.all(inFlight);
      inFlight.length = 0;
    }
  }
  await Promise.all(inFlight);
}

interface WorkerTotals {
  accepted: number;
  rejected: number;
  bestDiff: number;
  lastShareUs: number;
}

/** Per (user, worker) share totals computed straight from the events, as the oracle. */
function workerTotals(events: readonly MiningEvent[]): Map<string, WorkerTotals> {
  const totals = new Map<string, WorkerTotals>();
  for (const event of events) {
    if (event.event !== "share_submitted" && event.event !== "share_best_diff") continue;
    const key = workerKey(event.data.user, event.data.worker);
    const t = totals.get(key) ?? { accepted: 0, rejected: 0, bestDiff: 0, lastShareUs: 0 };
    if (event.event === "share_best_diff") {
      t.bestDiff = Math.max(t.bestDiff, event.data.best_diff);
    } else {
      if (event.data.accepted) {
        t.accepted++;
        t.bestDiff = Math.max(t.bestDiff, event.data.share_diff);
      } else {
        t.rejected++;
      }
      t.lastShareUs = Math.max(t.lastShareUs, event.timestamp);
    }
    totals.set(key, t);
  }
  return totals;
}

/**
 * Deletes every `tbg:dedup:*` key, as their 24 h TTL would: the collectors before the settled
 * record relied on them to recognise a message or an event seen before.
 */
async function expireDedupKeys(rc: Redis): Promise<number> {
  const keys = await keysMatching(rc, "tbg:dedup:*");
  for (let i = 0; i < keys.length; i += 500) await rc.del(...keys.slice(i, i + 500));
  return keys.length;
}

function countByType(events: readonly MiningEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.event, (counts.get(event.event) ?? 0) + 1);
  return counts;
}

async function storedCount(sql: postgres.Sql): Promise<number> {
  const [row] = await sql`SELECT count(*)::int AS n FROM mining_events`;
  return row?.n as number;
}

/** Waits until the consumer has delivered every stream message and nothing awaits an ack. */
async function waitDrained(stack: Stack, timeoutMs = 90_000): Promise<void> {
  let last = "";
  await waitFor(
    "the durable consumer to have every message delivered and acknowledged",
    async () => {
      const info = await stack.jsm.consumers.info(STREAM, DURABLE);
      last = `num_pending ${info.num_pending}, num_ack_pending ${info.num_ack_pending}, ` +
        `redelivered ${info.num_redelivered}`;
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message} (${last})`, { cause: error });
  });
}

/**
 * Asserts PostgreSQL and Redis hold exactly `events` (unique by event_id), once each, with the
 * summaries the oracle computes.
 */
async function assertStoredOnce(stack: Stack, events: readonly MiningEvent[]): Promise<void> {
  const { sql, rc } = stack;
  const expectedByType = countByType(events);

  const rows = await sql`SELECT event_type, count(*)::int AS n, count(DISTINCT event_id)::int AS d
    FROM mining_events GROUP BY event_type`;
  const stored = new Map(rows.map((r) => [r.event_type as string, r.n as number]));
  for (const r of rows) assert.equal(r.n, r.d, `duplicate event ids stored for ${r.event_type}`);
  assert.deepEqual(
    Object.fromEntries([...stored].sort()),
    Object.fromEntries([...expectedByType].sort()),
    "mining_events per type",
  );

  // miners and worker_hourly against the oracle.
  const totals = workerTotals(events);
  const miners = await sql`SELECT "user", worker, shares_accepted::int AS a,
    shares_rejected::int AS r, best_diff AS b FROM miners`;
  for (const [key, t] of totals) {
    const row = miners.find((m) => workerKey(m.user, m.worker) === key);
    assert.ok(row, `miners row for ${key}`);
    assert.equal(row.a, t.accepted, `miners.shares_accepted of ${key}`);
    assert.equal(row.r, t.rejected, `miners.shares_rejected of ${key}`);
    assert.equal(row.b, t.bestDiff, `miners.best_diff of ${key}`);
  }
  const shares = events.filter((e) => e.event === "share_submitted");
  const [hourly] = await sql`SELECT coalesce(sum(shares_accepted), 0)::int AS a,
    coalesce(sum(shares_rejected), 0)::int AS r, coalesce(sum(diff_accepted), 0)::float8 AS d
    FROM worker_hourly`;
  const accepted = shares.filter((e) => e.event === "share_submitted" && e.data.accepted);
  assert.equal(hourly?.a, accepted.length, "worker_hourly accepted shares");
  assert.equal(hourly?.r, shares.length - accepted.length, "worker_hourly rejected shares");
  assert.equal(hourly?.d, accepted.length * 512, "worker_hourly diff_accepted");

  // Redis: no key per event; every message of the stream settled, the record a few keys; one
  // stream entry per event, worker counters from the oracle.
  assert.deepEqual(await keysMatching(rc, "tbg:dedup:*"), [], "no per-event dedup keys");
  const settled = await keysMatching(rc, "tbg:settled:*");
  const floors = settled.filter((key) => key.endsWith(":floor"));
  assert.equal(floors.length, 1, `one settled record: ${settled.join(", ")}`);
  assert.ok(settled.length <= 3, `the floor and at most two chunks: ${settled.join(", ")}`);
  const lastSeq = (await stack.jsm.streams.info(STREAM)).state.last_seq;
  assert.equal(Number(await rc.get(floors[0]!)), lastSeq, "every message settled");
  for (const type of ALL_EVENT_TYPES) {
    assert.equal(
      await rc.xlen(`tbg:stream:${type}`),
      expectedByType.get(type) ?? 0,
      `length of tbg:stream:${type}`,
    );
  }
  for (const [key, t] of totals) {
    const hash = await rc.hgetall(key);
    if (t.accepted + t.rejected > 0) {
      assert.equal(Number(hash.shares_accepted ?? 0), t.accepted, `${key} shares_accepted`);
      assert.equal(Number(hash.shares_rejected ?? 0), t.rejected, `${key} shares_rejected`);
      assert.equal(Number(hash.last_share_at), t.lastShareUs, `${key} last_share_at`);
    }
    assert.equal(Number(hash.best_diff), t.bestDiff, `${key} best_diff`);
  }
}

/** Asserts the state the events of {@link otherEvents} leave (published once, in any order). */
async function assertOtherState(stack: Stack): Promise<void> {
  const { sql, rc } = stack;
  const blocks = await sql`SELECT hash, height, "user", accepted, reject_reason, reward_sats::int8
    AS reward FROM blocks ORDER BY height`;
  assert.deepEqual(blocks.map((b) => [b.hash, b.height, b.accepted, b.reject_reason]), [
    [HASH(0xb1), 101, true, null],
    [HASH(0xb2), 102, false, "high-hash"],
  ]);
  const [u0, u1] = [USERS[0]!, USERS[1]!];
  const [miner] = await sql`SELECT user_agent FROM miners WHERE "user" = ${u0} AND worker = 'rig1'`;
  // miners has no time column for its user_agent, so batches committed out of order (two in
  // flight, two collectors) may leave an earlier connect's agent; Redis keeps the latest exactly.
  assert.ok(["bitaxe/1", "bitaxe/2", "bitaxe/3", "bitaxe/4"].includes(miner?.user_agent));

  assert.deepEqual(
    (await rc.smembers(`tbg:region:${REGION}:connected`)).sort(),
    [`${SOURCE}:003f`, `${SOURCE}:004f`],
  );
  const rig1 = await rc.hgetall(workerKey(u0, "rig1"));
  assert.equal(rig1.diff, "8192", "diff from the latest diff_updated");
  assert.equal(rig1.user_agent, "bitaxe/4");
  assert.equal(rig1.blocks_found, "1");
  const rig2 = await rc.hgetall(workerKey(u1, "rig2"));
  assert.equal(Number(rig2.hashrate_1m), 3e12, "hashrate from the latest hashrate_update");
  assert.equal((await rc.hgetall("tbg:network:tip")).height, "102");
  assert.equal(await rc.llen("tbg:blocks:recent"), 2);
  assert.equal((await rc.hgetall(workerKey(u0, "rig2"))).version_mask, "1fffe000");
}

// --- tests -----------------------------------------------------------------------------------

Deno.test({
  name: "collector stores every event type exactly once, drops invalid messages, stops on SIGTERM",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const collector = await startCollectorProcess(stack, { viaLauncher: true });
      const events = [...shareEvents(3000), ...otherEvents()];
      await publish(stack.js, events);
      // Invalid bodies: not JSON, a wrong field type, and a valid-looking event PostgreSQL cannot
      // store (a NUL character in text): all acknowledged, counted, never stored.
      const enc = new TextEncoder();
      await stack.js.publish(eventSubject(REGION, "share_submitted"), enc.encode("{not json"));
      const wrong = { ...shareEvents(1, 1)[0]!, data: { share_diff: "high" } };
      await stack.js.publish(eventSubject(REGION, "share_submitted"), encodeEvent(wrong as never));
      const nul = makeEvent(EventType.DiffUpdated, REGION, SOURCE, {
        user: USERS[0]!,
        worker: "bad\u0000worker",
        session_id: "0a",
        old_diff: 1,
        new_diff: 2,
        reason: "vardiff",
      });
      await publish(stack.js, [nul]);

      await waitDrained(stack);
      await assertStoredOnce(stack, events);
      await assertOtherState(stack);
      assert.equal(await collector.metric("collector_invalid_events_total"), 2);
      assert.equal(await collector.metric('collector_errors_total{stage="postgres_event"}'), 1);
      assert.equal(
        await collector.metric('collector_events_total{type="share_submitted"}'),
        3000,
      );
      const health = await collector.health();
      assert.equal(health.status, 200);
      assert.equal(health.body.ok, true);

      assert.equal(await collector.stop(), 0);
      assert.ok(collector.logs.some((line) => line.msg === "collector stopped"));
      const info = await stack.jsm.consumers.info(STREAM, DURABLE);
      assert.equal(info.num_ack_pending, 0);
    }),
});

Deno.test({
  name: "an event published twice is stored once: inside the JetStream window and as a later copy",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const collector = await startCollectorProcess(stack);
      const events = [...shareEvents(500), ...otherEvents()];
      await publish(stack.js, events);
      // Same msgID within the 2-minute window: JetStream drops them.
      await publish(stack.js, events);
      const stream = await stack.jsm.streams.info(STREAM);
      assert.equal(stream.state.messages, events.length);
      await waitDrained(stack);

      // A later copy under another msgID (e.g. a relay replaying its spool after the window):
      // the stream takes it, and the stores must recognise the event_id, even after the old
      // per-event dedup keys would have expired.
      await expireDedupKeys(stack.rc);
      await publish(stack.js, events, (e) => `${e.event_id}-replay`);
      // And copies that arrive right next to their original, in the same batch.
      const fresh = shareEvents(50, 3);
      const interleaved = fresh.flatMap((e) => [e, e]);
      await publish(
        stack.js,
        interleaved,
        (() => {
          let n = 0;
          return (e: MiningEvent) => `${e.event_id}-${n++}`;
        })(),
      );
      await waitDrained(stack);

      const all = [...events, ...fresh];
      await assertStoredOnce(stack, all);
      await assertOtherState(stack);
      assert.equal(
        await collector.metric('collector_dedup_hits_total{store="postgres"}'),
        events.length + fresh.length,
      );
      assert.equal(
        await collector.metric('collector_dedup_hits_total{store="redis"}'),
        events.length + fresh.length,
      );
      assert.equal(await collector.stop(), 0);
    }),
});

Deno.test({
  name: "a collector SIGKILLed mid-batch and restarted loses nothing and counts nothing twice",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const events = shareEvents(20_000);
      await publish(stack.js, events);
      const first = await startCollectorProcess(stack);
      await waitFor("some events stored", async () => await storedCount(stack.sql) >= 2_000);
      // Freeze Redis: the batches in flight commit in PostgreSQL and then wait on Redis, so the
      // kill lands between the two stores, with nothing of those batches acknowledged.
      stack.redis.kill("SIGSTOP");
      try {
        let previous = -1;
        await waitFor("PostgreSQL writes to stall behind the frozen Redis", async () => {
          const count = await storedCount(stack.sql);
          const stalled = count === previous;
          previous = count;
          await delay(400);
          return stalled;
        });
        first.kill("SIGKILL");
        await first.exited;
      } finally {
        stack.redis.kill("SIGCONT");
      }
      const committedBeforeKill = await storedCount(stack.sql);
      assert.ok(committedBeforeKill < events.length, "the kill came before the end");

      const second = await startCollectorProcess(stack);
      await waitDrained(stack);
      await assertStoredOnce(stack, events);
      // The batches that were in flight came back and PostgreSQL recognised them.
      assert.ok(await second.metric('collector_dedup_hits_total{store="postgres"}') > 0);
      assert.equal(await second.stop(), 0);
    }),
});

Deno.test({
  name: "a PostgreSQL outage holds batches unacknowledged; after restart every event arrives once",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const collector = await startCollectorProcess(stack);
      const before = [...shareEvents(1000), ...otherEvents()];
      await publish(stack.js, before);
      await waitDrained(stack);

      stack.pg.kill("SIGKILL");
      const during = shareEvents(3000, 1);
      await publish(stack.js, during);
      await waitFor("health to report PostgreSQL down", async () => {
        const health = await collector.health();
        return health.status === 503 &&
          (health.body.failing as string[]).includes("postgres_up");
      });
      assert.equal(await collector.metric('collector_backend_up{backend="postgres"}'), 0);
      const info = await stack.jsm.consumers.info(STREAM, DURABLE);
      assert.ok(info.num_ack_pending + info.num_pending > 0, "events wait on the server");

      await delay(2_000);
      await stack.pg.restart();
      await waitDrained(stack);
      await assertStoredOnce(stack, [...before, ...during]);
      await assertOtherState(stack);
      assert.equal(await collector.metric('collector_backend_up{backend="postgres"}'), 1);
      assert.ok(await collector.metric('collector_errors_total{stage="postgres"}') > 0);
      assert.equal((await collector.health()).status, 200);
      assert.equal(await collector.stop(), 0);
    }),
});

Deno.test({
  name: "after a long PostgreSQL outage, collectors write the held events within two retry steps",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      // Two collectors: four batches wait on PostgreSQL, each on its own pool. Before the fix
      // every one of them sat on postgres.js's own reconnect timer, which after a few failed
      // connects is 10-20 s long and runs on after the server is back.
      const batch = { max_events: 250, max_wait_ms: 20 };
      const collectors = await Promise.all([
        startCollectorProcess(stack, { batch }),
        startCollectorProcess(stack, { batch }),
      ]);
      const before = shareEvents(500);
      await publish(stack.js, before);
      await waitDrained(stack);

      stack.pg.kill("SIGKILL");
      const held = shareEvents(4000, 6);
      await publish(stack.js, held);
      await waitFor("both collectors to report PostgreSQL down", async () => {
        const up = await Promise.all(
          collectors.map((c) => c.metric('collector_backend_up{backend="postgres"}')),
        );
        return up.every((value) => value === 0);
      });
      await delay(12_000);
      await stack.pg.restart();
      const acceptingMs = performance.now();

      const boundMs = 2 * RETRY_MAX_MS;
      const total = before.length + held.length;
      let stored = before.length;
      while (stored < total && performance.now() - acceptingMs < boundMs) {
        await delay(50);
        stored = await storedCount(stack.sql).catch(() => stored);
      }
      const tookMs = Math.round(performance.now() - acceptingMs);
      await Deno.stdout.write(
        new TextEncoder().encode(
          `\ncollector recovery: ${stored - before.length} of ${held.length} held events ` +
            `written ${tookMs} ms after PostgreSQL accepted connections again (bound ${boundMs} ms)\n`,
        ),
      );
      assert.equal(
        stored - before.length,
        held.length,
        `held events written within ${boundMs} ms of PostgreSQL accepting connections again`,
      );
      await waitDrained(stack);
      await assertStoredOnce(stack, [...before, ...held]);
      assert.deepEqual(await Promise.all(collectors.map((c) => c.stop())), [0, 0]);
    }),
});

Deno.test({
  name: "a Redis outage holds batches unacknowledged; after restart every event arrives once",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const collector = await startCollectorProcess(stack);
      const before = [...shareEvents(1000), ...otherEvents()];
      await publish(stack.js, before);
      await waitDrained(stack);

      stack.redis.kill("SIGKILL");
      const during = shareEvents(3000, 2);
      await publish(stack.js, during);
      await waitFor("health to report Redis down", async () => {
        const health = await collector.health();
        return health.status === 503 && (health.body.failing as string[]).includes("redis_up");
      });
      assert.equal(await collector.metric('collector_backend_up{backend="redis"}'), 0);
      const info = await stack.jsm.consumers.info(STREAM, DURABLE);
      assert.ok(info.num_ack_pending + info.num_pending > 0, "events wait on the server");

      await delay(2_000);
      await stack.redis.restart();
      await waitDrained(stack);
      await assertStoredOnce(stack, [...before, ...during]);
      await assertOtherState(stack);
      assert.equal(await collector.metric('collector_backend_up{backend="redis"}'), 1);
      assert.equal(await collector.stop(), 0);
    }),
});

Deno.test({
  name: "a NATS restart mid-stream: the collector reconnects and every event arrives once",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const collector = await startCollectorProcess(stack);
      const before = shareEvents(5000);
      await publish(stack.js, before);
      await waitFor("some events stored", async () => await storedCount(stack.sql) > 0);
      stack.nats.kill("SIGKILL");
      await waitFor("health to report NATS down", async () => {
        const health = await collector.health();
        return health.status === 503 &&
          (health.body.failing as string[]).includes("nats_connected");
      });
      assert.equal(await collector.metric('collector_backend_up{backend="nats"}'), 0);
      await stack.nats.restart();
      const after = [...shareEvents(2000, 4), ...otherEvents()];
      await waitFor("the test's own client to reconnect", async () => {
        await publish(stack.js, after.slice(0, 1));
        return true;
      });
      await publish(stack.js, after);
      await waitDrained(stack);
      await assertStoredOnce(stack, [...before, ...after]);
      await assertOtherState(stack);
      assert.equal((await collector.health()).status, 200);
      assert.equal(await collector.stop(), 0);
    }),
});

Deno.test({
  name: "two collectors sharing the durable consumer process everything exactly once",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const [a, b] = await Promise.all([
        startCollectorProcess(stack, { batch: { max_events: 200, max_wait_ms: 10 } }),
        startCollectorProcess(stack, { batch: { max_events: 200, max_wait_ms: 10 } }),
      ]);
      const events = [...shareEvents(20_000), ...otherEvents()];
      await publish(stack.js, events);
      await waitDrained(stack);
      await assertStoredOnce(stack, events);
      await assertOtherState(stack);
      const sharesA = await a.metric('collector_events_total{type="share_submitted"}');
      const sharesB = await b.metric('collector_events_total{type="share_submitted"}');
      assert.ok(sharesA > 0 && sharesB > 0, `both collectors worked (${sharesA}, ${sharesB})`);
      assert.ok(sharesA + sharesB >= 20_000);
      assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0]);
    }),
});

Deno.test({
  name: "after a day: a crash between PostgreSQL and Redis, copies and a full replay apply once",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const first = await startCollectorProcess(stack);
      const before = [...shareEvents(1000), ...otherEvents()];
      await publish(stack.js, before);
      await waitDrained(stack);

      // Redis down, PostgreSQL up: the batches commit in PostgreSQL and wait on Redis; the
      // collector dies there, its messages unacknowledged.
      stack.redis.kill("SIGKILL");
      const during = shareEvents(2000, 2);
      await publish(stack.js, during);
      // Two batches in flight commit and then wait on Redis; nothing more is fetched.
      let previous = -1;
      await waitFor("PostgreSQL writes to stall behind the dead Redis", async () => {
        const count = await storedCount(stack.sql);
        const stalled = count === previous && count > before.length;
        previous = count;
        await delay(400);
        return stalled;
      });
      first.kill("SIGKILL");
      await first.exited;
      await stack.redis.restart();

      // A day later: the old dedup keys are gone, an emitter replays its spool under new
      // message ids (beyond the 2-minute duplicate window), and the held messages come back.
      await expireDedupKeys(stack.rc);
      await publish(stack.js, before, (e) => `${e.event_id}-spool`);
      const second = await startCollectorProcess(stack);
      await waitDrained(stack);
      await assertStoredOnce(stack, [...before, ...during]);
      await assertOtherState(stack);
      assert.equal(await second.stop(), 0);

      // Disaster recovery replays the whole stream through a re-created consumer: every
      // message comes back with its sequence, which the settled record already holds.
      await expireDedupKeys(stack.rc);
      await stack.jsm.consumers.delete(STREAM, DURABLE);
      const third = await startCollectorProcess(stack);
      await waitDrained(stack);
      await assertStoredOnce(stack, [...before, ...during]);
      await assertOtherState(stack);
      assert.ok(await third.metric('collector_dedup_hits_total{store="redis"}') > 0);
      assert.equal(await third.stop(), 0);
    }),
});

Deno.test({
  name: "a message deleted from the stream does not hold the settled floor",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const events = shareEvents(300);
      await publish(stack.js, events);
      // An operator removes one message before it is consumed: the consumer never delivers it.
      const deleted = 150;
      assert.equal(await stack.jsm.streams.deleteMessage(STREAM, deleted), true);
      const collector = await startCollectorProcess(stack);
      await waitDrained(stack);
      const lastSeq = (await stack.jsm.streams.info(STREAM)).state.last_seq;
      await waitFor(
        "the settled-record check to settle the deleted sequence",
        async () => await collector.metric("collector_settled_floor") === lastSeq,
        30_000,
      );
      assert.ok(await collector.metric("collector_settled_skipped_total") >= 1);
      const kept = events.filter((_, i) => i + 1 !== deleted);
      await assertStoredOnce(stack, kept);
      assert.equal(await collector.stop(), 0);
    }),
});

Deno.test({
  name: "a Redis restored from an older snapshot gets the acknowledged messages it lacks, once",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const restored = await startRedis();
      const restoredRc = new Redis(restored.url);
      try {
        const collector = await startCollectorProcess(stack);
        const before = [...shareEvents(1000), ...otherEvents()];
        await publish(stack.js, before);
        await waitDrained(stack);
        // The snapshot: every key as it is now, copied to the Redis that will be restored.
        for (const key of await keysMatching(stack.rc, "*")) {
          const dump = await stack.rc.dumpBuffer(key);
          if (dump !== null) await restoredRc.restore(key, 0, dump, "REPLACE");
        }
        const after = shareEvents(2000, 5);
        await publish(stack.js, after);
        await waitDrained(stack);
        assert.equal(await collector.stop(), 0);

        // The old Redis is lost; the collector starts on the snapshot. The consumer has
        // acknowledged everything, so no redelivery brings `after`: the check reads it back.
        const recovered = await startCollectorProcess(stack, { redisUrl: restored.url });
        await waitFor(
          "the settled-record check to apply what the snapshot lacks",
          async () =>
            await recovered.metric("collector_settled_repaired_total") >= after.length &&
            await recovered.metric("collector_settled_floor_lag") === 0 &&
            await recovered.metric("collector_settled_floor") ===
              (await stack.jsm.streams.info(STREAM)).state.last_seq,
          60_000,
        );
        await assertStoredOnce({ ...stack, rc: restoredRc }, [...before, ...after]);
        await assertOtherState({ ...stack, rc: restoredRc });
        assert.equal(await recovered.stop(), 0);
      } finally {
        restoredRc.disconnect();
        await restored.stop();
      }
    }),
});

Deno.test({
  name: "Redis memory stays flat per event: 160,000 events in steps, sampled after each",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const collector = await startCollectorProcess(stack, {
        batch: { max_events: 1000, max_wait_ms: 50 },
      });
      const STEPS = 8;
      const STEP = 20_000;
      const samples: { events: number; keys: number; settledKeys: number; used: number }[] = [];
      // A patient client: on a busy machine acks of 1,000 publishes in flight can take seconds.
      const js = jetstream(stack.nc, { timeout: 60_000 });
      for (let step = 0; step < STEPS; step++) {
        await publish(js, shareEvents(STEP, 100 + step));
        await waitDrained(stack, 300_000);
        const info = await stack.rc.info("memory");
        samples.push({
          events: (step + 1) * STEP,
          keys: await stack.rc.dbsize(),
          settledKeys: (await keysMatching(stack.rc, "tbg:settled:*")).length,
          used: Number(/^used_memory:(\d+)/m.exec(info)?.[1]),
        });
      }
      await Deno.stdout.write(
        new TextEncoder().encode(`\nRedis after each step: ${JSON.stringify(samples)}\n`),
      );
      // The same keys after every step: six worker hashes, one stream, the settled record.
      for (const sample of samples) {
        assert.ok(sample.settledKeys <= 3, `settled record: ${JSON.stringify(sample)}`);
        assert.ok(sample.keys <= 6 + 1 + 3, `keys: ${JSON.stringify(sample)}`);
      }
      // From 120,000 events on the share stream is at its cap: what is kept per event is then
      // the stream's trimming slack only. The old dedup keys alone were 251 B per event (about
      // 10 MB over these 40,000 events).
      const capped = samples[5]!;
      const last = samples.at(-1)!;
      const perEvent = (last.used - capped.used) / (last.events - capped.events);
      assert.ok(perEvent < 20, `growth per event once capped: ${perEvent.toFixed(1)} B`);
      assert.equal(await collector.stop(), 0);
    }),
});

Deno.test({
  name: "collector throughput sample: a 50,000-event backlog into PostgreSQL and Redis",
  ...SLOW,
  fn: () =>
    withStack(async (stack) => {
      const events = shareEvents(50_000);
      await publish(stack.js, events);
      const collector = await startCollectorProcess(stack, {
        batch: { max_events: 1000, max_wait_ms: 50 },
      });
      const startedMs = performance.now();
      await waitDrained(stack, 180_000);
      const seconds = (performance.now() - startedMs) / 1000;
      assert.equal(await storedCount(stack.sql), events.length);
      assert.equal(await stack.rc.xlen("tbg:stream:share_submitted"), events.length);
      const rate = Math.round(events.length / seconds);
      const batches = await collector.metric("collector_batch_duration_ms_count");
      const batchMs = await collector.metric("collector_batch_duration_ms_sum") / batches;
      await Deno.stdout.write(
        new TextEncoder().encode(
          `\ncollector: ${events.length} events in ${seconds.toFixed(1)} s = ${rate} events/s ` +
            `(${batches} batches, mean ${batchMs.toFixed(1)} ms each)\n`,
        ),
      );
      assert.equal(await collector.stop(), 0);
    }),
});

// --- the stores and the JetStream setup on their own ------------------------------------------

Deno.test({
  name: "RedisStore applies each event once and keeps the latest state whatever the order",
  ...SLOW,
  fn: async () => {
    const redis = await startRedis();
    const store = new RedisStore(redis.url);
    const rc = new Redis(redis.url);
    let seq = 0;
    const identity = { stream: STREAM, created: "2026-12-07T00:00:00Z", filter: "mining.events.>" };
    const entries = (events: readonly MiningEvent[]) =>
      events.map((event) => ({ seq: ++seq, mode: EntryMode.apply, event }));
    try {
      await waitFor("redis ready", () => store.ready, 10_000);
      await store.initFloor(identity, 0);
      const events = otherEvents();
      const reversed = entries([...events].reverse());
      const first = await store.apply(identity, reversed.slice(0, 7));
      const rest = await store.apply(identity, reversed);
      assert.equal(first.applied, 7);
      assert.equal(rest.applied, events.length - 7);
      assert.equal(rest.duplicates, 7);
      const [u0] = USERS;
      // Disconnects applied before their connects: the tombstones keep those sessions out.
      assert.deepEqual((await rc.smembers(`tbg:region:${REGION}:connected`)).sort(), [
        `${SOURCE}:003f`,
        `${SOURCE}:004f`,
      ]);
      assert.equal((await rc.hgetall(workerKey(u0!, "rig1"))).diff, "8192");
      assert.equal((await rc.hgetall("tbg:network:tip")).height, "102");

      // A key of the wrong type costs that update only, reported, not the batch.
      const shares = shareEvents(6);
      await rc.set(workerKey(USERS[0]!, "rig1"), "x");
      const result = await store.apply(identity, entries(shares));
      assert.equal(result.applied, 6);
      assert.ok(result.errors > 0);
      assert.match(result.firstError ?? "", /WRONGTYPE/);
      assert.equal(await rc.xlen("tbg:stream:share_submitted"), 6);

      // After a SCRIPT FLUSH (as after a restart) the script is loaded again.
      await rc.script("FLUSH");
      const again = await store.apply(identity, entries(shareEvents(3, 9)));
      assert.equal(again.applied, 3);
    } finally {
      rc.disconnect();
      await store.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name: "PostgresStore.write() after many failed connects writes as soon as PostgreSQL is back",
  ...SLOW,
  fn: async () => {
    const pg = await startPostgres();
    // One connection, so every attempt meets the same reconnect timer: postgres.js's default
    // delay grows with each failed connect (to 10-20 s after seven) and counts from the last
    // failure, so the first write after the restart would wait out most of it.
    const store = new PostgresStore(pg.url, { maxConnections: 1 });
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    let pending: Promise<unknown> = Promise.resolve();
    try {
      const { migrate } = await import("../tools/migrate.ts");
      await migrate(store.sql, { info: () => {}, warn: () => {} });
      await store.write(shareEvents(10));

      pg.kill("SIGKILL");
      // The old backend may still answer a write or two before it notices the kill.
      let failures = 0;
      for (let attempt = 0; attempt < 100 && failures < 8; attempt++) {
        await store.write(shareEvents(1, attempt)).catch(() => failures++);
        await delay(50);
      }
      assert.equal(failures, 8, "eight failed writes");
      await pg.restart();
      const acceptingMs = performance.now();

      const storedBefore = await storedCount(sql);
      const held = shareEvents(500, 7);
      pending = store.write(held);
      const boundMs = RETRY_MAX_MS;
      await Promise.race([pending.catch(() => {}), delay(boundMs)]);
      const written = await storedCount(sql) - storedBefore;
      const tookMs = Math.round(performance.now() - acceptingMs);
      await Deno.stdout.write(
        new TextEncoder().encode(
          `\nPostgresStore: ${written} of ${held.length} events written ${tookMs} ms after ` +
            `PostgreSQL accepted connections again (bound ${boundMs} ms)\n`,
        ),
      );
      assert.equal(written, held.length, `events written within ${boundMs} ms of the restart`);
    } finally {
      // Before the fix the write is still waiting on that timer: let it finish, bounded.
      await Promise.race([pending.catch(() => {}), delay(30_000)]);
      await sql.end({ timeout: 1 }).catch(() => {});
      await store.close(1).catch(() => {});
      await pg.stop();
    }
  },
});

Deno.test({
  name: "PostgresStore.write() after the server terminated its connection mid-write succeeds",
  ...SLOW,
  fn: async () => {
    const pg = await startPostgres();
    const store = new PostgresStore(pg.url, { maxConnections: 1 });
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    // Holds mining_events so the store's insert waits on the server while it is terminated.
    const holder = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const { migrate } = await import("../tools/migrate.ts");
      await migrate(store.sql, { info: () => {}, warn: () => {} });
      await store.write(shareEvents(1));
      const [backend] = await store.sql`SELECT pg_backend_pid() AS pid`;

      await holder`BEGIN`;
      await holder`LOCK TABLE mining_events IN ACCESS EXCLUSIVE MODE`;
      const blocked = store.write(shareEvents(5, 1)).then(() => null, (error: unknown) => error);
      await waitFor("the store's insert to wait for the lock", async () => {
        const [row] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE pid = ${backend?.pid} AND wait_event_type = 'Lock'`;
        return row?.n === 1;
      }, 30_000);
      await sql`SELECT pg_terminate_backend(${backend?.pid})`;
      const lost = await blocked;
      assert.ok(isConnectionLoss(lost), `the write in flight failed: ${String(lost)}`);
      await holder`ROLLBACK`;

      // postgres.js replays the server's "terminating connection" onto the first query of the
      // reconnected socket; the store must not hand that to the collector as a failed write.
      const events = shareEvents(20, 2);
      const result = await store.write(events);
      assert.equal(result.insertedIds.size, events.length);
      assert.equal(await storedCount(sql), 1 + events.length);
    } finally {
      await holder.end({ timeout: 1 }).catch(() => {});
      await sql.end({ timeout: 1 }).catch(() => {});
      await store.close(1).catch(() => {});
      await pg.stop();
    }
  },
});

Deno.test({
  name: "PostgresStore.write() isolates events PostgreSQL refuses and writes the rest once",
  ...SLOW,
  fn: async () => {
    const pg = await startPostgres();
    const store = new PostgresStore(pg.url);
    try {
      const { migrate } = await import("../tools/migrate.ts");
      await migrate(store.sql, { info: () => {}, warn: () => {} });
      const good = shareEvents(9);
      const bad = makeEvent(EventType.MinerConnected, REGION, SOURCE, {
        user: USERS[0]!,
        worker: "w",
        session_id: "01",
        ip: "10.0.0.1",
        user_agent: "nul\u0000agent",
        resumed: false,
      });
      const batch = [...good.slice(0, 4), bad, ...good.slice(4)];
      const result = await store.write(batch);
      assert.equal(result.insertedIds.size, 9);
      assert.deepEqual(result.rejected.map((r) => r.event.event_id), [bad.event_id]);
      const again = await store.write(batch);
      assert.equal(again.insertedIds.size, 0);
      assert.ok(await store.foldSummaries() > 0, "the writes of new events left summary deltas");
      assert.equal(await store.foldSummaries(), 0, "a fold takes every delta");
      const [row] = await store.sql`SELECT sum(shares_accepted + shares_rejected)::int AS n
        FROM miners`;
      assert.equal(row?.n, 9, "summaries counted once across both writes");
      assert.equal(await store.ensurePartitions(3), true);
    } finally {
      await store.close();
      await pg.stop();
    }
  },
});

Deno.test({
  name:
    "PostgresStore.write() copies text COPY treats specially byte for byte, and mixed batches once",
  ...SLOW,
  fn: async () => {
    const pg = await startPostgres();
    const store = new PostgresStore(pg.url);
    try {
      const { migrate } = await import("../tools/migrate.ts");
      await migrate(store.sql, { info: () => {}, warn: () => {} });
      const agents = [
        "back\\slash \\N",
        "tab\there",
        "line\nfeed\r\n",
        "ünï €",
        "\\.",
        "quote\" '",
      ];
      const connects = agents.map((agent, i) =>
        makeEvent(EventType.MinerConnected, REGION, SOURCE, {
          user: USERS[0]!,
          worker: `w${i}`,
          session_id: `0${i}`,
          ip: "10.0.0.1",
          user_agent: agent,
          resumed: false,
        })
      );
      const first = await store.write(connects.slice(0, 3), new Map([[connects[0]!.event_id, 7]]));
      assert.equal(first.insertedIds.size, 3, "a fresh batch goes in whole (COPY)");
      // Half stored, half new: COPY refuses it, the idempotent insert stores the new half.
      const second = await store.write(connects);
      assert.equal(second.insertedIds.size, 3, "only the new events are inserted");
      assert.deepEqual(
        [...second.storedSeqs].sort(),
        [[connects[0]!.event_id, 7], [connects[1]!.event_id, null], [connects[2]!.event_id, null]]
          .sort(),
        "stored sequences of the events stored before",
      );
      const rows = await store.sql<{ id: string; agent: string }[]>`
        SELECT event_id::text AS id, payload->>'user_agent' AS agent
        FROM mining_events`;
      for (const event of connects) {
        const row = rows.find((r) => r.id === event.event_id);
        assert.equal(row?.agent, event.data.user_agent, `payload of ${event.data.worker}`);
      }
      assert.equal(await store.foldSummaries(), 2);
      const [miners] = await store.sql`SELECT count(*)::int AS n FROM miners`;
      assert.equal(miners?.n, agents.length, "one miners row per worker, from both paths");
    } finally {
      await store.close();
      await pg.stop();
    }
  },
});

Deno.test({
  name: "ensureStream() and ensureConsumer() are idempotent and keep an unsuitable consumer out",
  ...SLOW,
  fn: async () => {
    const nats = await startNatsServer({ jetstream: true });
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      assert.equal(await ensureStream(jsm, STREAM), "created");
      assert.equal(await ensureStream(jsm, STREAM), "unchanged");
      await jsm.streams.update(STREAM, { ...miningEventsStreamConfig(), max_age: 12 * 3600 * 1e9 });
      assert.equal(await ensureStream(jsm, STREAM), "updated");
      assert.equal((await jsm.streams.info(STREAM)).config.max_age, 24 * 3600 * 1e9);

      const info = await ensureConsumer(jsm, STREAM, DURABLE, consumerFilter(undefined));
      assert.equal(info.config.ack_policy, AckPolicy.Explicit);
      assert.equal(info.config.max_ack_pending, MAX_ACK_PENDING);
      assert.equal(info.config.filter_subject, "mining.events.>");
      const again = await ensureConsumer(jsm, STREAM, DURABLE, consumerFilter(undefined));
      assert.equal(again.created, info.created);

      await jsm.consumers.add(STREAM, {
        durable_name: "other",
        ack_policy: AckPolicy.None,
        filter_subject: consumerFilter("us-east"),
      });
      await assert.rejects(
        ensureConsumer(jsm, STREAM, "other", consumerFilter(undefined)),
        (error: unknown) => error instanceof RangeError && /ack policy/.test(error.message),
      );
    } finally {
      await nc.close();
      await nats.stop();
    }
  },
});
