/**
 * Retention of raw events on a real PostgreSQL 15 (native daily partitions; TimescaleDB is not
 * packaged here, so its path is not exercised): old partitions go, the queries the collector and
 * the dashboards run still answer correctly across the dropped boundary and across midnight, an
 * event for a day without a partition is stored (DEFAULT) and moved when its day is created, the
 * retention job gives up on a held lock instead of stalling inserts, and the collector itself
 * drops the days older than `retention_days` when it starts. Run with the suite's flags:
 *
 *   deno test --allow-net=127.0.0.1,localhost --allow-read --allow-write --allow-run \
 *     --allow-env --allow-ffi --allow-sys --unstable-net tests/storage_retention_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { validateConfig } from "@tbg/shared/config";
import { EventType, makeEvent, type MiningEvent } from "@tbg/shared/events";
import { startCollector } from "@tbg/collector";
import { PostgresStore } from "../collector/postgres_store.ts";
import { migrate } from "../tools/migrate.ts";
import { regtestAddress } from "./support/addresses.ts";
import { RingLog } from "./support/pipeline/ring_log.ts";
import { startNatsServer } from "./support/servers/nats_server.ts";
import { startPostgres } from "./support/servers/postgres_server.ts";
import { startRedisServer } from "./support/servers/redis_server.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const SLOW = { sanitizeOps: false, sanitizeResources: false } as const;
const silent = { info() {}, warn() {} };
const ALICE = regtestAddress("p2wpkh", 11).address;
const BOB = regtestAddress("p2wpkh", 12).address;

/** Midnight UTC of today plus `days` (negative: the past), in ms. */
function dayStartMs(days: number): number {
  return Math.floor(Date.now() / DAY_MS) * DAY_MS + days * DAY_MS;
}

function partitionName(ms: number): string {
  return `mining_events_p${new Date(ms).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** A share by `user` at `ms` (ms since the epoch); share_diff encodes the time for checks. */
function share(user: string, ms: number, accepted = true): MiningEvent {
  const event = makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
    user,
    worker: "rig1",
    session_id: "0a1b2c3d",
    job_id: "6a",
    share_diff: 2048,
    pool_diff: 1024,
    accepted,
    ...(accepted ? {} : { reject_reason: "low_difficulty" as const }),
    block_candidate: false,
  });
  return { ...event, timestamp: ms * 1000 };
}

async function partitions(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql`
    SELECT c.relname::text AS name FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'mining_events'::regclass ORDER BY 1`;
  return rows.map((r) => String(r.name));
}

/** Rows as plain objects (a postgres.js result also carries the statement and the count). */
async function plain(query: Promise<postgres.RowList<postgres.Row[]>>): Promise<object[]> {
  return (await query).map((row) => ({ ...row }));
}

async function partitionOf(sql: postgres.Sql, eventId: string): Promise<string | undefined> {
  const [row] = await sql`
    SELECT tableoid::regclass::text AS part FROM mining_events WHERE event_id = ${eventId}`;
  return row === undefined ? undefined : String(row.part);
}

Deno.test({
  name: "retention drops old partitions; queries stay correct across the boundary",
  ...SLOW,
  async fn(t) {
    const pg = await startPostgres();
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    const stores: PostgresStore[] = [];
    let databases = 0;
    /** A freshly migrated database with partitions from `back` days ago to 2 days ahead. */
    const freshStore = async (back: number): Promise<PostgresStore> => {
      const name = `r_${++databases}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      const store = new PostgresStore(pg.urlFor(name), { maxConnections: 2 });
      stores.push(store);
      await migrate(store.sql, silent);
      await store.sql`SELECT tbg_ensure_partitions(2, ${back}::int)`;
      return store;
    };
    try {
      await t.step("old days go; shares, hourly totals and redeliveries stay right", async () => {
        const store = await freshStore(5);
        const sql = store.sql as unknown as postgres.Sql;
        const noon = (days: number) => dayStartMs(days) + 12 * HOUR_MS;
        const old = [share(ALICE, noon(-5)), share(ALICE, noon(-4)), share(BOB, noon(-4), false)];
        // Either side of yesterday's midnight: one window query must read both partitions.
        const lateYesterday = share(ALICE, dayStartMs(0) - 500);
        const earlyToday = share(ALICE, dayStartMs(0) + 500);
        const kept = [share(ALICE, noon(-3)), share(BOB, noon(-1)), lateYesterday, earlyToday];
        const all = [...old, ...kept];
        const seqs = new Map(all.map((e, i) => [e.event_id, i + 1]));
        const first = await store.write(all, seqs);
        assert.equal(first.insertedIds.size, all.length);
        // A batch leaves its summary counts as a delta (migration 006): fold it in now, so
        // worker_hourly and miners hold them before the partitions go.
        assert.ok(await store.foldSummaries() > 0, "the batch's summary delta folded");
        assert.equal(await partitionOf(sql, old[0]!.event_id), partitionName(noon(-5)));

        const hourly = () =>
          plain(sql`
            SELECT "user", hour, shares_accepted::int AS a, shares_rejected::int AS r
            FROM worker_hourly ORDER BY 1, 2`);
        const miners = () =>
          plain(sql`
            SELECT "user", shares_accepted::int AS a, shares_rejected::int AS r FROM miners
            ORDER BY 1`);
        const hourlyBefore = await hourly();
        const minersBefore = await miners();

        assert.equal(await store.dropPartitionsOlderThan(3), 2, "the days 5 and 4 days ago");
        const names = await partitions(sql);
        assert.ok(!names.includes(partitionName(noon(-5))), names.join());
        assert.ok(!names.includes(partitionName(noon(-4))), names.join());
        for (const day of [-3, -2, -1, 0, 1, 2]) {
          assert.ok(names.includes(partitionName(noon(day))), `${day}: ${names.join()}`);
        }
        assert.equal(await store.dropPartitionsOlderThan(3), 0, "nothing more to drop");

        // Raw events: exactly the kept ones, whatever the partition.
        const ids = await sql`SELECT event_id::text AS id FROM mining_events ORDER BY ts`;
        assert.deepEqual(ids.map((r) => r.id), kept.map((e) => e.event_id));

        // The dashboards' "shares of a user over time" (migration 002's view and index), over a
        // window that spans the dropped days, the kept days and midnight.
        const window = await sql`
          SELECT event_id::text AS id, accepted FROM shares
          WHERE "user" = ${ALICE} AND ts >= ${new Date(noon(-6))} AND ts < ${new Date(noon(1))}
          ORDER BY ts DESC LIMIT 100`;
        assert.deepEqual(
          window.map((r) => r.id),
          [earlyToday, lateYesterday, kept[0]!].map((e) => e.event_id),
        );
        const midnight = await sql`
          SELECT count(*)::int AS n FROM shares
          WHERE "user" = ${ALICE} AND ts >= ${new Date(dayStartMs(0) - 1000)}
            AND ts < ${new Date(dayStartMs(0) + 1000)}`;
        assert.equal(midnight[0]?.n, 2);
        // Counts of shares over a range (the partitions and BRIN on ts, migration 009).
        const [byType] = await sql`
          SELECT count(*)::int AS n FROM mining_events
          WHERE event_type = 'share_submitted' AND ts >= ${new Date(noon(-6))}`;
        assert.equal(byType?.n, kept.length);

        // The summaries outlive the raw events: dropping partitions changes none of them.
        assert.deepEqual(await hourly(), hourlyBefore);
        assert.deepEqual(await miners(), minersBefore);
        assert.ok(hourlyBefore.some((r) => (r as { hour: Date }).hour.getTime() === noon(-5)));

        // The collector's redelivery path reads stored rows by (event_id, ts) across partitions.
        const again = await store.write(kept, seqs);
        assert.equal(again.insertedIds.size, 0);
        assert.deepEqual(
          [...again.storedSeqs].sort(),
          kept.map((e) => [e.event_id, seqs.get(e.event_id)!] as const).sort(),
        );
        await assert.rejects(store.dropPartitionsOlderThan(0), /must be >= 1/);
      });

      await t.step("an event for a day without a partition is stored and moved later", async () => {
        const store = await freshStore(1);
        const sql = store.sql as unknown as postgres.Sql;
        const ahead = share(BOB, dayStartMs(10) + HOUR_MS);
        assert.ok(!(await partitions(sql)).includes(partitionName(dayStartMs(10))));
        assert.equal((await store.write([ahead])).insertedIds.size, 1);
        assert.equal(await partitionOf(sql, ahead.event_id), "mining_events_default");
        assert.equal(await store.ensurePartitions(11), true);
        assert.equal(await partitionOf(sql, ahead.event_id), partitionName(dayStartMs(10)));
        const [row] = await sql`SELECT count(*)::int AS n FROM shares WHERE "user" = ${BOB}`;
        assert.equal(row?.n, 1);
      });

      await t.step("retention gives up on a held lock and leaves inserts running", async () => {
        const store = await freshStore(5);
        const sql = store.sql as unknown as postgres.Sql;
        // A long reader (a dashboard query in a transaction) holds ACCESS SHARE on mining_events.
        const reader = postgres(pg.urlFor(`r_${databases}`), { max: 1, onnotice: () => {} });
        const release = Promise.withResolvers<void>();
        const holding = Promise.withResolvers<void>();
        const held = reader.begin(async (tx) => {
          await tx`SELECT count(*) FROM mining_events`;
          holding.resolve();
          await release.promise;
        });
        try {
          await holding.promise;
          await assert.rejects(store.dropPartitionsOlderThan(3), (error: unknown) => {
            assert.equal((error as { code?: string }).code, "55P03", String(error));
            return true;
          });
          assert.ok((await partitions(sql)).includes(partitionName(dayStartMs(-5))));
          // Not stuck behind a waiting DROP: the lock wait ended with the timeout.
          assert.equal((await store.write([share(ALICE, Date.now())])).insertedIds.size, 1);
        } finally {
          release.resolve();
          await held;
          await reader.end({ timeout: 5 });
        }
        assert.equal(await store.dropPartitionsOlderThan(3), 2);
      });

      await t.step(
        "the collector drops days older than retention_days when it starts",
        async () => {
          const store = await freshStore(9);
          const sql = store.sql as unknown as postgres.Sql;
          await store.write([share(ALICE, dayStartMs(-8) + HOUR_MS)]);
          const [nats, redis] = await Promise.all([
            startNatsServer({ jetstream: true }),
            startRedisServer(),
          ]);
          const log = new RingLog();
          try {
            const collector = await startCollector({
              config: validateConfig("collector", {
                nats_url: nats.url,
                postgres: { url: pg.urlFor(`r_${databases}`) },
                redis: { url: redis.url },
                metrics: { enabled: false },
                retention_days: 3,
              }, "storage-retention"),
              log,
              drainTimeoutMs: 2_000,
            });
            try {
              let names = await partitions(sql);
              for (let i = 0; i < 200 && names.includes(partitionName(dayStartMs(-4))); i++) {
                await new Promise((resolve) => setTimeout(resolve, 50));
                names = await partitions(sql);
              }
              for (let day = -9; day <= -4; day++) {
                assert.ok(!names.includes(partitionName(dayStartMs(day))), log.lines.join("\n"));
              }
              assert.ok(names.includes(partitionName(dayStartMs(-3))), names.join());
              assert.ok(names.includes(partitionName(dayStartMs(3))), "created 3 days ahead");
              assert.ok(log.lines.some((l) => /retention dropped.*"dropped":6,"days":3/.test(l)));
            } finally {
              await collector.stop();
            }
          } finally {
            await Promise.allSettled([nats.stop(), redis.stop()]);
          }
        },
      );
    } finally {
      for (const store of stores) await store.close();
      await admin.end({ timeout: 5 });
      await pg.stop();
    }
  },
});
