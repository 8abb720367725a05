/**
 * The disaster-recovery drill (seed Phase 5 §6.3, "primary server total loss") on the
 * multi-region simulation:
 *
 * 1. the simulation runs with WAL archiving into a backup directory; miners mine in every region;
 * 2. a base backup (`pg_basebackup.sh`) and a Redis RDB snapshot (`redis_backup.sh`) are taken,
 *    and mining goes on;
 * 3. the loss: the primary pool, the collector, PostgreSQL and Redis are SIGKILLed at once and
 *    their data directories (database, RDB, spool, blocks) deleted; the NATS hub survives (its
 *    JetStream store is the replay buffer, replicated on its own per §6.1);
 * 4. the relays go independent and keep their miners mining; their events wait in the leaves'
 *    edge streams and the hub's MINING_EVENTS;
 * 5. recovery: PostgreSQL from the base backup plus every archived WAL segment, Redis from the
 *    snapshot (`redis_restore.sh`), each on the lost server's port; the durable consumer
 *    re-created from the first sequence the restored database may lack (`dr:replay`); the
 *    collector and the primary started again; the relays return to the primary's templates and
 *    the primary's miners mine on it again;
 * 6. measured: RTO and RPO against the seed's table, and the exactly-once audit.
 *
 * @module
 */
import { jetstreamManager } from "nats/jetstream";
import postgres from "postgres";
import {
  consumerFilter,
  EVENT_PIPELINE_DURABLE,
  MINING_EVENTS_STREAM_NAME,
} from "@tbg/shared/nats";
import { persistedSharesByWorker } from "../../tests/support/sim/event_audit.ts";
import type { MinerProcess } from "../../tests/support/sim/miner_process.ts";
import {
  accepted,
  delay,
  relayMode,
  templatesReceived,
  waitMoreShares,
  waitUntil,
} from "../../tests/support/sim/sim_checks.ts";
import { PRIMARY_REGION, type RelayRegionSpec } from "../../tests/support/sim/sim_options.ts";
import { type Simulation, startSimulation } from "../../tests/support/sim/simulation.ts";
import {
  archiverStatus,
  archiveStartSettings,
  makeBackupDirs,
  type RestoredPostgres,
  type RestoredRedis,
  restorePostgres,
  restoreRedis,
  startArchiving,
  takeBaseBackup,
  takeRedisSnapshot,
} from "./backups.ts";
import type { DrillReport, MinerTally } from "./drill_report.ts";
import { auditExactlyOnce, describeExactness } from "./exactly_once.ts";
import { formatDuration, type Measurement, type ObjectiveId } from "./objectives.ts";
import { applyReplay, describeReplay, planReplay } from "./replay.ts";

/** Options of {@link runDrill}; every field has a default. */
export interface DrillOptions {
  /** Relay regions (default the simulation's: US-East and Asia). */
  readonly relays?: readonly RelayRegionSpec[];
  /** CPU miners per region (default 2). */
  readonly minersPerRegion?: number;
  /** Hash rate cap of each miner, H/s (default 8,000). */
  readonly minerHashrate?: number;
  /** Events stored before the backups are taken (default 60). */
  readonly warmupEvents?: number;
  /** Seconds of mining between the backups and the loss (default 15). */
  readonly afterBackupS?: number;
  /** Seconds from the loss to the start of the restore, at least (default 10). */
  readonly outageS?: number;
  /** PostgreSQL `archive_timeout`, seconds (default 5; production runs 60). */
  readonly archiveTimeoutS?: number;
  /**
   * Force a WAL switch (what `archive_timeout` does periodically), wait until that segment is
   * archived, and let this many ms of commits follow before the loss: a known WAL gap for
   * JetStream to fill. Default: none (the gap is whatever `archive_timeout` left).
   */
  readonly walTailMs?: number;
  /** Relays go independent after this long without the primary (default 5,000 ms). */
  readonly independentAfterMs?: number;
  /** Progress lines. */
  readonly onProgress?: (line: string) => void;
}

/** The drill's findings plus the audit's printable lines. */
export interface DrillOutcome {
  readonly report: DrillReport;
  readonly exactLines: readonly string[];
}

const WAIT_MS = 60_000;
/** Time without a new hub message before the audit (longer than the slowest leaf link). */
const QUIET_MS = 1_500;

async function eventIds(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`SELECT event_id::text AS id FROM mining_events`;
  return rows.map((row) => row.id);
}

async function tally(
  sql: postgres.Sql,
  stopped: readonly { miner: MinerProcess; counts: { answered: number } }[],
): Promise<MinerTally[]> {
  const persisted = await persistedSharesByWorker(sql, stopped.map((s) => s.miner.worker));
  return stopped.map(({ miner, counts }) => ({
    worker: miner.worker,
    region: miner.region,
    answered: counts.answered,
    persisted: persisted.get(miner.worker) ?? 0,
  }));
}

/** Redis Stream entries (all event types) and PostgreSQL rows agree, twice in a row. */
async function waitRedisCaughtUp(sql: postgres.Sql, redisUrl: string): Promise<void> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  let agreedOnce = false;
  try {
    await waitUntil("Redis Streams to hold every stored event", async () => {
      const rows = await sql<{ type: string; n: string }[]>`
        SELECT event_type AS type, count(*)::int8 AS n FROM mining_events GROUP BY 1`;
      let agreed = true;
      for (const { type, n } of rows) {
        if ((await redis.xlen(`tbg:stream:${type}`)) !== Number(n)) agreed = false;
      }
      const done = agreed && agreedOnce;
      agreedOnce = agreed;
      return done;
    }, WAIT_MS);
  } finally {
    redis.disconnect();
  }
}

/**
 * Runs the drill end to end and stops everything it started.
 *
 * @param options Sizes and timings.
 * @returns The findings (the caller prints them and decides the exit code).
 * @throws {Error} If a step cannot complete in its bounded time (naming the step).
 */
export async function runDrill(options: DrillOptions = {}): Promise<DrillOutcome> {
  const say = options.onProgress ?? (() => {});
  const began = Date.now();
  const log = (text: string) =>
    say(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${text}`);
  const archiveTimeoutS = options.archiveTimeoutS ?? 5;
  const work = await Deno.makeTempDir({ prefix: "tbg-dr-" });
  let sim: Simulation | undefined;
  let restoredPg: RestoredPostgres | undefined;
  let restoredRedis: RestoredRedis | undefined;
  let sql: postgres.Sql | undefined;
  try {
    const dirs = await makeBackupDirs(work);
    sim = await startSimulation({
      ...(options.relays === undefined ? {} : { relays: options.relays }),
      minersPerRegion: options.minersPerRegion ?? 2,
      minerHashrate: options.minerHashrate ?? 8_000,
      independentAfterMs: options.independentAfterMs ?? 5_000,
      postgresSettings: archiveStartSettings(archiveTimeoutS),
      onProgress: (line) => log(line),
    });
    const live = sim;
    await startArchiving(live.sql, live.postgres, dirs.wal);
    const relays = live.plan.relays.map((relay) => relay.region);
    const primary = live.service(PRIMARY_REGION);
    log(`WAL archiving into ${dirs.wal} (archive_timeout ${archiveTimeoutS} s)`);

    const warmup = options.warmupEvents ?? 60;
    await waitUntil(`${warmup} events stored from every region`, async () => {
      const rows = await live.sql<{ region: string; n: string }[]>`
        SELECT region, count(*)::int8 AS n FROM mining_events GROUP BY 1`;
      const total = rows.reduce((sum, row) => sum + Number(row.n), 0);
      return total >= warmup && live.plan.regions.every((r) => rows.some((x) => x.region === r));
    }, 2 * WAIT_MS);

    const eventsAtBase = (await eventIds(live.sql)).length;
    const baseAt = Date.now();
    const base = await takeBaseBackup(live.postgres, dirs);
    log(`base backup ${base} (${formatDuration(Date.now() - baseAt)})`);
    const snapshotAt = Date.now();
    const snapshot = await takeRedisSnapshot(live.redisUrl, dirs);
    log(`Redis snapshot ${snapshot}`);
    await delay((options.afterBackupS ?? 15) * 1_000);
    if (options.walTailMs !== undefined) {
      const [switched] = await live.sql<{ segment: string }[]>`
        SELECT pg_walfile_name(pg_switch_wal()) AS segment`;
      const segment = switched?.segment ?? "";
      await waitUntil(`WAL segment ${segment} archived`, async () => {
        const { lastArchivedWal } = await archiverStatus(live.sql);
        return lastArchivedWal !== null && lastArchivedWal >= segment;
      }, WAIT_MS);
      log(`WAL switched and ${segment} archived; ${options.walTailMs} ms of commits follow`);
      await delay(options.walTailMs);
    }

    const archiver = await archiverStatus(live.sql);
    const idsAtLoss = await eventIds(live.sql);
    const relayMiners = relays.flatMap((region) => live.miners(region));
    const edgeBefore = await Promise.all(relays.map((region) => live.edgeStreamCount(region)));

    // The loss: everything on the primary's server at once, then its data.
    const t0 = Date.now();
    live.postgres.kill("SIGKILL");
    live.redis.kill("SIGKILL");
    await Promise.all([primary.service.crash(), live.collector.crash()]);
    for (
      const dir of [live.postgres.dataDir, live.redis.dir, primary.spoolDir, primary.blocksDir]
    ) {
      await Deno.remove(dir, { recursive: true }).catch((error: unknown) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
    log(
      `LOSS: primary pool, collector, PostgreSQL, Redis killed; data deleted ` +
        `(${idsAtLoss.length} events stored; WAL archived up to ${archiver.lastArchivedWal}, ` +
        `${archiver.failedCount} archive failures)`,
    );

    const independentMs = await Promise.all(relays.map(async (region) => {
      await waitUntil(`${region} independent mode`, async () => {
        return (await relayMode(live, region).catch(() => undefined)) === 1;
      }, WAIT_MS);
      return Date.now() - t0;
    }));
    log(`relays independent after ${independentMs.map((ms) => formatDuration(ms)).join(", ")}`);
    await waitMoreShares(accepted(relayMiners), 3, WAIT_MS);
    const edgeNow = await Promise.all(relays.map((region) => live.edgeStreamCount(region)));
    log(
      `relay miners keep mining; edge streams ${
        relays.map((r, i) => `${r} +${edgeNow[i]! - edgeBefore[i]!}`).join(", ")
      } events during the outage`,
    );
    await waitUntil(
      "the lost primary's miners to notice",
      () => live.miners(PRIMARY_REGION).every((m) => m.exited),
      WAIT_MS,
    );
    const lostPoolMiners = await live.stopMiners(PRIMARY_REGION);
    await delay(Math.max(0, (options.outageS ?? 10) * 1_000 - (Date.now() - t0)));

    // Recovery.
    const restoreStartMs = Date.now() - t0;
    log("RESTORE: PostgreSQL from the base backup + archived WAL, Redis from its snapshot");
    // Both at once (separate servers); each handle is kept as soon as it exists, for the cleanup.
    const [pgOutcome, redisOutcome] = await Promise.allSettled([
      restorePostgres(base, dirs, live.postgres.port, live.postgres.database, archiveTimeoutS)
        .then((done) => (restoredPg = done)),
      restoreRedis(snapshot, dirs, live.redis.port).then((done) => (restoredRedis = done)),
    ]);
    if (pgOutcome.status === "rejected") throw pgOutcome.reason;
    if (redisOutcome.status === "rejected") throw redisOutcome.reason;
    const pgRestored = pgOutcome.value;
    const redisRestored = redisOutcome.value;
    sql = postgres(pgRestored.server.url, { max: 2, onnotice: () => {} });
    const restored = new Set(await eventIds(sql));
    const walLostEvents = idsAtLoss.filter((id) => !restored.has(id)).length;
    const replayedTo = pgRestored.lastReplayedAt?.getTime() ?? baseAt;
    log(
      `PostgreSQL recovered to ${new Date(replayedTo).toISOString()}: ${restored.size} events ` +
        `(${walLostEvents} of those stored at the loss are missing)`,
    );
    log(`Redis loaded from ${snapshot}`);
    const jsm = await jetstreamManager(live.hub);
    const plan = await planReplay(sql, jsm, {
      stream: MINING_EVENTS_STREAM_NAME,
      durable: EVENT_PIPELINE_DURABLE,
      filter: consumerFilter(undefined),
    });
    await applyReplay(jsm, plan);
    log(`replay: ${describeReplay(plan)}`);
    const gapEnd = (await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).state.last_seq;
    const received = await Promise.all(relays.map((region) => templatesReceived(live, region)));
    // Both start at once, as their units do on the new host.
    await Promise.all([live.collector.start(), primary.service.start()]);
    log("collector and primary pool started");
    const pipelineCaughtUp = waitUntil("the collector to replay the gap", async () => {
      const info = await jsm.consumers.info(MINING_EVENTS_STREAM_NAME, EVENT_PIPELINE_DURABLE);
      return info.ack_floor.stream_seq >= gapEnd;
    }, 2 * WAIT_MS).then(() => Date.now() - t0);
    pipelineCaughtUp.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
    const backMs = await Promise.all(relays.map(async (region, i) => {
      await waitUntil(
        `${region} back on the primary's templates`,
        async () =>
          (await relayMode(live, region)) === 0 &&
          (await templatesReceived(live, region)) > received[i]!,
        WAIT_MS,
      );
      return Date.now() - t0;
    }));
    log(`relays back on the primary after ${backMs.map((ms) => formatDuration(ms)).join(", ")}`);
    const newMiners = await live.startMiners(PRIMARY_REGION);
    await Promise.all(newMiners.map((m) => m.waitAccepted(1, WAIT_MS)));
    const restoredSql = sql;
    await waitUntil("the primary's new miners' share events in PostgreSQL", async () => {
      const counts = await persistedSharesByWorker(restoredSql, newMiners.map((m) => m.worker));
      return [...counts.values()].every((n) => n >= 1);
    }, WAIT_MS);
    const primaryMs = Date.now() - t0;
    const pipelineMs = await pipelineCaughtUp;
    log(
      `service restored: miners on the primary mine and their events are stored ` +
        `${formatDuration(primaryMs)} after the loss; gap replayed after ${
          formatDuration(pipelineMs)
        }`,
    );

    // Everyone stops; the pipeline drains; the audit.
    const survivors = (await Promise.all(live.plan.regions.map((r) => live.stopMiners(r)))).flat();
    // Quiet: every edge event sourced into the hub (the leaves' links add 80–180 ms), the
    // collector has acknowledged all of it, and nothing new came for a while.
    let lastSeq = -1;
    let quietSince = Date.now();
    await waitUntil("the pipeline to drain and stay quiet", async () => {
      const [info, stream, edges, hubs] = await Promise.all([
        jsm.consumers.info(MINING_EVENTS_STREAM_NAME, EVENT_PIPELINE_DURABLE),
        jsm.streams.info(MINING_EVENTS_STREAM_NAME),
        Promise.all(relays.map((region) => live.edgeStreamCount(region))),
        Promise.all(relays.map((region) => live.hubStreamCount(region))),
      ]);
      const last = stream.state.last_seq;
      if (last !== lastSeq) quietSince = Date.now();
      lastSeq = last;
      return edges.every((n, i) => n === hubs[i]) && info.num_pending === 0 &&
        info.num_ack_pending === 0 && info.ack_floor.stream_seq >= last &&
        Date.now() - quietSince >= QUIET_MS;
    }, WAIT_MS);
    await waitRedisCaughtUp(sql, redisRestored.server.url).catch((error: unknown) => {
      log(`warning: ${(error as Error).message}`); // the audit below reports the difference
    });
    const exactness = await auditExactlyOnce(live.hub, sql, redisRestored.server.url);
    const survivorTally = await tally(sql, survivors);
    const lostTally = await tally(sql, lostPoolMiners);
    const relayMinersDropped = relayMiners.filter((m) => m.disconnected).length;

    const measured: Partial<Record<ObjectiveId, Measurement>> = {
      rto_stratum: {
        ms: Math.max(...independentMs),
        detail: `relays serve on their own templates; ${relayMinersDropped} relay miners dropped`,
      },
      rto_pipeline: {
        ms: pipelineMs,
        detail: `restore began ${formatDuration(restoreStartMs)} after the loss; ` +
          `${plan.toReplay} messages replayed from JetStream`,
      },
      rto_primary: {
        ms: primaryMs,
        detail: `restore began ${formatDuration(restoreStartMs)} after the loss; ` +
          "Bitcoin Core's sync (the seed's 24–48 h) not drilled",
      },
      rto_bitcoin: { ms: null, detail: "not drilled: the simulation's node is not lost" },
      rpo_postgres: {
        ms: t0 - replayedTo,
        detail: `last WAL commit recovered; ${walLostEvents} events lost at WAL level, replayed`,
      },
      rpo_redis: {
        ms: t0 - snapshotAt,
        detail: "snapshot age at the loss; later state re-applied from JetStream",
      },
      rpo_events: {
        ms: 0,
        lostEvents: exactness.missing.length,
        detail: `${exactness.missing.length} published events missing after the replay`,
      },
    };
    // Services stop together (each drains on SIGTERM); their exit codes say whether they were well.
    const exitCodes: Record<string, number | null> = {};
    const stopService = async (service: typeof live.collector) => {
      exitCodes[service.name] = service.running ? await service.stop() : null;
    };
    await Promise.all([
      ...live.services.map((s) => stopService(s.service)),
      stopService(live.collector),
    ]);
    await live.stop();
    sim = undefined;
    return {
      report: {
        measured,
        exactness,
        replay: plan,
        eventsAtBase,
        eventsAtLoss: idsAtLoss.length,
        restoredEvents: restored.size,
        walLostEvents,
        survivors: survivorTally,
        lostPool: lostTally,
        relayMinersDropped,
        edgeEventsDuringOutage: Object.fromEntries(
          relays.map((region, i) => [region, edgeNow[i]! - edgeBefore[i]!]),
        ),
        exitCodes,
      },
      exactLines: describeExactness(exactness),
    };
  } finally {
    await sql?.end({ timeout: 5 });
    await sim?.stop();
    await restoredPg?.server.stop();
    await restoredRedis?.server.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
