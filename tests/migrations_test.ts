/**
 * The SQL schema (infra/sql/migrations) on a real PostgreSQL 15 without TimescaleDB, i.e. the
 * native-partitioning path. Run with:
 *
 *   deno test --allow-run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
 *     --allow-sys=uid tests/migrations_test.ts
 *
 * (`deno task test` grants all of these.) Needs the Debian package "postgresql"; fails, never
 * skips, without it. Each step gets its own freshly migrated database on one server.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { v7 as uuidv7 } from "uuid";
import { transaction } from "@tbg/shared/postgres";
import { migrate, type MigrationLogger, MIGRATIONS } from "../tools/migrate.ts";
import { startPostgres } from "./support/servers/postgres_server.ts";

type Sql = postgres.Sql;

const silent: MigrationLogger = { info() {}, warn() {} };
const DAY_MS = 86_400_000;

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
}

interface EventRow {
  event_id: string;
  event_type: string;
  region: string;
  source: string;
  ts: Date;
  payload: Record<string, unknown>;
}

function shareEvent(user: string, ts: Date, overrides: Record<string, unknown> = {}): EventRow {
  return {
    event_id: uuidv7(),
    event_type: "share_submitted",
    region: "eu",
    source: "stratum-eu-1",
    ts,
    payload: {
      user,
      worker: "rig1",
      session_id: "0a1b2c3d",
      job_id: "6f",
      share_diff: 1234.5,
      pool_diff: 1024,
      accepted: true,
      block_candidate: false,
      ...overrides,
    },
  };
}

/** The collector's write: idempotent, returning the ids that were new. */
async function insertEvents(sql: Sql, rows: readonly EventRow[]): Promise<string[]> {
  const inserted = await sql`
    INSERT INTO mining_events (event_id, event_type, region, source, ts, payload)
    SELECT * FROM unnest(
      ${sql.array(rows.map((r) => r.event_id))}::uuid[],
      ${sql.array(rows.map((r) => r.event_type))}::text[],
      ${sql.array(rows.map((r) => r.region))}::text[],
      ${sql.array(rows.map((r) => r.source))}::text[],
      ${sql.array(rows.map((r) => r.ts.toISOString()))}::timestamptz[],
      ${sql.array(rows.map((r) => JSON.stringify(r.payload)))}::jsonb[])
    ON CONFLICT DO NOTHING
    RETURNING event_id`;
  return inserted.map((r) => String(r.event_id));
}

/** Noon UTC today: plans of windows ending then stay in one day's partition. */
function todayNoonMs(): number {
  const noon = new Date();
  noon.setUTCHours(12, 0, 0, 0);
  return noon.getTime();
}

/** Inserts rows 5,000 at a time (one statement's parameters), then refreshes the statistics. */
async function insertInBatches(sql: Sql, rows: readonly EventRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5_000) await insertEvents(sql, rows.slice(i, i + 5_000));
  await sql`ANALYZE mining_events`;
}

/** A partitioned index and every partition's index attached to it (theirs get generated names). */
async function indexTree(sql: Sql, parent: string): Promise<string[]> {
  const rows = await sql`
    WITH RECURSIVE tree(oid) AS (
      SELECT ${parent}::regclass::oid
      UNION ALL
      SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
    SELECT oid::regclass::text AS name FROM tree`;
  return rows.map((r) => String(r.name));
}

/** Whether a plan names one of the indexes. */
function usesIndex(plan: string, names: readonly string[]): boolean {
  return names.some((name) => plan.includes(` ${name} `));
}

async function partitionOf(sql: Sql, eventId: string): Promise<string> {
  const [row] = await sql`
    SELECT tableoid::regclass::text AS part FROM mining_events WHERE event_id = ${eventId}`;
  assert.ok(row !== undefined, `event ${eventId} not stored`);
  return String(row.part);
}

Deno.test({
  name: "migrations on PostgreSQL without TimescaleDB",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const pg = await startPostgres();
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    const clients: Sql[] = [];
    let databases = 0;
    const freshDatabase = async (): Promise<Sql> => {
      const name = `m_${++databases}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      const sql = postgres(pg.urlFor(name), { max: 2, onnotice: () => {} });
      clients.push(sql);
      await migrate(sql, silent);
      return sql;
    };

    try {
      await t.step(
        "migrate() applies every migration to a fresh database, then nothing",
        async () => {
          await admin.unsafe("CREATE DATABASE fresh");
          const sql = postgres(pg.urlFor("fresh"), { max: 2, onnotice: () => {} });
          clients.push(sql);
          const logged: unknown[] = [];
          const log: MigrationLogger = {
            info: (message, properties) => logged.push({ message, ...properties }),
            warn: (message) => assert.fail(`unexpected warning: ${message}`),
          };
          const first = await migrate(sql, log);
          assert.deepEqual(first.applied, MIGRATIONS.map((m) => m.version));
          assert.deepEqual(first.alreadyApplied, []);
          assert.equal(logged.length, MIGRATIONS.length);

          const second = await migrate(sql, log);
          assert.deepEqual(second.applied, []);
          assert.deepEqual(second.alreadyApplied, MIGRATIONS.map((m) => m.version));
          assert.equal(logged.length, MIGRATIONS.length);

          const recorded = await sql`SELECT version FROM schema_migrations ORDER BY version`;
          assert.deepEqual(recorded.map((r) => r.version), MIGRATIONS.map((m) => m.version));
          const [mode] = await sql`SELECT tbg_storage_mode() AS mode`;
          assert.equal(mode?.mode, "native");
          for (const table of ["mining_events", "blocks", "miners", "worker_hourly"]) {
            const [row] = await sql`SELECT to_regclass(${table}) IS NOT NULL AS present`;
            assert.equal(row?.present, true, table);
          }
        },
      );

      await t.step("a failing migration rolls back entirely and is not recorded", async () => {
        const sql = await freshDatabase();
        const broken = [...MIGRATIONS, {
          version: "999_broken",
          sql: "CREATE TABLE half_done (n int); SELECT no_such_function();",
        }];
        await assert.rejects(migrate(sql, silent, broken), /no_such_function/);
        const [row] = await sql`
          SELECT to_regclass('half_done') IS NULL AS gone,
                 (SELECT count(*)::int FROM schema_migrations WHERE version = '999_broken') AS n`;
        assert.deepEqual({ ...row }, { gone: true, n: 0 });
      });

      await t.step(
        "mining_events takes today, tomorrow after tbg_ensure_partitions(2), and far dates in DEFAULT",
        async () => {
          const sql = await freshDatabase();
          const [ensured] = await sql`SELECT tbg_ensure_partitions(2) AS created`;
          assert.equal(ensured?.created, 0, "the migration already made 7 days ahead");
          const now = Date.now();
          const today = shareEvent("bc1qtoday", new Date(now));
          const tomorrow = shareEvent("bc1qtomorrow", new Date(now + DAY_MS));
          const past = shareEvent("bc1qpast", new Date("2001-02-03T04:05:06Z"));
          const future = shareEvent("bc1qfuture", new Date("2101-02-03T04:05:06Z"));
          const inserted = await insertEvents(sql, [today, tomorrow, past, future]);
          assert.equal(inserted.length, 4);
          assert.equal(await partitionOf(sql, today.event_id), `mining_events_p${utcDay(now)}`);
          assert.equal(
            await partitionOf(sql, tomorrow.event_id),
            `mining_events_p${utcDay(now + DAY_MS)}`,
          );
          assert.equal(await partitionOf(sql, past.event_id), "mining_events_default");
          assert.equal(await partitionOf(sql, future.event_id), "mining_events_default");
        },
      );

      await t.step("tbg_ensure_partitions() moves a new day's rows out of DEFAULT", async () => {
        const sql = await freshDatabase();
        const ts = Date.now() + 10 * DAY_MS;
        const early = shareEvent("bc1qearly", new Date(ts));
        await insertEvents(sql, [early]);
        assert.equal(await partitionOf(sql, early.event_id), "mining_events_default");

        const [created] = await sql`SELECT tbg_ensure_partitions(10) AS n`;
        assert.equal(created?.n, 3, "days 8, 9 and 10 ahead");
        assert.equal(await partitionOf(sql, early.event_id), `mining_events_p${utcDay(ts)}`);
        const [again] = await sql`SELECT tbg_ensure_partitions(10) AS n`;
        assert.equal(again?.n, 0);
        await assert.rejects(sql`SELECT tbg_ensure_partitions(-1)`, /must be >= 0/);
      });

      await t.step(
        "tbg_drop_partitions_older_than() drops whole old days and old DEFAULT rows",
        async () => {
          const sql = await freshDatabase();
          const now = Date.now();
          await sql`SELECT tbg_ensure_partitions(0, 5)`;
          const old = shareEvent("bc1qold", new Date(now - 4 * DAY_MS));
          const ancient = shareEvent("bc1qancient", new Date("2001-02-03T04:05:06Z"));
          const recent = shareEvent("bc1qrecent", new Date(now));
          await insertEvents(sql, [old, ancient, recent]);

          const [dropped] = await sql`SELECT tbg_drop_partitions_older_than(3) AS n`;
          assert.equal(dropped?.n, 2, "the days 5 and 4 days ago");
          const parts = await sql`
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'mining_events'::regclass`;
          const names = parts.map((r) => String(r.relname));
          assert.ok(!names.includes(`mining_events_p${utcDay(now - 4 * DAY_MS)}`));
          assert.ok(names.includes(`mining_events_p${utcDay(now - 3 * DAY_MS)}`));
          assert.ok(names.includes("mining_events_default"));
          const left = await sql`SELECT payload->>'user' AS u FROM mining_events ORDER BY 1`;
          assert.deepEqual(left.map((r) => r.u), ["bc1qrecent"]);
          await assert.rejects(sql`SELECT tbg_drop_partitions_older_than(0)`, /must be >= 1/);
        },
      );

      await t.step(
        "INSERT … ON CONFLICT DO NOTHING RETURNING skips a duplicate event_id and ts",
        async () => {
          const sql = await freshDatabase();
          const first = shareEvent("bc1qdup", new Date());
          assert.deepEqual(await insertEvents(sql, [first]), [first.event_id]);
          assert.deepEqual(await insertEvents(sql, [first]), []);
          const fresh = shareEvent("bc1qdup", new Date());
          assert.deepEqual(await insertEvents(sql, [first, fresh]), [fresh.event_id]);
          const [count] = await sql`SELECT count(*)::int AS n FROM mining_events`;
          assert.equal(count?.n, 2);
        },
      );

      await t.step("the shares view exposes typed columns of share_submitted only", async () => {
        const sql = await freshDatabase();
        const accepted = shareEvent("bc1qtyped", new Date("2026-01-02T03:04:05.678Z"));
        const rejected = shareEvent("bc1qtyped", new Date(), {
          accepted: false,
          reject_reason: "stale",
          share_diff: 0.5,
          block_candidate: true,
        });
        const other: EventRow = {
          ...shareEvent("bc1qtyped", new Date()),
          event_type: "hashrate_update",
          payload: { user: "bc1qtyped", worker: "rig1", hashrate_1m: 1e12 },
        };
        await insertEvents(sql, [accepted, rejected, other]);

        const rows = await sql`
          SELECT "user", worker, session_id, job_id, share_diff, pool_diff, accepted,
                 reject_reason, block_candidate, region, ts, event_id
          FROM shares ORDER BY ts`;
        assert.equal(rows.length, 2);
        assert.deepEqual({ ...rows[0] }, {
          user: "bc1qtyped",
          worker: "rig1",
          session_id: "0a1b2c3d",
          job_id: "6f",
          share_diff: 1234.5,
          pool_diff: 1024,
          accepted: true,
          reject_reason: null,
          block_candidate: false,
          region: "eu",
          ts: new Date("2026-01-02T03:04:05.678Z"),
          event_id: accepted.event_id,
        });
        assert.equal(rows[1]?.reject_reason, "stale");
        assert.equal(rows[1]?.accepted, false);
        assert.equal(rows[1]?.block_candidate, true);

        const columns = await sql`
          SELECT column_name, data_type FROM information_schema.columns
          WHERE table_name = 'shares' ORDER BY ordinal_position`;
        assert.deepEqual(
          Object.fromEntries(columns.map((c) => [c.column_name, c.data_type])),
          {
            user: "text",
            worker: "text",
            session_id: "text",
            job_id: "text",
            share_diff: "double precision",
            pool_diff: "double precision",
            accepted: "boolean",
            reject_reason: "text",
            block_candidate: "boolean",
            region: "text",
            ts: "timestamp with time zone",
            event_id: "uuid",
          },
        );
      });

      await t.step("the dashboard indexes exist", async () => {
        const sql = await freshDatabase();
        const rows = await sql`
          SELECT tablename, indexname, indexdef FROM pg_indexes
          WHERE schemaname = current_schema()
            AND tablename IN ('mining_events', 'blocks', 'miners', 'worker_hourly')`;
        const defs = new Map(rows.map((r) => [String(r.indexname), String(r.indexdef)]));
        const expected: Record<string, RegExp> = {
          mining_events_pkey: /ON ONLY public\.mining_events USING btree \(event_id, ts\)/,
          mining_events_rare_type_ts_idx:
            /USING btree \(event_type, ts DESC\) WHERE \(event_type <> 'share_submitted'::text\)/,
          mining_events_ts_brin:
            /ON ONLY public\.mining_events USING brin \(ts\) WITH \(pages_per_range='32'\)/,
          mining_events_share_user_ts_idx:
            /USING btree \(\(\(payload ->> 'user'::text\)\), ts DESC\) WHERE \(event_type = 'share_submitted'::text\)/,
          blocks_pkey: /ON public\.blocks USING btree \(hash\)/,
          blocks_event_id_key:
            /UNIQUE INDEX blocks_event_id_key ON public\.blocks USING btree \(event_id\)/,
          blocks_found_at_idx: /ON public\.blocks USING btree \(found_at DESC\)/,
          miners_pkey: /ON public\.miners USING btree \("user", worker\)/,
          worker_hourly_pkey: /ON public\.worker_hourly USING btree \("user", worker, hour\)/,
        };
        for (const [name, pattern] of Object.entries(expected)) {
          const def = defs.get(name);
          assert.ok(def !== undefined, `index ${name} missing; have ${[...defs.keys()]}`);
          assert.match(def, pattern);
        }
        // Migration 008: every fold changes last_seen, so an index on it made every miners
        // update write index entries; the summary tables leave room for in-place updates.
        assert.equal(defs.has("miners_last_seen_idx"), false, "miners_last_seen_idx dropped");
        // Migration 009: shares, 95% of the rows, have no entry in the (event_type, ts) index.
        assert.equal(defs.has("mining_events_type_ts_idx"), false, "type_ts index replaced");
        const options = await sql`
          SELECT relname, reloptions FROM pg_class
          WHERE relname IN ('miners', 'worker_hourly') AND relnamespace = current_schema()::regnamespace
          ORDER BY relname`;
        assert.deepEqual(
          options.map((r) => [r.relname, r.reloptions]),
          [["miners", ["fillfactor=70"]], ["worker_hourly", ["fillfactor=70"]]],
        );
      });

      await t.step(
        "EXPLAIN of a user's shares over time uses the (user, ts) expression index",
        async () => {
          const sql = await freshDatabase();
          // Anchored at noon UTC, not now: a window ending just after midnight holds a few
          // minutes of the previous day's partition, and there the BRIN index on ts is the
          // planner's right choice, so the plan would depend on the time of day.
          const anchor = todayNoonMs();
          const rows: EventRow[] = [];
          for (let i = 0; i < 20_000; i++) {
            rows.push(shareEvent(`bc1quser${i % 200}`, new Date(anchor - (i % 40) * 3_600_000)));
          }
          await insertInBatches(sql, rows);
          const indexNames = await indexTree(sql, "mining_events_share_user_ts_idx");
          assert.ok(indexNames.length > 2);

          const plan = await transaction(sql, async (tx) => {
            await tx`SET LOCAL enable_seqscan = off`;
            const lines = await tx`
              EXPLAIN SELECT ts, share_diff, accepted FROM shares
              WHERE "user" = ${"bc1quser7"} AND ts >= ${new Date(anchor - 6 * 3_600_000)}
                AND ts <= ${new Date(anchor)}
              ORDER BY ts DESC LIMIT 100`;
            return lines.map((r) => String(r["QUERY PLAN"])).join("\n");
          });
          assert.ok(usesIndex(plan, indexNames), `expected one of ${indexNames} in:\n${plan}`);
          assert.doesNotMatch(plan, /_ts_brin|_rare_type_ts_idx|_event_type_ts_idx/);
          assert.doesNotMatch(plan, /Seq Scan/);
        },
      );

      await t.step(
        "EXPLAIN: a rare type by time uses the partial index, shares of a window the BRIN index",
        async () => {
          const sql = await freshDatabase();
          const anchor = todayNoonMs();
          const rows: EventRow[] = [];
          for (let i = 0; i < 20_000; i++) {
            const ts = new Date(anchor - (20_000 - i) * 1_000); // one a second until noon
            if (i % 20 === 0) {
              rows.push({
                event_id: uuidv7(),
                event_type: "miner_connected",
                region: "eu",
                source: "stratum-eu-1",
                ts,
                payload: { user: `bc1quser${i % 200}`, worker: "rig1" },
              });
            } else rows.push(shareEvent(`bc1quser${i % 200}`, ts));
          }
          await insertInBatches(sql, rows);
          const explain = (query: string, since: Date) =>
            transaction(sql, async (tx) => {
              await tx`SET LOCAL enable_seqscan = off`;
              const lines = await tx.unsafe(`EXPLAIN ${query}`, [since]);
              return lines.map((r) => String(r["QUERY PLAN"])).join("\n");
            });

          const connects = await explain(
            `SELECT ts, payload FROM mining_events
             WHERE event_type = 'miner_connected' AND ts >= $1 ORDER BY ts DESC LIMIT 50`,
            new Date(anchor - 3_600_000),
          );
          const rare = await indexTree(sql, "mining_events_rare_type_ts_idx");
          assert.ok(usesIndex(connects, rare), `expected one of ${rare} in:\n${connects}`);
          assert.doesNotMatch(connects, /Seq Scan/);

          const window = await explain(
            "SELECT count(*) FROM shares WHERE ts > $1 AND NOT accepted",
            new Date(anchor - 15 * 60_000),
          );
          const brin = await indexTree(sql, "mining_events_ts_brin");
          assert.ok(usesIndex(window, brin), `expected one of ${brin} in:\n${window}`);
          assert.match(window, /Bitmap Index Scan/);
          assert.doesNotMatch(window, /Seq Scan/);

          // The answers are the rows, whichever index finds them.
          const [counted] = await sql`
            SELECT
              (SELECT count(*)::int FROM mining_events
               WHERE event_type = 'miner_connected' AND ts >= ${new Date(anchor - 3_600_000)})
                AS connects,
              (SELECT count(*)::int FROM shares WHERE ts > ${new Date(anchor - 15 * 60_000)})
                AS shares`;
          const since = (ms: number, type: string, inclusive: boolean) =>
            rows.filter((r) =>
              r.event_type === type &&
              (inclusive ? r.ts.getTime() >= ms : r.ts.getTime() > ms)
            ).length;
          assert.deepEqual(counted, {
            connects: since(anchor - 3_600_000, "miner_connected", true),
            shares: since(anchor - 15 * 60_000, "share_submitted", false),
          });
        },
      );

      await t.step(
        "blocks, miners and worker_hourly take the collector's idempotent writes",
        async () => {
          const sql = await freshDatabase();
          const block = {
            hash: "00".repeat(32),
            height: 101,
            user: "bc1qwinner",
            worker: "rig1",
            reward_sats: 312_500_000,
            region: "eu",
            accepted: true,
            found_at: new Date(),
            event_id: uuidv7(),
          };
          const insertBlock = () =>
            sql`
            INSERT INTO blocks ${sql(block)} ON CONFLICT DO NOTHING RETURNING hash`;
          assert.equal((await insertBlock()).length, 1);
          assert.equal((await insertBlock()).length, 0);

          const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
          const addHour = (accepted: number, diff: number, best: number) =>
            sql`
            INSERT INTO worker_hourly ("user", worker, hour, shares_accepted, diff_accepted, best_diff)
            VALUES ('bc1qwinner', 'rig1', ${hour}, ${accepted}, ${diff}, ${best})
            ON CONFLICT ("user", worker, hour) DO UPDATE SET
              shares_accepted = worker_hourly.shares_accepted + EXCLUDED.shares_accepted,
              diff_accepted = worker_hourly.diff_accepted + EXCLUDED.diff_accepted,
              best_diff = greatest(worker_hourly.best_diff, EXCLUDED.best_diff)`;
          await addHour(3, 3072, 5000);
          await addHour(2, 2048, 4000);
          const [totals] = await sql`
          SELECT shares_accepted::int AS n, diff_accepted AS d, best_diff AS b FROM worker_hourly`;
          assert.deepEqual({ ...totals }, { n: 5, d: 5120, b: 5000 });
          await assert.rejects(
            sql`INSERT INTO worker_hourly ("user", worker, hour)
              VALUES ('bc1qwinner', 'rig1', ${new Date(hour.getTime() + 60_000)})`,
            /worker_hourly_hour_check/,
          );

          await sql`
          INSERT INTO miners ("user", worker, first_seen, last_seen, user_agent, region)
          VALUES ('bc1qwinner', '', now(), now(), 'bitaxe/2.4', 'eu')`;
          const [miner] = await sql`SELECT shares_accepted::int AS a, best_diff AS b FROM miners`;
          assert.deepEqual({ ...miner }, { a: 0, b: 0 });
        },
      );
    } finally {
      for (const client of clients) await client.end({ timeout: 5 });
      await admin.end({ timeout: 5 });
      await pg.stop();
    }
  },
});
