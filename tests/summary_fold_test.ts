/**
 * `summary_deltas` and `tbg_fold_summaries()` (migrations 006–008) against a real PostgreSQL:
 * what several batches written by `PostgresStore.write()` and folded leave in `miners` and
 * `worker_hourly`, field by field, and an upgrade that finds deltas of migration 006 unfolded.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { EventType, makeEvent, type MiningEvent } from "@tbg/shared/events";
import { MICROS_PER_HOUR } from "../collector/aggregates.ts";
import { connectEventAt, shareEventAt } from "../collector/_test_events.ts";
import { PostgresStore } from "../collector/postgres_store.ts";
import { migrate, MIGRATIONS } from "../tools/migrate.ts";
import { startPostgres } from "./support/servers/postgres_server.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false } as const;
const SILENT = { info: () => {}, warn: () => {} };
const USER = "bcrt1qfolduser0";
const HOUR = 1_716_555_600_000_000; // 2024-05-24T13:00:00Z
// Worker names a miner chooses: array-literal and COPY syntax must not change them.
const ODD_WORKER = 'a"b\\c,{d} NULL \t';

function at<T extends MiningEvent>(event: T, timestampUs: number): T {
  return { ...event, timestamp: timestampUs };
}

function share(
  worker: string,
  timestampUs: number,
  accepted: boolean,
  shareDiff: number,
  region = "eu",
): MiningEvent {
  return shareEventAt(USER, worker, timestampUs, accepted, shareDiff, region);
}

function connect(worker: string, timestampUs: number, agent: string): MiningEvent {
  return connectEventAt(USER, worker, timestampUs, agent);
}

function bestDiff(worker: string, timestampUs: number, best: number): MiningEvent {
  return at(
    makeEvent(EventType.ShareBestDiff, "eu", "stratum-eu-1", {
      user: USER,
      worker,
      best_diff: best,
      previous_best: 0,
      scope: "worker",
    }),
    timestampUs,
  );
}

function micros(date: Date | null): number | null {
  return date === null ? null : date.getTime() * 1000;
}

Deno.test({
  name: "tbg_fold_summaries() merges the deltas of several batches into miners and worker_hourly",
  ...SLOW,
  fn: async () => {
    const pg = await startPostgres();
    const store = new PostgresStore(pg.url);
    try {
      await migrate(store.sql, SILENT);
      // Batch 1 crosses an hour boundary; batch 2 is committed later but holds rig1's earliest
      // event, and rig1's latest event (in us, batch 2) sets the region; the latest connect of
      // rig1 is in batch 1.
      const batch1 = [
        share("rig1", HOUR + 10, true, 1000),
        share("rig1", HOUR + 20, false, 5),
        share("rig1", HOUR + MICROS_PER_HOUR + 1, true, 3000),
        connect("rig1", HOUR + 30, "bitaxe/2"),
        connect("idle", HOUR + 40, "cgminer/4"),
        share(ODD_WORKER, HOUR + 50, true, 77),
      ];
      const batch2 = [
        share("rig1", HOUR + 5, true, 2000),
        connect("rig1", HOUR + 6, "bitaxe/1"),
        share("rig1", HOUR + MICROS_PER_HOUR + 9, false, 1, "us"),
        bestDiff("rig1", HOUR + 7, 9999),
        share(ODD_WORKER, HOUR + 60, false, 1),
      ];
      await store.write(batch1);
      await store.write(batch2);
      // Written again (a redelivery): the idempotent path adds no delta.
      assert.equal((await store.write(batch2)).insertedIds.size, 0);
      assert.equal(await store.foldSummaries(), 2, "two deltas, one per batch of new events");
      assert.equal(await store.foldSummaries(), 0, "nothing left to fold");

      const miners = await store.sql`
        SELECT worker, first_seen, last_seen, last_share_at, shares_accepted::int AS a,
          shares_rejected::int AS r, best_diff AS b, user_agent AS g, region AS n
        FROM miners ORDER BY worker`;
      const row = (worker: string) => {
        const m = miners.find((x) => x.worker === worker);
        assert.ok(m !== undefined, `miners row of ${JSON.stringify(worker)}`);
        return {
          f: micros(m.first_seen),
          l: micros(m.last_seen),
          s: micros(m.last_share_at),
          a: m.a,
          r: m.r,
          b: m.b,
          g: m.g,
          n: m.n,
        };
      };
      assert.equal(miners.length, 3);
      // Millisecond precision through Date; the microseconds are checked in SQL below.
      const ms = (us: number) => Math.floor(us / 1000) * 1000;
      assert.deepEqual(row("rig1"), {
        f: ms(HOUR + 5),
        l: ms(HOUR + MICROS_PER_HOUR + 9),
        s: ms(HOUR + MICROS_PER_HOUR + 9),
        a: 3,
        r: 2,
        b: 9999,
        g: "bitaxe/2",
        n: "us",
      });
      assert.deepEqual(row("idle"), {
        f: ms(HOUR + 40),
        l: ms(HOUR + 40),
        s: null,
        a: 0,
        r: 0,
        b: 0,
        g: "cgminer/4",
        n: "eu",
      });
      assert.deepEqual(row(ODD_WORKER), {
        f: ms(HOUR + 50),
        l: ms(HOUR + 60),
        s: ms(HOUR + 60),
        a: 1,
        r: 1,
        b: 77,
        g: null,
        n: "eu",
      });
      const [exact] = await store.sql`
        SELECT (extract(epoch FROM first_seen) * 1000000)::int8::text AS f,
          (extract(epoch FROM last_seen) * 1000000)::int8::text AS l
        FROM miners WHERE worker = 'rig1'`;
      assert.deepEqual({ ...exact }, {
        f: String(HOUR + 5),
        l: String(HOUR + MICROS_PER_HOUR + 9),
      });

      const hours = await store.sql`
        SELECT worker, hour, shares_accepted::int AS a, shares_rejected::int AS r,
          diff_accepted AS d, best_diff AS b
        FROM worker_hourly ORDER BY worker, hour`;
      assert.deepEqual(
        hours.map((h) => [h.worker, micros(h.hour), h.a, h.r, h.d, h.b]),
        [
          [ODD_WORKER, HOUR, 1, 1, 256, 77],
          ["rig1", HOUR, 2, 1, 512, 2000],
          ["rig1", HOUR + MICROS_PER_HOUR, 1, 1, 256, 3000],
        ],
        "no worker_hourly row for a worker without shares",
      );

      // A later fold adds to the rows: counts summed, maxima kept, the newer agent taken.
      await store.write([
        share("rig1", HOUR + 100, true, 10),
        connect("rig1", HOUR + 2 * MICROS_PER_HOUR, "bitaxe/3"),
      ]);
      assert.equal(await store.foldSummaries(), 1);
      const [rig1] = await store.sql`
        SELECT shares_accepted::int AS a, best_diff AS b, user_agent AS g, region AS n,
          last_seen FROM miners WHERE worker = 'rig1'`;
      assert.deepEqual({ ...rig1, last_seen: micros(rig1!.last_seen) }, {
        a: 4,
        b: 9999,
        g: "bitaxe/3",
        n: "eu",
        last_seen: ms(HOUR + 2 * MICROS_PER_HOUR),
      });
      const [hour] = await store.sql`
        SELECT shares_accepted::int AS a, diff_accepted AS d, best_diff AS b FROM worker_hourly
        WHERE worker = 'rig1' AND hour = ${new Date(HOUR / 1000)}`;
      assert.deepEqual({ ...hour }, { a: 3, d: 768, b: 2000 });
    } finally {
      await store.close();
      await pg.stop();
    }
  },
});

Deno.test({
  name: "migration 007 folds the JSON deltas migration 006 left before replacing the table",
  ...SLOW,
  fn: async () => {
    const pg = await startPostgres();
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const upTo006 = MIGRATIONS.filter((m) => m.version < "007");
      assert.equal(upTo006.at(-1)?.version, "006_summary_deltas");
      await migrate(sql, SILENT, upTo006);
      const miners = JSON.stringify([{
        u: USER,
        w: "rig1",
        f: HOUR,
        l: HOUR + 10,
        s: HOUR + 10,
        a: 2,
        r: 1,
        b: 500,
        g: "bitaxe/1",
        ut: HOUR,
        n: "eu",
      }]);
      const hours = JSON.stringify([{ u: USER, w: "rig1", h: HOUR, a: 2, r: 1, d: 512, b: 500 }]);
      await sql`INSERT INTO summary_deltas (miners, hours) VALUES (${miners}, ${hours})`;
      const result = await migrate(sql, SILENT);
      assert.deepEqual(result.applied, MIGRATIONS.slice(upTo006.length).map((m) => m.version));
      const [m] = await sql`SELECT shares_accepted::int AS a, shares_rejected::int AS r,
        best_diff AS b, user_agent AS g FROM miners`;
      assert.deepEqual({ ...m }, { a: 2, r: 1, b: 500, g: "bitaxe/1" });
      const [h] =
        await sql`SELECT shares_accepted::int AS a, diff_accepted AS d FROM worker_hourly`;
      assert.deepEqual({ ...h }, { a: 2, d: 512 });
      const [left] = await sql`SELECT count(*)::int AS n FROM summary_deltas`;
      assert.equal(left?.n, 0, "the new table starts empty");
    } finally {
      await sql.end({ timeout: 5 });
      await pg.stop();
    }
  },
});
