/**
 * One pool host as `tools/upgrade.ts` finds it in production, for the upgrade test: a config
 * directory laid out as /etc/tbg (`stratum-<n>.json` per instance, all on one Stratum port with
 * `reuse_port`, each with its own spool), instances started and stopped by
 * `instance_ctl.sh` (the stand-in for `systemctl start|stop tbg-stratum@<n>`), and behind them
 * the real event pipeline: devnet node, nats-server with the MINING_EVENTS stream and its
 * consumers, the collector (in this process) writing to PostgreSQL and Redis.
 *
 * Needs nats-server, redis-server and PostgreSQL; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "nats";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "nats/jetstream";
import postgres from "postgres";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { applyPlan } from "@tbg/shared/nats";
import type { Collector } from "@tbg/collector";
import { planAll } from "../../../tools/nats_provision.ts";
import { type DevnetEndpoint, writePoolConfig } from "../pool_process.ts";
import { startDevnetMeshProcess } from "../sim/devnet_mesh_process.ts";
import { type NatsServerHandle, pickFreePort, startNatsServer } from "../servers/nats_server.ts";
import { type PostgresServerHandle, startPostgres } from "../servers/postgres_server.ts";
import { type RedisServerHandle, startRedisServer } from "../servers/redis_server.ts";
import type { RingLog } from "../pipeline/ring_log.ts";
import { buildWithCleanups, startTestCollector } from "../pipeline/stack.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The stand-in for systemctl, relative to the repository root. */
export const INSTANCE_CTL = "tests/support/upgrade/instance_ctl.sh";

/** One share per ~860 hashes, as in the pipeline stack. */
export const SHARE_DIFFICULTY = 0.0000002;
/** About one block per 150 shares. */
const NETWORK_DIFFICULTY = 0.00003;
/** The one node's name in the devnet process. */
const DEVNET_REGION = "host";

/** A running host. */
export interface UpgradeHost {
  /** The /etc/tbg stand-in: stratum-<n>.json, and each instance's log and pid file. */
  readonly etc: string;
  readonly stratumPort: number;
  /**
   * The node, in a process of its own: the test process also runs the collector and the CPU
   * miners, and on a loaded host their turns delayed the node's answers past the pool's 2 s
   * probe timeout, so a starting instance found no usable node within the health timeout.
   */
  readonly devnet: DevnetEndpoint;
  readonly nats: NatsServerHandle;
  readonly pg: PostgresServerHandle;
  readonly redis: RedisServerHandle;
  readonly collector: Collector;
  readonly collectorLog: RingLog;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly sql: postgres.Sql;
  /** `--start` and `--stop` for tools/upgrade.ts (instance_ctl.sh on {@link etc}). */
  readonly hooks: { readonly start: string; readonly stop: string };
  /** Runs instance_ctl.sh `action` for instance `n`; throws when it fails. */
  ctl(action: "start" | "stop", n: number): Promise<void>;
  /** The last lines of instance `n`'s log, for a failure message. */
  logTail(n: number, lines?: number): Promise<string>;
  /** Stops every instance, the collector and the servers; each part bounded to 15 s. */
  close(): Promise<void>;
}

/** Options of {@link startUpgradeHost}. */
export interface UpgradeHostOptions {
  /** Instance numbers to write configs for. */
  readonly instances: readonly number[];
  /** `drain_reconnect_window_ms` of every instance. */
  readonly drainWindowMs: number;
}

/** Starts the servers and the collector and writes the instances' configs (none started). */
export async function startUpgradeHost(options: UpgradeHostOptions): Promise<UpgradeHost> {
  return await buildWithCleanups((cleanups, close) => build(options, cleanups, close));
}

async function build(
  options: UpgradeHostOptions,
  cleanups: (() => Promise<unknown>)[],
  close: () => Promise<void>,
): Promise<UpgradeHost> {
  const [nats, pg, redis, mesh] = await Promise.all([
    startNatsServer({ jetstream: true }),
    startPostgres(),
    startRedisServer({ persistent: true }),
    startDevnetMeshProcess({
      regions: [DEVNET_REGION],
      bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)),
      links: [],
    }),
  ]);
  cleanups.push(() => nats.stop(), () => pg.stop(), () => redis.stop(), () => mesh.stop());
  const devnet = mesh.node(DEVNET_REGION);
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, timeout: 5_000 });
  cleanups.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  for (const plan of await planAll(nc)) await applyPlan(jsm, plan);

  const { collector, collectorLog } = await startTestCollector(
    { nats: nats.url, postgres: pg.url, redis: redis.url },
    "upgrade-test",
  );
  cleanups.push(() => collector.stop());
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  cleanups.push(() => sql.end({ timeout: 1 }));

  const etc = await Deno.makeTempDir({ prefix: "tbg-upgrade-etc-" });
  cleanups.push(() => Deno.remove(etc, { recursive: true }));
  const stratumPort = pickFreePort();
  for (const n of options.instances) {
    const written = await writePoolConfig(devnet, {
      reuse_port: true,
      mindiff: SHARE_DIFFICULTY,
      startdiff: SHARE_DIFFICULTY,
      // Aim at the capped miners' own rate, so vardiff leaves the difficulty where it is.
      vardiff: { target_share_interval: 0.045, retarget_interval: 5 },
      rate_limits: { max_shares_per_minute: 10_000 },
      drain_reconnect_window_ms: options.drainWindowMs,
      events: { enabled: true, nats_url: nats.url, spool_dir: `${etc}/spool-${n}` },
      blocks_dir: `${etc}/blocks-${n}`,
    }, { stratumPort, serviceArgs: ["--instance", String(n)] });
    await Deno.copyFile(written.configPath, `${etc}/stratum-${n}.json`);
    await Deno.remove(written.dir, { recursive: true });
  }

  const ctl = async (action: "start" | "stop", n: number) => {
    const result = await new Deno.Command("bash", {
      args: [INSTANCE_CTL, action, etc, String(n)],
      cwd: ROOT,
      env: { DENO: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(
      result.success,
      `instance_ctl.sh ${action} ${n}: ${new TextDecoder().decode(result.stderr)}`,
    );
  };
  // Whatever is still running at the end drains like any stop.
  cleanups.push(() => Promise.all(options.instances.map((n) => ctl("stop", n))));
  const hook = (action: string) => `bash ${INSTANCE_CTL} ${action} ${etc} {n}`;
  return {
    etc,
    stratumPort,
    devnet,
    nats,
    pg,
    redis,
    collector,
    collectorLog,
    nc,
    js: jetstream(nc),
    jsm,
    sql,
    hooks: { start: hook("start"), stop: hook("stop") },
    ctl,
    async logTail(n, lines = 20) {
      try {
        return (await Deno.readTextFile(`${etc}/stratum-${n}.log`)).split("\n").slice(-lines)
          .join("\n");
      } catch {
        return "(no log)";
      }
    },
    close,
  };
}
