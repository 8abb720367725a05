/**
 * The backup procedures of infra/backup/ run for real: a logical dump restored into a fresh
 * database, a base backup plus archived WAL recovered to a point in time, and a Redis RDB
 * snapshot loaded by a new redis-server. Run with:
 *
 *   deno test --allow-run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
 *     --allow-sys=uid tests/backup_restore_test.ts
 *
 * (`deno task test` grants all of these.) Needs the Debian packages "postgresql" and
 * "redis-server" (with redis-tools) and bash; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Redis } from "ioredis";
import { v7 as uuidv7 } from "uuid";
import { migrate, type MigrationLogger } from "../tools/migrate.ts";
import { pickFreePort } from "./support/servers/nats_server.ts";
import { type PostgresServerHandle, startPostgres } from "./support/servers/postgres_server.ts";

const BACKUP_DIR = fileURLToPath(new URL("../infra/backup/", import.meta.url));
const silent: MigrationLogger = { info() {}, warn() {} };
const DAY_MS = 86_400_000;
const TABLES = ["mining_events", "blocks", "miners", "worker_hourly", "schema_migrations"];

interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function runScript(script: string, args: readonly string[]): Promise<ScriptResult> {
  const output = await new Deno.Command("bash", {
    args: [`${BACKUP_DIR}${script}`, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function runOk(script: string, args: readonly string[]): Promise<string> {
  const result = await runScript(script, args);
  assert.equal(result.code, 0, `${script} failed:\n${result.stderr}`);
  const lines = result.stdout.trim().split("\n");
  const last = lines[lines.length - 1];
  assert.ok(last !== undefined && last !== "", `${script} printed no path`);
  return last;
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

async function assertChecksumFile(path: string): Promise<void> {
  const sidecar = await Deno.readTextFile(`${path}.sha256`);
  const name = path.slice(path.lastIndexOf("/") + 1);
  assert.equal(sidecar, `${await sha256File(path)}  ${name}\n`);
}

function event(tag: string, ts: Date, user: string): Record<string, unknown> {
  return {
    event_id: uuidv7(),
    event_type: "share_submitted",
    region: "eu",
    source: "stratum-eu-1",
    ts,
    payload: JSON.stringify({
      user,
      worker: "rig1",
      session_id: "0a1b",
      job_id: "1",
      share_diff: 2048,
      pool_diff: 1024,
      accepted: true,
      block_candidate: false,
      tag,
    }),
  };
}

async function insertEvents(sql: postgres.Sql, rows: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 2_000) {
    const chunk = rows.slice(i, i + 2_000);
    await sql`
      INSERT INTO mining_events (event_id, event_type, region, source, ts, payload)
      SELECT * FROM unnest(
        ${sql.array(chunk.map((r) => String(r.event_id)))}::uuid[],
        ${sql.array(chunk.map((r) => String(r.event_type)))}::text[],
        ${sql.array(chunk.map((r) => String(r.region)))}::text[],
        ${sql.array(chunk.map((r) => String(r.source)))}::text[],
        ${sql.array(chunk.map((r) => (r.ts as Date).toISOString()))}::timestamptz[],
        ${sql.array(chunk.map((r) => String(r.payload)))}::jsonb[])
      ON CONFLICT DO NOTHING`;
  }
}

/** Rows spread over today, yesterday and the DEFAULT partition, plus the three small tables. */
async function seed(sql: postgres.Sql): Promise<void> {
  const now = Date.now();
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < 6_000; i++) {
    const ts = i % 3 === 0
      ? new Date(now - (i % 7) * 60_000)
      : i % 3 === 1
      ? new Date(now - DAY_MS - (i % 11) * 60_000)
      : new Date(Date.UTC(2001, 0, 1) + i * 1_000);
    rows.push(event("seed", ts, `bc1quser${i % 50}`));
  }
  await insertEvents(sql, rows);
  for (let i = 0; i < 3; i++) {
    await sql`
      INSERT INTO blocks (hash, height, "user", worker, reward_sats, region, accepted, found_at, event_id)
      VALUES (${i.toString(16).padStart(64, "0")}, ${100 + i}, 'bc1quser1', 'rig1', 312500000, 'eu',
              ${i !== 2}, now(), ${uuidv7()})`;
  }
  await sql`
    INSERT INTO miners ("user", worker, first_seen, last_seen, shares_accepted, best_diff, region)
    SELECT 'bc1quser' || n, 'rig1', now() - interval '1 day', now(), n * 10, n * 1.5, 'eu'
    FROM generate_series(0, 49) AS n`;
  await sql`
    INSERT INTO worker_hourly ("user", worker, hour, shares_accepted, diff_accepted, best_diff)
    SELECT 'bc1quser' || (n % 50), 'rig1', date_trunc('hour', now(), 'UTC') - (n / 50) * interval '1 hour',
           n, n * 1024.0, n * 2.0
    FROM generate_series(0, 199) AS n`;
}

interface Snapshot {
  counts: Record<string, number>;
  eventIdsMd5: string;
  perPartition: Record<string, number>;
}

async function snapshot(sql: postgres.Sql): Promise<Snapshot> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await sql.unsafe(`SELECT count(*)::int AS n FROM ${table}`);
    counts[table] = Number(row?.n);
  }
  const [ids] = await sql`
    SELECT md5(string_agg(event_id::text || '@' || ts::text, ',' ORDER BY event_id, ts)) AS digest
    FROM mining_events`;
  const parts = await sql`
    SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM mining_events GROUP BY 1`;
  return {
    counts,
    eventIdsMd5: String(ids?.digest),
    perPartition: Object.fromEntries(parts.map((r) => [String(r.part), Number(r.n)])),
  };
}

Deno.test({
  name: "pg_backup.sh and pg_restore.sh round-trip every table into a fresh database",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    const backups = await Deno.makeTempDir({ prefix: "tbg-pg-dumps-" });
    const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    let restored: postgres.Sql | undefined;
    try {
      await migrate(sql, silent);
      await seed(sql);
      const before = await snapshot(sql);
      assert.equal(before.counts.mining_events, 6_000);
      assert.equal(Object.keys(before.perPartition).length, 3);

      const common = ["--url", pg.url, "--out", backups, "--pg-bin", pg.binDir];
      const dump = await runOk("pg_backup.sh", [...common, "--keep", "2"]);
      assert.match(dump, new RegExp(`^${backups}/tbg-\\d{8}T\\d{6}\\.\\d{3}Z\\.dump$`));
      await assertChecksumFile(dump);

      await sql`CREATE DATABASE restored`;
      const restoredName = await runOk("pg_restore.sh", [
        "--url",
        pg.urlFor("restored"),
        "--file",
        dump,
        "--pg-bin",
        pg.binDir,
      ]);
      assert.equal(restoredName, "restored");
      restored = postgres(pg.urlFor("restored"), { max: 2, onnotice: () => {} });
      assert.deepEqual(await snapshot(restored), before);

      // The restored database is a working one: schema recorded, functions and indexes present.
      assert.deepEqual((await migrate(restored, silent)).applied, []);
      const [made] = await restored`SELECT tbg_ensure_partitions(9) AS n`;
      assert.equal(made?.n, 2);
      const [indexes] = await restored`
        SELECT count(*)::int AS n FROM pg_indexes
        WHERE indexname IN ('mining_events_share_user_ts_idx', 'blocks_found_at_idx', 'worker_hourly_hour_idx')`;
      assert.equal(indexes?.n, 3);

      const again = await runScript("pg_restore.sh", [
        "--url",
        pg.urlFor("restored"),
        "--file",
        dump,
        "--pg-bin",
        pg.binDir,
      ]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already holds \d+ relations; restore into a new, empty database/);

      const corrupt = `${backups}/corrupt.dump`;
      const bytes = await Deno.readFile(dump);
      await Deno.writeTextFile(`${corrupt}.sha256`, `${await sha256File(dump)}  corrupt.dump\n`);
      bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
      await Deno.writeFile(corrupt, bytes);
      await sql`CREATE DATABASE restored_corrupt`;
      const bad = await runScript("pg_restore.sh", [
        "--url",
        pg.urlFor("restored_corrupt"),
        "--file",
        corrupt,
        "--pg-bin",
        pg.binDir,
      ]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /checksum mismatch/);

      await runOk("pg_backup.sh", [...common, "--keep", "2"]);
      const newest = await runOk("pg_backup.sh", [...common, "--keep", "2"]);
      const kept: string[] = [];
      for await (const entry of Deno.readDir(backups)) {
        if (/^tbg-.*\.dump$/.test(entry.name)) kept.push(entry.name);
      }
      assert.equal(kept.length, 2, `retention kept ${kept.join(", ")}`);
      assert.ok(kept.includes(newest.slice(backups.length + 1)));
      assert.ok(!kept.includes(dump.slice(backups.length + 1)), "the oldest dump was pruned");

      const usage = await runScript("pg_backup.sh", ["--out", backups]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--url must be a postgres:\/\/ URL\nusage: pg_backup\.sh/);
    } finally {
      await restored?.end({ timeout: 5 });
      await sql.end({ timeout: 5 });
      await pg.stop();
      await Deno.remove(backups, { recursive: true });
    }
  },
});

async function ownerOf(path: string): Promise<{ uid: number; gid: number }> {
  const info = await Deno.stat(path);
  assert.ok(info.uid !== null && info.gid !== null);
  return { uid: info.uid, gid: info.gid };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test({
  name: "pg_basebackup.sh plus archived WAL recovers the database to a point in time",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres({ settings: { archive_mode: "on" } });
    const backups = await Deno.makeTempDir({ prefix: "tbg-pg-base-" });
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    let recovered: PostgresServerHandle | undefined;
    let check: postgres.Sql | undefined;
    try {
      // The archive lives in the server's own directory, which belongs to the server's OS user.
      const archive = `${pg.dir}/wal_archive`;
      await Deno.mkdir(archive, { mode: 0o700 });
      const owner = await ownerOf(pg.dir);
      await Deno.chown(archive, owner.uid, owner.gid);
      await sql.unsafe(
        `ALTER SYSTEM SET archive_command = 'test ! -f ${archive}/%f && cp %p ${archive}/%f'`,
      );
      await sql`SELECT pg_reload_conf()`;

      await migrate(sql, silent);
      await insertEvents(
        sql,
        Array.from({ length: 100 }, () => event("base", new Date(), "bc1qa")),
      );
      const base = await runOk("pg_basebackup.sh", [
        "--url",
        pg.url,
        "--out",
        backups,
        "--format",
        "plain",
        "--pg-bin",
        pg.binDir,
      ]);
      assert.match(base, new RegExp(`^${backups}/base-\\d{8}T\\d{6}\\.\\d{3}Z$`));
      assert.ok((await Deno.stat(`${base}/backup_manifest`)).isFile);

      await insertEvents(
        sql,
        Array.from({ length: 100 }, () => event("before", new Date(), "bc1qa")),
      );
      const [target] = await sql`SELECT clock_timestamp()::text AS t`;
      await insertEvents(
        sql,
        Array.from({ length: 100 }, () => event("after", new Date(), "bc1qa")),
      );
      const [segment] = await sql`SELECT pg_walfile_name(pg_current_wal_lsn()) AS name`;
      await sql`SELECT pg_switch_wal()`;
      await waitFor("the WAL segment to be archived", async () => {
        const [row] = await sql`SELECT last_archived_wal AS name FROM pg_stat_archiver`;
        return row?.name !== null && String(row?.name) >= String(segment?.name);
      });

      await Deno.writeTextFile(`${base}/recovery.signal`, "");
      recovered = await startPostgres({
        fromBaseBackup: base,
        settings: {
          archive_mode: "off",
          restore_command: `cp ${archive}/%f %p`,
          recovery_target_time: String(target?.t),
          recovery_target_action: "promote",
        },
      });
      check = postgres(recovered.urlFor("tbg"), { max: 1, onnotice: () => {} });
      const client = check;
      await waitFor("recovery to finish and promote", async () => {
        const [row] = await client`SELECT pg_is_in_recovery() AS r`;
        return row?.r === false;
      });
      const tags = await check`
        SELECT payload->>'tag' AS tag, count(*)::int AS n FROM mining_events GROUP BY 1 ORDER BY 1`;
      assert.deepEqual(tags.map((r) => ({ ...r })), [
        { tag: "base", n: 100 },
        { tag: "before", n: 100 },
      ]);
      assert.match(await recovered.readLog(), /recovery stopping before commit of transaction/);
    } finally {
      await check?.end({ timeout: 5 });
      await sql.end({ timeout: 5 });
      await recovered?.stop();
      await pg.stop();
      await Deno.remove(backups, { recursive: true });
    }
  },
});

interface TestRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** redis-server in a directory this test owns (the shared launcher hides its directory). */
async function startRedisIn(dir: string): Promise<TestRedis> {
  const port = pickFreePort();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--dbfilename",
        "dump.rdb",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error('Cannot start redis-server: install the Debian package "redis-server"');
    }
    throw error;
  }
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(16);
      const n = await conn.read(buffer);
      conn.close();
      if (n !== null && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG")) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Cannot start redis-server on port ${port}: no PONG within 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { url: `redis://127.0.0.1:${port}`, stop };
}

/** A key's type, value and whether it expires, in a form that ignores encoding and order. */
async function canonical(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  let value: unknown;
  switch (type) {
    case "string":
      // As bytes: the settled record's chunks are bitmaps.
      value = (await redis.getBuffer(key))?.toString("hex");
      break;
    case "hash":
      value = Object.entries(await redis.hgetall(key)).sort();
      break;
    case "set":
      value = (await redis.smembers(key)).sort();
      break;
    case "list":
      value = await redis.lrange(key, 0, -1);
      break;
    case "zset":
      value = await redis.zrange(key, "0", "-1", "WITHSCORES");
      break;
    case "stream":
      value = await redis.xrange(key, "-", "+");
      break;
    default:
      assert.fail(`unexpected type ${type} of ${key}`);
  }
  const expires = (await redis.pttl(key)) > 0;
  return JSON.stringify({ type, value, expires });
}

async function dumpAll(redis: Redis): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "COUNT", 500);
    cursor = next;
    for (const key of keys) values.set(key, await canonical(redis, key));
  } while (cursor !== "0");
  return values;
}

Deno.test({
  name: "redis_backup.sh snapshot restored with redis_restore.sh gives a new server the same keys",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "tbg-redis-backup-" });
    await Deno.mkdir(`${work}/live`);
    await Deno.mkdir(`${work}/restored`);
    const live = await startRedisIn(`${work}/live`);
    let restoredServer: TestRedis | undefined;
    const source = new Redis(live.url, { maxRetriesPerRequest: 1 });
    let target: Redis | undefined;
    try {
      const pipeline = source.pipeline();
      for (let i = 0; i < 1_000; i++) {
        pipeline.hset(`tbg:worker:bc1quser${i}:rig1`, {
          last_share_at: String(1_700_000_000 + i),
          best_diff: String(i * 1.5),
          shares_accepted: String(i),
        });
      }
      pipeline.sadd("tbg:region:eu:connected", "0a1b", "0a1c", "0a1d");
      pipeline.rpush("tbg:blocks:recent", "block-1", "block-2");
      for (let i = 0; i < 50; i++) {
        pipeline.xadd("tbg:stream:share_submitted", "MAXLEN", "~", "1000", "*", "n", String(i));
      }
      // The collector's settled record (floor and a bitmap chunk) and a session tombstone.
      const settled = "tbg:settled:MINING_EVENTS:2026-12-07T00:00:00Z:mining.events.>:";
      pipeline.set(`${settled}floor`, "131075");
      for (const bit of [4, 5, 7, 1000, 65_535]) pipeline.setbit(`${settled}bits:2`, bit, 1);
      pipeline.set("tbg:session:closed:stratum-eu-1:0a1b", "1700000000000000", "EX", 86_400);
      await pipeline.exec();
      const before = await dumpAll(source);
      assert.equal(before.size, 1_006);

      const snapshots = `${work}/snapshots`;
      const rdb = await runOk("redis_backup.sh", ["--url", live.url, "--out", snapshots]);
      assert.match(rdb, new RegExp(`^${snapshots}/redis-\\d{8}T\\d{6}\\.\\d{3}Z\\.rdb$`));
      await assertChecksumFile(rdb);
      await source.set("written:after:backup", "1");

      await runOk("redis_restore.sh", ["--rdb", rdb, "--dir", `${work}/restored`]);
      restoredServer = await startRedisIn(`${work}/restored`);
      target = new Redis(restoredServer.url, { maxRetriesPerRequest: 1 });
      const after = await dumpAll(target);
      assert.deepEqual(after, before);
      assert.equal(await target.get(`${settled}floor`), "131075", "the settled floor survives");
      assert.equal(await target.bitcount(`${settled}bits:2`), 5, "and its bitmap");
      assert.ok(
        (await target.pttl("tbg:session:closed:stratum-eu-1:0a1b")) > 86_000_000,
        "the TTL survives the snapshot",
      );

      const usage = await runScript("redis_backup.sh", ["--out", snapshots]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--url must be a redis:\/\/ URL/);
    } finally {
      source.disconnect();
      target?.disconnect();
      await restoredServer?.stop();
      await live.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
