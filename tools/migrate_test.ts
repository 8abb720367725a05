/**
 * tools/migrate.ts: argument parsing, the CLI's exit codes and narrow permissions, `migrate()`
 * against a real PostgreSQL, and the CLI losing that server mid-migration. Run with:
 *
 *   deno test --allow-run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
 *     --allow-sys=uid tools/migrate_test.ts
 *
 * (`deno task test` grants all of these; `--allow-run` also starts `deno` for the CLI tests.)
 * Needs the Debian package "postgresql"; fails, never skips, without it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import {
  migrate,
  MigrateUsageError,
  type MigrationLogger,
  MIGRATIONS,
  parseMigrateArgs,
  pendingMigrations,
  redactUrl,
} from "./migrate.ts";
import { startPostgres } from "../tests/support/servers/postgres_server.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const silent: MigrationLogger = { info() {}, warn() {} };

Deno.test("parseMigrateArgs() reads --url in both spellings and --dry-run", () => {
  assert.deepEqual(parseMigrateArgs(["--url", "postgres://u:p@db.internal:5433/tbg"]), {
    url: "postgres://u:p@db.internal:5433/tbg",
    dryRun: false,
  });
  assert.deepEqual(parseMigrateArgs(["--dry-run", "--url=postgresql://u@127.0.0.1/tbg"]), {
    url: "postgresql://u@127.0.0.1/tbg",
    dryRun: true,
  });
});

Deno.test("parseMigrateArgs() rejects a missing, malformed or database-less URL", () => {
  const cases: [string[], RegExp][] = [
    [[], /--url is required/],
    [["--url"], /--url needs a value/],
    [["--url="], /--url is required/],
    [["--url", "http://u@127.0.0.1:5432/tbg"], /is not postgres:\/\//],
    [["--url", "postgres://u@127.0.0.1:5432"], /is not postgres:\/\//],
    [["--url", "postgres://u@127.0.0.1:5432/"], /is not postgres:\/\//],
    [["--url", "postgres://u@127.0.0.1:99999/tbg"], /is not postgres:\/\//],
    [["--url", "not a url"], /is not postgres:\/\//],
    [["--url", "postgres://u@h/tbg", "--force"], /unknown argument "--force"/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseMigrateArgs(args), (error: unknown) => {
      assert.ok(error instanceof MigrateUsageError, String(error));
      assert.match(error.message, /^Cannot migrate: /);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("parseMigrateArgs() and redactUrl() never echo a password", () => {
  assert.equal(redactUrl("postgres://tbg:s3cret@db:5432/tbg"), "postgres://tbg:***@db:5432/tbg");
  assert.equal(redactUrl("postgres://tbg@db/tbg"), "postgres://tbg@db/tbg");
  assert.throws(
    () => parseMigrateArgs(["--url", "http://tbg:s3cret@db:5432/tbg"]),
    (error: unknown) => error instanceof Error && !error.message.includes("s3cret"),
  );
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function runCli(permissions: readonly string[], args: readonly string[]): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--quiet",
      `--config=${ROOT}deno.json`,
      ...permissions,
      `${ROOT}tools/migrate.ts`,
      ...args,
    ],
    cwd: ROOT,
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

Deno.test("migrate.ts exits 2 with a clear message when --url is missing or invalid", async () => {
  const missing = await runCli([], []);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /^Cannot migrate: --url is required\nusage: migrate\.ts --url /);
  const invalid = await runCli([], ["--url", "mysql://root:pw@127.0.0.1/tbg"]);
  assert.equal(invalid.code, 2, invalid.stderr);
  assert.match(invalid.stderr, /Cannot migrate: --url is not postgres:\/\//);
  assert.doesNotMatch(invalid.stderr, /pw@/);
});

Deno.test({
  name: "migrate.ts with only --allow-net to the server lists, applies, then finds nothing pending",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    try {
      const net = [`--allow-net=127.0.0.1:${pg.port}`];
      const dry = await runCli(net, ["--url", pg.url, "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(
        dry.stdout,
        MIGRATIONS.map((m) => `pending ${m.version}\n`).join("") +
          `${MIGRATIONS.length} pending migration(s)\n`,
      );

      const applied = await runCli(net, ["--url", pg.url]);
      assert.equal(applied.code, 0, applied.stderr);
      for (const m of MIGRATIONS) {
        assert.match(applied.stdout, new RegExp(`migration applied version="${m.version}"`));
      }
      assert.match(applied.stdout, new RegExp(`${MIGRATIONS.length} migration\\(s\\) applied, 0`));

      const again = await runCli(net, ["--url", pg.url]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, `0 migration(s) applied, ${MIGRATIONS.length} already applied\n`);
      const dryAgain = await runCli(net, ["--url", pg.url, "--dry-run"]);
      assert.equal(dryAgain.stdout, "0 pending migration(s)\n");

      const unreachable = await runCli(net, ["--url", pg.urlFor("no_such_db")]);
      assert.equal(unreachable.code, 1);
      assert.match(
        unreachable.stderr,
        /^Cannot migrate postgres:\/\/postgres@127\.0\.0\.1:\d+\/no_such_db: /,
      );
    } finally {
      await pg.stop();
    }
  },
});

Deno.test({
  name:
    "migrate.ts with PostgreSQL killed or shut down mid-migration exits 1 with the error; a rerun completes",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    const [first, second] = MIGRATIONS;
    assert.ok(first !== undefined && second !== undefined);
    try {
      await migrate(sql, silent, [first]);
      const net = [`--allow-net=127.0.0.1:${pg.port}`];
      // SIGKILL: the backend vanishes with the postmaster. SIGINT, a fast shutdown: the server
      // terminates the backend itself (SQLSTATE 57P01). Plain sql.begin() crashed the CLI on
      // both, with an uncaught "Cannot read properties of null (reading 'write')".
      for (const signal of ["SIGKILL", "SIGINT"] as const) {
        // The second migration indexes mining_events: holding the table makes the CLI wait
        // inside that migration's transaction, where the server then goes away. The holder is a
        // client of its own, ended after the kill: releasing a reserved connection whose server
        // died would put the dead connection back into the test's pool (postgres.js).
        const holder = postgres(pg.url, { max: 1, onnotice: () => {} });
        await holder`BEGIN`;
        await holder`LOCK TABLE mining_events IN ACCESS EXCLUSIVE MODE`;
        const cli = runCli(net, ["--url", pg.url]);
        const deadline = Date.now() + 30_000;
        for (;;) {
          const [row] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%mining_events_share_user_ts_idx%'`;
          if (row?.n === 1) break;
          assert.ok(Date.now() < deadline, `${signal}: the CLI never waited inside the migration`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        pg.kill(signal);
        const result = await cli;
        await holder.end({ timeout: 1 }).catch(() => {});
        assert.equal(result.code, 1, `${signal}: ${result.stderr}`);
        assert.match(
          result.stderr,
          /^Cannot migrate postgres:\/\/postgres@127\.0\.0\.1:\d+\/tbg: [^\n]+\n$/,
          `${signal}: one clear line, no uncaught error; got:\n${result.stderr}`,
        );
        assert.doesNotMatch(result.stdout, new RegExp(second.version), `${signal}: not applied`);
        await pg.restart();
        assert.deepEqual(
          (await pendingMigrations(sql)).map((m) => m.version),
          MIGRATIONS.slice(1).map((m) => m.version),
          `${signal}: the interrupted migration left nothing behind`,
        );
      }

      const rerun = await runCli(net, ["--url", pg.url]);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.match(
        rerun.stdout,
        new RegExp(`${MIGRATIONS.length - 1} migration\\(s\\) applied, 1`),
      );
      assert.deepEqual(await pendingMigrations(sql), []);
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
      await pg.stop();
    }
  },
});

Deno.test({
  name: "migrate() run by several clients at once applies each migration exactly once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    const clients = [1, 2, 3].map(() => postgres(pg.url, { max: 2, onnotice: () => {} }));
    try {
      const first = clients[0];
      assert.ok(first !== undefined);
      assert.deepEqual(
        (await pendingMigrations(first)).map((m) => m.version),
        MIGRATIONS.map((m) => m.version),
      );
      const [absent] = await first`SELECT to_regclass('schema_migrations') IS NULL AS absent`;
      assert.equal(absent?.absent, true, "a dry run creates nothing");

      const results = await Promise.all(clients.map((sql) => migrate(sql, silent)));
      const applied = results.flatMap((r) => r.applied).sort();
      assert.deepEqual(applied, MIGRATIONS.map((m) => m.version));
      for (const result of results) {
        assert.equal(result.applied.length + result.alreadyApplied.length, MIGRATIONS.length);
      }
      assert.deepEqual(await pendingMigrations(first), []);
    } finally {
      for (const sql of clients) await sql.end({ timeout: 5 });
      await pg.stop();
    }
  },
});

Deno.test({
  name: "migrate() warns about recorded versions it does not know and refuses unsorted input",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(sql, silent);
      await sql`INSERT INTO schema_migrations (version) VALUES ('999_from_a_newer_release')`;
      const warnings: unknown[] = [];
      const result = await migrate(sql, {
        info() {},
        warn: (message, properties) => warnings.push({ message, ...properties }),
      });
      assert.deepEqual(result.applied, []);
      assert.deepEqual(warnings, [{
        message: "database has migrations this release does not know",
        versions: ["999_from_a_newer_release"],
      }]);

      const [a, b] = MIGRATIONS;
      assert.ok(a !== undefined && b !== undefined);
      await assert.rejects(migrate(sql, silent, [b, a]), RangeError);
      await assert.rejects(migrate(sql, silent, [a, a]), RangeError);
    } finally {
      await sql.end({ timeout: 5 });
      await pg.stop();
    }
  },
});
