/**
 * The event pipeline with real processes, for the tests that check it end to end: devnet node →
 * the pool (its own process, events on, spool dir set) ← three support CPU miners; pool →
 * nats-server (JetStream, provisioned by `tools/nats_provision.ts`'s code) → collector (in this
 * process, so its metrics are read directly) → PostgreSQL and redis-server.
 *
 * With `natsBridge` the pool reaches nats-server through a {@link LatencyBridge} (zero delay),
 * so a test can cut or corrupt the pool's NATS connection alone.
 *
 * Needs the Debian packages nats-server, redis-server and postgresql; fails, never skips,
 * without them. `assertPipelineExact` (exact_check.ts) checks what such a stack stored.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "nats";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "nats/jetstream";
import postgres from "postgres";
import { Redis } from "ioredis";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { validateConfig } from "@tbg/shared/config";
import {
  applyPlan,
  EVENT_PIPELINE_DURABLE,
  GAME_ENGINE_DURABLE,
  MINING_EVENTS_STREAM_NAME,
} from "@tbg/shared/nats";
import { type Collector, startCollector } from "@tbg/collector";
import { migrate } from "../../../tools/migrate.ts";
import { planAll } from "../../../tools/nats_provision.ts";
import { regtestAddress, type TestAddressType } from "../addresses.ts";
import { type Devnet, startDevnet } from "../devnet/mod.ts";
import { type LatencyBridge, startLatencyBridge } from "../latency_bridge.ts";
import { type PoolProcess, startPoolProcess } from "../pool_process.ts";
import { type NatsServerHandle, startNatsServer } from "../servers/nats_server.ts";
import { type PostgresServerHandle, startPostgres } from "../servers/postgres_server.ts";
import { type RedisServerHandle, startRedisServer } from "../servers/redis_server.ts";
import { startSupervisedPool, type SupervisedPool } from "../supervised_pool.ts";
import { CpuMiner, StratumClient, type SubmitOutcome } from "../stratum_client/mod.ts";
import { RingLog } from "./ring_log.ts";

/** One share per ~860 hashes: each capped miner answers about 23 shares a second. */
export const SHARE_DIFFICULTY = 0.0000002;
/** About one block per 150 shares. */
const NETWORK_DIFFICULTY = 0.00003;
const HASHES_PER_SECOND_PER_MINER = 20_000;
const MINER_TYPES: readonly TestAddressType[] = ["p2wpkh", "p2tr", "p2pkh"];
const WAIT_MS = 45_000;
const POLL_MS = 100;

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns true; fails after `timeoutMs` with `what` and the last state
 * `check` reported through `note` (or its last error).
 */
export async function waitFor(
  what: string,
  check: (note: (state: string) => void) => Promise<boolean> | boolean,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state = "";
  const note = (text: string) => state = text;
  for (;;) {
    try {
      if (await check(note)) return;
    } catch (error: unknown) {
      state = `last error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${state})`);
    }
    await delay(POLL_MS);
  }
}

// --- miners ----------------------------------------------------------------------------------

/** What one miner saw answered. */
export interface Answers {
  accepted: number;
  rejected: number;
  /** Rejections by the pool's message. */
  readonly reasons: Map<string, number>;
  /** Submit → answer, ms, of the last {@link MAX_LATENCIES} answers. */
  readonly latenciesMs: number[];
}

const MAX_LATENCIES = 5_000;

/** One support CPU miner and what it saw answered. */
export interface Rig extends Answers {
  readonly user: string;
  readonly worker: string;
  /** The current connection ({@link reconnectRigs} replaces it). */
  client: StratumClient;
  miner: CpuMiner;
  /** Answers counted before the current connection (its miner's stats start from zero). */
  answeredBefore: number;
}

function countAnswer(answers: Answers, outcome: SubmitOutcome): void {
  answers.latenciesMs.push(outcome.latencyMs);
  if (answers.latenciesMs.length > MAX_LATENCIES) answers.latenciesMs.shift();
  if (outcome.accepted) {
    answers.accepted++;
    return;
  }
  answers.rejected++;
  const reason = outcome.error?.[1] ?? "no error";
  answers.reasons.set(reason, (answers.reasons.get(reason) ?? 0) + 1);
}

async function connectRig(
  port: number,
  user: string,
  worker: string,
  answers: Answers,
): Promise<{ client: StratumClient; miner: CpuMiner }> {
  const client = await StratumClient.start({
    host: "127.0.0.1",
    port,
    username: `${user}.${worker}`,
  });
  const miner = new CpuMiner(client, {
    batchNonces: 1024,
    maxHashesPerSecond: HASHES_PER_SECOND_PER_MINER,
    onShare: (outcome) => countAnswer(answers, outcome),
  });
  return { client, miner };
}

async function startRigs(port: number): Promise<Rig[]> {
  const rigs: Rig[] = [];
  for (const [i, type] of MINER_TYPES.entries()) {
    const { address } = regtestAddress(type, 40 + i);
    const worker = `rig${i}`;
    const answers: Answers = { accepted: 0, rejected: 0, reasons: new Map(), latenciesMs: [] };
    const { client, miner } = await connectRig(port, address, worker, answers);
    rigs.push(Object.assign(answers, { user: address, worker, client, miner, answeredBefore: 0 }));
  }
  return rigs;
}

/**
 * Connects every rig again (same user and worker; answers keep counting), as a miner does when
 * its pool went away. The old miners must be stopped first; mining does not start.
 */
export async function reconnectRigs(stack: Stack): Promise<void> {
  for (const rig of stack.rigs) {
    rig.client.close();
    const { client, miner } = await connectRig(stack.pool.stratumPort, rig.user, rig.worker, rig);
    rig.client = client;
    rig.miner = miner;
    rig.answeredBefore = rig.accepted + rig.rejected;
  }
}

/** Shares answered (accepted or rejected) across `rigs`. */
export function answered(rigs: readonly Rig[]): number {
  return rigs.reduce((sum, rig) => sum + rig.accepted + rig.rejected, 0);
}

/** Stops the miners and checks every submit was answered. */
export async function stopMining(rigs: readonly Rig[]): Promise<void> {
  await Promise.all(rigs.map((rig) => rig.miner.stop()));
  for (const rig of rigs) {
    assert.equal(
      rig.miner.stats.submitted,
      rig.accepted + rig.rejected - rig.answeredBefore,
      `${rig.worker}: every submit was answered`,
    );
  }
}

// --- the stack -------------------------------------------------------------------------------

/** A running pipeline. */
export interface Stack {
  readonly nats: NatsServerHandle;
  readonly pg: PostgresServerHandle;
  readonly redis: RedisServerHandle;
  readonly devnet: Devnet;
  /** The pool's second node, with `standbyNode`. */
  readonly standby: Devnet | undefined;
  /** The devnet's tip height before mining started. */
  readonly startHeight: number;
  readonly pool: PoolProcess;
  /** The same pool as {@link pool}, with `supervised`. */
  readonly supervisedPool: SupervisedPool | undefined;
  /** The bridge between the pool and nats-server, with `natsBridge`. */
  readonly natsBridge: LatencyBridge | undefined;
  readonly collector: Collector;
  readonly collectorLog: RingLog;
  /** The test's own connection; it rides out NATS outages. */
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly sql: postgres.Sql;
  readonly rc: Redis;
  readonly rigs: Rig[];
  /** Message ids a test published under besides the events' own (counted as replays). */
  readonly replayMsgIds: Set<string>;
  /** The last log lines of the collector and the pool, for a failure message. */
  logTail(): string;
  /** Stops everything, last started first; each part bounded to 15 s. */
  close(): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Route the pool's NATS connection through a latency bridge (see {@link Stack.natsBridge}). */
  readonly natsBridge?: boolean;
  /** Run the pool with its wall clock shifted by this libfaketime offset (e.g. `+1h`). */
  readonly poolFaketime?: string;
  /**
   * Run the pool under the systemd unit's restart policy (see {@link Stack.supervisedPool}),
   * remembering miners' difficulties in the stack's Redis (`redis.url` in its config).
   */
  readonly supervised?: boolean;
  /**
   * Put the pool's log file (`logdir`), spool and found blocks in this directory (e.g. a small
   * file system a test can fill), instead of stderr and a temporary spool directory.
   */
  readonly poolDiskDir?: string;
  /** Pool config keys set on top of the stack's own (e.g. `update_interval`). */
  readonly poolOverrides?: Readonly<Record<string, unknown>>;
  /**
   * Start a second devnet node holding the same chain and mempool (both made from the same
   * seeds at the same instant, as two synced Core nodes), configured as the pool's second
   * `btcd` entry (see {@link Stack.standby}).
   */
  readonly standbyNode?: boolean;
  /**
   * Network difficulty of the devnet (default {@link NETWORK_DIFFICULTY}: a block about every 150
   * shares); lower it for a test that waits for blocks.
   */
  readonly networkDifficulty?: number;
  /** V8 flags for the pool's process (`DENO_V8_FLAGS`), e.g. a heap limit; with `supervised`. */
  readonly poolV8Flags?: string;
}

/**
 * Starts the servers, provisions the stream and consumers, starts the collector, the pool and
 * three miners (not yet mining: see {@link startMining}). On failure everything started is
 * stopped.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // Closed last in, first out: miners, clients, pool, collector, then the servers.
  return await buildWithCleanups((cleanups, close) => buildStack(options, cleanups, close));
}

/** What a test host stops on close: each entry undoes one thing it started. */
export type Cleanups = (() => Promise<unknown>)[];

/**
 * Runs `build` with the list it registers its cleanups on and the `close` that runs them (last in,
 * first out, each bounded to 15 s); when `build` fails, closes what it had started and rethrows.
 */
export async function buildWithCleanups<T>(
  build: (cleanups: Cleanups, close: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const cleanups: Cleanups = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await Promise.race([cleanup().catch(() => {}), delay(15_000)]);
    }
  };
  try {
    return await build(cleanups, close);
  } catch (error) {
    await close();
    throw error;
  }
}

async function buildStack(
  options: StackOptions,
  cleanups: (() => Promise<unknown>)[],
  close: () => Promise<void>,
): Promise<Stack> {
  // Two nodes hold the same chain only if they mine their initial chains at the same instant:
  // their clocks stand still until both are made, then run.
  const madeAtMs = Date.now();
  let made = options.standbyNode !== true;
  const clock = () => made ? Date.now() : madeAtMs;
  const bits = targetToBits(difficultyToTarget(options.networkDifficulty ?? NETWORK_DIFFICULTY));
  const [nats, pg, redis, devnet, standby] = await Promise.all([
    startNatsServer({ jetstream: true }),
    startPostgres(),
    startRedisServer({ persistent: true }),
    startDevnet({ bits, clock }),
    options.standbyNode === true ? startDevnet({ bits, clock }) : Promise.resolve(undefined),
  ]);
  made = true;
  cleanups.push(() => nats.stop(), () => pg.stop(), () => redis.stop(), () => devnet.stop());
  if (standby !== undefined) {
    cleanups.push(() => standby.stop());
    assert.equal(standby.chain.tipHash(), devnet.chain.tipHash(), "both nodes hold one chain");
  }

  const nc = await connect({
    servers: nats.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
    timeout: 5_000,
  });
  cleanups.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const plans = await planAll(nc);
  const stream = MINING_EVENTS_STREAM_NAME;
  assert.deepEqual(
    plans.map((plan) => `${plan.name}:${plan.action}`),
    [`${stream}:create`, `${EVENT_PIPELINE_DURABLE}:create`, `${GAME_ENGINE_DURABLE}:create`],
  );
  for (const plan of plans) await applyPlan(jsm, plan);

  const { collector, collectorLog } = await startTestCollector(
    { nats: nats.url, postgres: pg.url, redis: redis.url },
    "pipeline-e2e",
  );
  cleanups.push(() => collector.stop());

  let natsBridge: LatencyBridge | undefined;
  if (options.natsBridge === true) {
    const bridge = await startLatencyBridge({ target: { hostname: "127.0.0.1", port: nats.port } });
    cleanups.push(() => bridge.close());
    natsBridge = bridge;
  }
  const poolNatsUrl = natsBridge === undefined ? nats.url : `nats://127.0.0.1:${natsBridge.port}`;

  const diskDir = options.poolDiskDir;
  const spoolDir = diskDir === undefined
    ? await Deno.makeTempDir({ prefix: "tbg-pipeline-spool-" })
    : `${diskDir}/spool`;
  if (diskDir === undefined) cleanups.push(() => Deno.remove(spoolDir, { recursive: true }));
  const poolConfig = {
    ...(diskDir === undefined ? {} : { logdir: diskDir }),
    mindiff: SHARE_DIFFICULTY,
    startdiff: SHARE_DIFFICULTY,
    // Aim at the capped miners' own rate, so vardiff leaves the difficulty where it is.
    vardiff: { target_share_interval: 0.045, retarget_interval: 5 },
    rate_limits: { max_shares_per_minute: 10_000 },
    events: { enabled: true, nats_url: poolNatsUrl, spool_dir: spoolDir },
    blocks_dir: `${spoolDir}/blocks`,
    ...options.poolOverrides,
  };
  const supervisedPool = options.supervised === true
    ? await startSupervisedPool(
      devnet,
      { ...poolConfig, redis: { url: redis.url } },
      options.poolV8Flags === undefined ? {} : { v8Flags: options.poolV8Flags },
    )
    : undefined;
  const pool = supervisedPool ?? await startPoolProcess(
    standby === undefined ? devnet : [devnet, standby],
    poolConfig,
    options.poolFaketime === undefined ? {} : { faketime: options.poolFaketime },
  );
  cleanups.push(() => pool.stop());

  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  cleanups.push(() => sql.end({ timeout: 1 }));
  const rc = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  rc.on("error", () => {});
  cleanups.push(() => Promise.resolve(rc.disconnect()));

  const rigs = await startRigs(pool.stratumPort);
  cleanups.push(async () => {
    await Promise.all(rigs.map((rig) => rig.miner.stop()));
    for (const rig of rigs) rig.client.close();
  });
  return {
    nats,
    pg,
    redis,
    devnet,
    standby,
    startHeight: devnet.chain.tipHeight(),
    pool,
    supervisedPool,
    natsBridge,
    collector,
    collectorLog,
    nc,
    js: jetstream(nc),
    jsm,
    sql,
    rc,
    rigs,
    replayMsgIds: new Set(),
    logTail: () =>
      [
        `--- collector log ---`,
        ...collectorLog.lines.slice(-30),
        `--- pool log ---`,
        ...pool.logs.slice(-30).map((line) => JSON.stringify(line)),
      ].join("\n"),
    close,
  };
}

// --- driving it --------------------------------------------------------------------------------

/**
 * GET `url`'s body. A network error is retried twice: under load the client may reuse a
 * keep-alive connection the server is closing ("connection closed before message completed"),
 * which says nothing about the pool.
 */
async function scrapeText(url: string): Promise<string> {
  for (let attempt = 1;; attempt++) {
    try {
      return await (await fetch(url)).text();
    } catch (error) {
      if (!(error instanceof TypeError) || attempt >= 3) throw error;
      await delay(100);
    }
  }
}

/** Sum of the samples of `name` whose labels include `labels`, from the pool's /metrics. */
export async function poolMetric(
  stack: Stack,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  const text = await scrapeText(`http://127.0.0.1:${stack.pool.metricsPort}/metrics`);
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const label of (match[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      found.set(label[1]!, label[2]!);
    }
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) {
      sum += Number(match[3]);
    }
  }
  return sum;
}

/** Mines until `minShares` more shares are answered and `minBlocks` more blocks are found. */
export async function mine(
  stack: Stack,
  what: string,
  minShares: number,
  minBlocks = 0,
  minMs = 0,
): Promise<void> {
  const shares = answered(stack.rigs) + minShares;
  const height = stack.devnet.chain.tipHeight() + minBlocks;
  const notBefore = Date.now() + minMs;
  await waitFor(what, (note) => {
    note(
      `answered ${answered(stack.rigs)}/${shares}, tip ${stack.devnet.chain.tipHeight()}/${height}`,
    );
    return answered(stack.rigs) >= shares && stack.devnet.chain.tipHeight() >= height &&
      Date.now() >= notBefore;
  }, 60_000);
}

/** Starts (or resumes) every miner. */
export function startMining(stack: Stack): void {
  for (const rig of stack.rigs) rig.miner.start();
}

/** Whether something accepts TCP connections on loopback `port`. */
export async function canConnect(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * The collector in this process on the given servers, as the pipeline tests run it: batches of 200
 * or 20 ms, no metrics listener, migrations at start, a 2 s drain.
 *
 * @param name the config's name in errors
 */
export async function startTestCollector(
  urls: { readonly nats: string; readonly postgres: string; readonly redis: string },
  name: string,
): Promise<{ collector: Collector; collectorLog: RingLog }> {
  const collectorLog = new RingLog();
  const collector = await startCollector({
    config: validateConfig("collector", {
      nats_url: urls.nats,
      postgres: { url: urls.postgres },
      redis: { url: urls.redis },
      batch: { max_events: 200, max_wait_ms: 20 },
      metrics: { enabled: false },
      migrate_on_start: true,
    }, name),
    log: collectorLog,
    migrate: (sql, log) => migrate(sql, log),
    drainTimeoutMs: 2_000,
  });
  return { collector, collectorLog };
}
