/**
 * Applies the SQL migrations in `infra/sql/migrations/` that a database has not had yet.
 *
 *   deno run --allow-net tools/migrate.ts --url postgres://user:password@host:5432/tbg
 *   deno run --allow-net tools/migrate.ts --url … --dry-run    # list pending, change nothing
 *
 * Each migration runs in its own transaction together with the row that records it in
 * `schema_migrations(version, applied_at)`, so a failed migration leaves nothing behind and a
 * second run applies nothing. Every transaction first takes one advisory lock, so several
 * collectors starting at once with `migrate_on_start` apply each migration exactly once.
 *
 * Exit codes: 0 done (or nothing to do), 1 a migration or the connection failed, 2 usage
 * (missing or invalid `--url`, unknown argument). The transactions go through `transaction()`
 * from `@tbg/shared/postgres`, so a server that dies mid-migration is reported as exit 1 (the
 * migration rolled back, a rerun applies it), not a crash.
 *
 * The PostgreSQL client reads `PG*` environment variables for anything the URL leaves out; the
 * CLI hands it only the ones it was granted (`--allow-env=PGPASSWORD,…`), so no `--allow-env` is
 * needed when the URL is complete.
 *
 * @module
 */
import type postgres from "postgres";
import { parseServiceUrl } from "@tbg/shared/config";
import { transaction } from "@tbg/shared/postgres";
import { POSTGRES_CLIENT_ENV, sandboxProcessEnv } from "@tbg/shared/service";
import { type Migration, MIGRATIONS } from "../infra/sql/migrations.ts";

export type { Migration } from "../infra/sql/migrations.ts";
export { MIGRATIONS } from "../infra/sql/migrations.ts";

/**
 * Key of the advisory lock every migration transaction holds. Only migrations use it
 * (`tbg_ensure_partitions` and `tbg_drop_partitions_older_than` use 7633940281934070101).
 */
export const MIGRATION_LOCK_KEY = "7633940281934070100";

/** The logging `migrate()` needs; a `StructuredLogger` from `@tbg/shared/log` fits. */
export interface MigrationLogger {
  /** A constant message plus structured properties. */
  info(message: string, properties?: Readonly<Record<string, unknown>>): void;
  /** A constant message plus structured properties. */
  warn(message: string, properties?: Readonly<Record<string, unknown>>): void;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Versions applied by this call, in order. */
  readonly applied: readonly string[];
  /** Versions that were already recorded (by an earlier run or a concurrent migrator). */
  readonly alreadyApplied: readonly string[];
}

const CREATE_SCHEMA_MIGRATIONS = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`;

function checkOrder(migrations: readonly Migration[]): void {
  for (let i = 1; i < migrations.length; i++) {
    const previous = migrations[i - 1]?.version ?? "";
    const version = migrations[i]?.version ?? "";
    if (!(previous < version)) {
      throw new RangeError(
        `Cannot migrate: migration versions must be unique and sorted, got "${previous}" before "${version}"`,
      );
    }
  }
}

async function appliedVersions<T extends Record<string, unknown>>(
  sql: postgres.Sql<T>,
): Promise<Set<string> | undefined> {
  const [row] = await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
  if (row?.present !== true) return undefined;
  const rows = await sql`SELECT version FROM schema_migrations`;
  return new Set(rows.map((r) => String(r.version)));
}

/**
 * Lists the migrations a database has not applied yet, changing nothing.
 *
 * @param sql A postgres.js client for the database.
 * @param migrations The migrations to consider; default {@link MIGRATIONS}.
 * @returns The pending migrations, in the order they would apply.
 */
export async function pendingMigrations<T extends Record<string, unknown>>(
  sql: postgres.Sql<T>,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<Migration[]> {
  checkOrder(migrations);
  const applied = await appliedVersions(sql) ?? new Set<string>();
  return migrations.filter((m) => !applied.has(m.version));
}

/**
 * Applies pending migrations in order, each in its own transaction that also records it in
 * `schema_migrations`. Safe to call from several processes at once and on every start
 * (`migrate_on_start`): it serialises on an advisory lock and re-checks inside it.
 *
 * @param sql A postgres.js client for the database (its pool is used, not ended).
 * @param log Receives one `info` per applied migration and a `warn` for versions recorded in the
 *   database that this code does not know (a newer release migrated it).
 * @param migrations The migrations to apply; default {@link MIGRATIONS}.
 * @returns The versions applied now and those found already applied.
 * @throws {RangeError} If `migrations` is not sorted by unique version.
 * @throws The database error of the failing migration, after its transaction rolled back;
 *   migrations before it stay applied.
 */
export async function migrate<T extends Record<string, unknown>>(
  sql: postgres.Sql<T>,
  log: MigrationLogger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrateResult> {
  checkOrder(migrations);
  await transaction(sql, async (tx) => {
    await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.unsafe("SET LOCAL client_min_messages = warning");
    await tx.unsafe(CREATE_SCHEMA_MIGRATIONS);
  });

  const recorded = await appliedVersions(sql) ?? new Set<string>();
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...recorded].filter((v) => !known.has(v)).sort();
  if (unknown.length > 0) {
    log.warn("database has migrations this release does not know", { versions: unknown });
  }

  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  for (const migration of migrations) {
    if (recorded.has(migration.version)) {
      alreadyApplied.push(migration.version);
      continue;
    }
    const startedMs = performance.now();
    const ran = await transaction(sql, async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      const done = await tx`SELECT 1 FROM schema_migrations WHERE version = ${migration.version}`;
      if (done.length > 0) return false;
      // Notices ("relation … already exists, skipping") would go to the client's notice
      // handler, which prints to the console by default in postgres.js.
      await tx.unsafe("SET LOCAL client_min_messages = warning");
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO schema_migrations (version) VALUES (${migration.version})`;
      return true;
    });
    if (ran) {
      applied.push(migration.version);
      log.info("migration applied", {
        version: migration.version,
        durationMs: Math.round(performance.now() - startedMs),
      });
    } else {
      alreadyApplied.push(migration.version);
    }
  }
  return { applied, alreadyApplied };
}

/** A parsed command line. */
export interface MigrateArgs {
  /** The database URL. */
  readonly url: string;
  /** List pending migrations and change nothing. */
  readonly dryRun: boolean;
}

/** Bad command-line arguments (exit code 2). */
export class MigrateUsageError extends Error {
  override name = "MigrateUsageError";
}

const USAGE = "usage: migrate.ts --url postgres://user[:password]@host[:port]/database [--dry-run]";

/**
 * Parses `--url <url>` (or `--url=<url>`) and `--dry-run`.
 *
 * @param args Command-line arguments without the program name.
 * @returns The URL and whether to only list pending migrations.
 * @throws {MigrateUsageError} When the URL is missing, is not a `postgres://` or
 *   `postgresql://` URL with a host and a database name, or an argument is unknown.
 */
export function parseMigrateArgs(args: readonly string[]): MigrateArgs {
  let url: string | undefined;
  let dryRun = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--dry-run") {
      dryRun = true;
    } else if (arg === "--url") {
      url = args[++i];
      if (url === undefined) throw new MigrateUsageError("Cannot migrate: --url needs a value");
    } else if (arg.startsWith("--url=")) {
      url = arg.slice("--url=".length);
    } else {
      throw new MigrateUsageError(`Cannot migrate: unknown argument "${arg}"`);
    }
  }
  if (url === undefined || url === "") {
    throw new MigrateUsageError("Cannot migrate: --url is required");
  }
  const endpoint = parseServiceUrl(url, { postgres: 5432, postgresql: 5432 });
  const database = endpoint === undefined ? "" : new URL(url).pathname.replace(/^\//, "");
  if (endpoint === undefined || database === "" || database.includes("/")) {
    throw new MigrateUsageError(
      `Cannot migrate: --url is not postgres://user[:password]@host[:port]/database (got ${
        redactUrl(url)
      })`,
    );
  }
  return { url, dryRun };
}

/** The URL with any password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
  }
}

function writeLine(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(`${text}\n`);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

function formatProperties(properties: Readonly<Record<string, unknown>> | undefined): string {
  if (properties === undefined) return "";
  return Object.entries(properties).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join("");
}

/** A {@link MigrationLogger} writing `message key=value …` lines: info to stdout, warn to stderr. */
export const lineLogger: MigrationLogger = {
  info(message, properties) {
    writeLine(Deno.stdout, `${message}${formatProperties(properties)}`);
  },
  warn(message, properties) {
    writeLine(Deno.stderr, `warning: ${message}${formatProperties(properties)}`);
  },
};

/**
 * Runs the command line: parses arguments, connects, applies or lists migrations.
 *
 * @param args Command-line arguments without the program name.
 * @returns The process exit code (0, 1 or 2).
 */
export async function main(args: readonly string[]): Promise<number> {
  let parsed: MigrateArgs;
  try {
    parsed = parseMigrateArgs(args);
  } catch (error) {
    if (!(error instanceof MigrateUsageError)) throw error;
    writeLine(Deno.stderr, `${error.message}\n${USAGE}`);
    return 2;
  }
  // postgres.js reads PG* variables; give it only those granted, so a narrow --allow-env works.
  sandboxProcessEnv(POSTGRES_CLIENT_ENV);
  const { default: connect } = await import("postgres");
  const sql = connect(parsed.url, {
    max: 1,
    connect_timeout: 10,
    onnotice: (notice) => lineLogger.warn("server notice", { message: notice.message }),
  });
  try {
    if (parsed.dryRun) {
      const pending = await pendingMigrations(sql);
      for (const m of pending) writeLine(Deno.stdout, `pending ${m.version}`);
      writeLine(Deno.stdout, `${pending.length} pending migration(s)`);
    } else {
      const result = await migrate(sql, lineLogger);
      writeLine(
        Deno.stdout,
        `${result.applied.length} migration(s) applied, ${result.alreadyApplied.length} already applied`,
      );
    }
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    writeLine(Deno.stderr, `Cannot migrate ${redactUrl(parsed.url)}: ${message}`);
    return 1;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
