/**
 * The drill's backup and restore steps, done with the scripts an operator runs
 * (`infra/backup/*.sh`) and the test servers' launchers: WAL archiving into a directory, a plain
 * base backup, a Redis RDB snapshot; after the loss, PostgreSQL recovered from the base backup
 * plus every archived WAL segment and Redis loaded from the snapshot, each on the lost server's
 * port so the services' configs stay as they are.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type postgres from "postgres";
import {
  type PostgresServerHandle,
  startPostgres,
} from "../../tests/support/servers/postgres_server.ts";
import {
  type RedisServerHandle,
  startRedisServer,
} from "../../tests/support/servers/redis_server.ts";

const BACKUP_SCRIPTS = fileURLToPath(new URL("../../infra/backup/", import.meta.url));
const RECOVERY_TIMEOUT_MS = 60_000;
const POLL_MS = 100;

/** Where the drill keeps its backups (the "off-site" copies that survive the primary). */
export interface BackupDirs {
  readonly root: string;
  /** The WAL archive (`archive_command` copies each segment here). */
  readonly wal: string;
  /** Base backups from `pg_basebackup.sh`. */
  readonly base: string;
  /** RDB snapshots from `redis_backup.sh`. */
  readonly redis: string;
}

/** Makes the backup directories under `root`. */
export async function makeBackupDirs(root: string): Promise<BackupDirs> {
  const dirs = { root, wal: `${root}/wal`, base: `${root}/base`, redis: `${root}/redis` };
  // The server's OS user (postgres, when we are root) must reach the WAL archive inside.
  await Deno.chmod(root, 0o711);
  for (const dir of [dirs.wal, dirs.base, dirs.redis]) await Deno.mkdir(dir, { mode: 0o700 });
  return dirs;
}

/** The server settings WAL archiving needs at start (`archive_mode` cannot change later). */
export function archiveStartSettings(archiveTimeoutS: number): Record<string, string> {
  return { wal_level: "replica", archive_mode: "on", archive_timeout: String(archiveTimeoutS) };
}

/** The archive command of infra/backup/README.md: copy each segment, never overwrite one. */
export function archiveCommand(walDir: string): string {
  return `test ! -f ${walDir}/%f && cp %p ${walDir}/%f`;
}

/**
 * Turns on archiving into `walDir` on a running server: the directory is given to the server's
 * OS user (it runs as `postgres` when we are root) and `archive_command` set and reloaded.
 *
 * @param sql A superuser connection.
 * @param server The server (its directory's owner is the server's OS user).
 * @param walDir The archive directory.
 */
export async function startArchiving(
  sql: postgres.Sql,
  server: PostgresServerHandle,
  walDir: string,
): Promise<void> {
  const owner = await Deno.stat(server.dir);
  if (owner.uid !== null && owner.gid !== null && Deno.uid() === 0) {
    await Deno.chown(walDir, owner.uid, owner.gid);
  }
  await sql.unsafe(`ALTER SYSTEM SET archive_command = '${archiveCommand(walDir)}'`);
  await sql`SELECT pg_reload_conf()`;
}

/** `pg_stat_archiver` now. */
export interface ArchiverStatus {
  readonly archivedCount: number;
  readonly lastArchivedWal: string | null;
  readonly lastArchivedAt: Date | null;
  readonly failedCount: number;
}

/** Reads `pg_stat_archiver`. */
export async function archiverStatus(sql: postgres.Sql): Promise<ArchiverStatus> {
  const [row] = await sql<
    { archived: string; wal: string | null; at: Date | null; failed: string }[]
  >`
    SELECT archived_count::text AS archived, last_archived_wal AS wal,
           last_archived_time AS at, failed_count::text AS failed
    FROM pg_stat_archiver`;
  return {
    archivedCount: Number(row?.archived ?? 0),
    lastArchivedWal: row?.wal ?? null,
    lastArchivedAt: row?.at ?? null,
    failedCount: Number(row?.failed ?? 0),
  };
}

/**
 * Runs one of `infra/backup/*.sh` and returns the path it prints last.
 *
 * @throws {Error} With the script's stderr when it fails or prints nothing.
 */
export async function runBackupScript(script: string, args: readonly string[]): Promise<string> {
  const output = await new Deno.Command("bash", {
    args: [`${BACKUP_SCRIPTS}${script}`, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout).trim();
  const last = stdout.split("\n").pop() ?? "";
  if (!output.success || last === "") {
    throw new Error(
      `Cannot run ${script}: exit ${output.code}\n${decoder.decode(output.stderr).slice(-1_500)}`,
    );
  }
  return last;
}

/** A plain-format base backup of `server` into `dirs.base`; returns its directory. */
export function takeBaseBackup(server: PostgresServerHandle, dirs: BackupDirs): Promise<string> {
  return runBackupScript("pg_basebackup.sh", [
    "--url",
    server.url,
    "--out",
    dirs.base,
    "--format",
    "plain",
    "--pg-bin",
    server.binDir,
  ]);
}

/** An RDB snapshot of the Redis at `url` into `dirs.redis`; returns the file. */
export function takeRedisSnapshot(url: string, dirs: BackupDirs): Promise<string> {
  return runBackupScript("redis_backup.sh", ["--url", url, "--out", dirs.redis]);
}

/** A PostgreSQL recovered from backups. */
export interface RestoredPostgres {
  readonly server: PostgresServerHandle;
  /** Commit time of the last transaction WAL replay applied (null: none after the base). */
  readonly lastReplayedAt: Date | null;
}

/**
 * Recovers PostgreSQL from a base backup plus every segment in the WAL archive (no recovery
 * target: replay to the end of the archive, then promote), on `port`, archiving again into the
 * same directory on the new timeline.
 *
 * @param base The base backup directory (plain format).
 * @param dirs Backup directories (the WAL archive).
 * @param port The lost server's port.
 * @param database The database the services use (in the backup).
 * @param archiveTimeoutS `archive_timeout` of the new server.
 * @returns The running server, promoted, and the last replayed commit's time.
 * @throws {Error} If the server does not start or does not finish recovery in time.
 */
export async function restorePostgres(
  base: string,
  dirs: BackupDirs,
  port: number,
  database: string,
  archiveTimeoutS: number,
): Promise<RestoredPostgres> {
  // recovery.signal: archive recovery with restore_command (README step 4); removed from the
  // backup again once the server has copied it in.
  await Deno.writeTextFile(`${base}/recovery.signal`, "");
  let server: PostgresServerHandle;
  try {
    server = await startPostgres({
      database,
      port,
      fromBaseBackup: base,
      settings: {
        ...archiveStartSettings(archiveTimeoutS),
        archive_command: archiveCommand(dirs.wal),
        restore_command: `cp ${dirs.wal}/%f %p`,
      },
    });
  } finally {
    await Deno.remove(`${base}/recovery.signal`).catch(() => {});
  }
  const { default: connect } = await import("postgres");
  const sql = connect(server.url, { max: 1, onnotice: () => {} });
  try {
    const deadline = Date.now() + RECOVERY_TIMEOUT_MS;
    for (;;) {
      const [row] = await sql<{ recovering: boolean; replayed: Date | null }[]>`
        SELECT pg_is_in_recovery() AS recovering, pg_last_xact_replay_timestamp() AS replayed`;
      if (row?.recovering === false) {
        return { server, lastReplayedAt: row.replayed };
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot restore PostgreSQL: still recovering after ${RECOVERY_TIMEOUT_MS} ms\n` +
            (await server.readLog()).slice(-1_500),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } catch (error) {
    await server.stop();
    throw error;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A Redis loaded from a snapshot, and the directory it runs in (the caller removes it). */
export interface RestoredRedis {
  readonly server: RedisServerHandle;
  readonly dir: string;
}

/**
 * Installs the snapshot with `redis_restore.sh` into a fresh directory and starts redis-server
 * there on `port`; it loads the snapshot at start.
 */
export async function restoreRedis(
  snapshot: string,
  dirs: BackupDirs,
  port: number,
): Promise<RestoredRedis> {
  const dir = await Deno.makeTempDir({ dir: dirs.root, prefix: "redis-restored-" });
  await runBackupScript("redis_restore.sh", ["--rdb", snapshot, "--dir", dir]);
  const server = await startRedisServer({ port, dir });
  return { server, dir };
}
