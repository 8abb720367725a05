/**
 * Starts a real PostgreSQL server on a free loopback port with its own temporary data directory,
 * for tests.
 *
 * ```ts
 * const pg = await startPostgres();
 * try {
 *   const sql = postgres(pg.url);
 *   // ...
 * } finally {
 *   await pg.stop(); // stops the server and deletes its directory
 * }
 * ```
 *
 * The server runs `initdb` (trust authentication, superuser `postgres`) into the temporary
 * directory, listens only on 127.0.0.1 (plus a Unix socket inside that directory), and gets a
 * database `tbg`. PostgreSQL refuses to run as root, so when the tests run as root both `initdb`
 * and `postgres` are started as the `postgres` OS user through `setpriv` (which execs, so the
 * child process is the postmaster itself and {@link PostgresServerHandle.kill} signals it
 * directly), and the temporary directory is handed to that user.
 *
 * Binaries come from the Debian package `postgresql` (`/usr/lib/postgresql/<version>/bin`).
 * Needs `--allow-run` (setpriv, initdb, postgres, createdb), `--allow-net=127.0.0.1`,
 * `--allow-read` and `--allow-write` for the system temporary directory, `--allow-read` for
 * `/usr/lib/postgresql` and `/etc/passwd`, and `--allow-sys=uid`.
 *
 * @module
 */
import { pickFreePort } from "./nats_server.ts";

/** Options for {@link startPostgres}. */
export interface PostgresServerOptions {
  /** Database created after start; default `tbg`. */
  readonly database?: string;
  /** Fixed port; default a free loopback port. */
  readonly port?: number;
  /** Directory holding initdb, postgres and createdb; default the newest under `/usr/lib/postgresql`. */
  readonly binDir?: string;
  /** Directory in which the server's own temporary directory is made; default the system one. */
  readonly parentDir?: string;
  /** Longest wait for the server to accept connections, per start. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /**
   * Extra server settings passed as `-c name=value`, e.g. `{ wal_level: "logical" }`. Must not
   * set `port`, `listen_addresses` or `unix_socket_directories`, which the launcher owns.
   */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * A plain-format base backup (from `pg_basebackup -Fp`) to copy in as the data directory
   * instead of running initdb; the server recovers from it at start. No database is created.
   */
  readonly fromBaseBackup?: string;
  /**
   * Keep `fsync` on. Default off: a test server survives killed processes either way (the
   * kernel still holds what was written), and only a machine crash would lose data.
   */
  readonly fsync?: boolean;
}

/** A running test PostgreSQL server. */
export interface PostgresServerHandle {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication). */
  readonly url: string;
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** Name of the database in {@link url}. */
  readonly database: string;
  /** The cluster's data directory. */
  readonly dataDir: string;
  /** The server's temporary directory (data directory, socket, log). */
  readonly dir: string;
  /** Directory of the PostgreSQL binaries used. */
  readonly binDir: string;
  /** The server's log file (its stderr). */
  readonly logPath: string;
  /** Process id of the current postmaster. */
  readonly pid: number;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  /** Fast shutdown (SIGINT, escalating to SIGQUIT and SIGKILL) and deletion of its directory. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal to the postmaster (default SIGKILL); no-op once it has exited. */
  kill(signal?: Deno.Signal): void;
  /** Stops the postmaster if still running and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Returns the server's log so far (for failure messages). */
  readLog(): Promise<string>;
}

const LOOPBACK = "127.0.0.1";
const DEFAULT_ROOT = "/usr/lib/postgresql";
const DEFAULT_DATABASE = "tbg";
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const FAST_SHUTDOWN_GRACE_MS = 15_000;
const IMMEDIATE_SHUTDOWN_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 25;
const MAX_START_ATTEMPTS = 3;
const OWNED_SETTINGS = new Set(["port", "listen_addresses", "unix_socket_directories"]);

/**
 * Finds the binaries of the newest PostgreSQL installed the Debian way
 * (`<root>/<major version>/bin`).
 *
 * @param root Directory holding one folder per major version.
 * @returns The `bin` directory holding `initdb` and `postgres`.
 * @throws {Error} Naming the Debian package "postgresql" when none is installed.
 */
export function findPostgresBinDir(root: string = DEFAULT_ROOT): string {
  const versions: number[] = [];
  try {
    for (const entry of Deno.readDirSync(root)) {
      if (!/^[0-9]+(\.[0-9]+)?$/.test(entry.name)) continue;
      if (
        isFile(`${root}/${entry.name}/bin/initdb`) && isFile(`${root}/${entry.name}/bin/postgres`)
      ) {
        versions.push(Number(entry.name));
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const newest = versions.sort((a, b) => b - a)[0];
  if (newest === undefined) {
    throw new Error(
      `Cannot start PostgreSQL: no initdb/postgres binaries under ${root}/<version>/bin; ` +
        'install the Debian package "postgresql" (apt-get install postgresql)',
    );
  }
  return `${root}/${newest}/bin`;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** How to run a server binary: directly, or as the `postgres` user when we are root. */
interface RunAs {
  /** Command prefix that switches user, empty when running as ourselves. */
  readonly prefix: readonly string[];
  /** Owner to give the temporary directory, or undefined to leave it as created. */
  readonly owner: { uid: number; gid: number } | undefined;
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  const passwd = Deno.readTextFileSync("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name && fields.length >= 4) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  return undefined;
}

function resolveRunAs(): RunAs {
  if (Deno.uid() !== 0) return { prefix: [], owner: undefined };
  const owner = lookupUser("postgres");
  if (owner === undefined) {
    throw new Error(
      'Cannot start PostgreSQL as root: no "postgres" OS user to run it as; install the Debian ' +
        'package "postgresql", which creates it',
    );
  }
  return {
    prefix: [
      "setpriv",
      "--reuid=postgres",
      "--regid=postgres",
      "--init-groups",
      "--reset-env",
      "--",
    ],
    owner,
  };
}

function command(runAs: RunAs, program: string, args: readonly string[]): [string, string[]] {
  const [head, ...rest] = [...runAs.prefix, program, ...args];
  return [head ?? program, rest];
}

function spawnError(program: string, error: unknown): Error {
  if (error instanceof Deno.errors.NotFound) {
    return new Error(
      `Cannot start ${program}: binary not found; install the Debian package "postgresql" ` +
        '(and "util-linux" for setpriv when running as root)',
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return new Error(`Cannot start ${program}: run the tests with --allow-run`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

async function runToCompletion(
  runAs: RunAs,
  program: string,
  args: readonly string[],
  action: string,
): Promise<void> {
  const [cmd, cmdArgs] = command(runAs, program, args);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, {
      args: cmdArgs,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      env: { LC_ALL: "C.UTF-8" },
    }).output();
  } catch (error) {
    throw spawnError(program, error);
  }
  if (!output.success) {
    const decoder = new TextDecoder();
    throw new Error(
      `Cannot ${action}: ${program} exited with code ${output.code}\n` +
        decoder.decode(output.stdout) + decoder.decode(output.stderr),
    );
  }
}

async function copyTree(source: string, target: string): Promise<void> {
  await Deno.mkdir(target, { recursive: true, mode: 0o700 });
  for await (const entry of Deno.readDir(source)) {
    const from = `${source}/${entry.name}`;
    const to = `${target}/${entry.name}`;
    if (entry.isDirectory) {
      await copyTree(from, to);
    } else if (entry.isSymlink) {
      await Deno.symlink(await Deno.readLink(from), to);
    } else {
      await Deno.copyFile(from, to);
      await Deno.chmod(to, 0o600);
    }
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await Deno.chown(path, uid, gid);
  const info = await Deno.lstat(path);
  if (!info.isDirectory) return;
  for await (const entry of Deno.readDir(path)) {
    if (entry.isSymlink) continue;
    await chownTree(`${path}/${entry.name}`, uid, gid);
  }
}

interface RunningServer {
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  readonly logDone: Promise<void>;
  exited: boolean;
}

async function appendStream(stream: ReadableStream<Uint8Array>, path: string): Promise<void> {
  const file = await Deno.open(path, { append: true, create: true });
  try {
    for await (const chunk of stream) await file.write(chunk);
  } finally {
    file.close();
  }
}

function spawnServer(
  runAs: RunAs,
  binDir: string,
  dataDir: string,
  args: readonly string[],
  logPath: string,
): RunningServer {
  const [cmd, cmdArgs] = command(runAs, `${binDir}/postgres`, ["-D", dataDir, ...args]);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args: cmdArgs,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      clearEnv: true,
      env: { LC_ALL: "C.UTF-8" },
    }).spawn();
  } catch (error) {
    throw spawnError("postgres", error);
  }
  const running: RunningServer = {
    child,
    status: child.status,
    logDone: appendStream(child.stderr, logPath).catch(() => {}),
    exited: false,
  };
  running.status.then(() => {
    running.exited = true;
  });
  return running;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `proc` to exit, giving up after `ms`; true when it exited. */
async function waitExit(proc: RunningServer, ms: number): Promise<boolean> {
  if (proc.exited) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    proc.status.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return exited;
}

function signal(proc: RunningServer, sig: Deno.Signal): void {
  if (proc.exited) return;
  try {
    proc.child.kill(sig);
  } catch (error) {
    if (!proc.exited) throw error;
  }
}

/** Fast shutdown, then immediate shutdown, then SIGKILL, each bounded. */
async function terminate(proc: RunningServer): Promise<void> {
  signal(proc, "SIGINT");
  if (!(await waitExit(proc, FAST_SHUTDOWN_GRACE_MS))) {
    signal(proc, "SIGQUIT");
    if (!(await waitExit(proc, IMMEDIATE_SHUTDOWN_GRACE_MS))) signal(proc, "SIGKILL");
  }
  await proc.status;
  await proc.logDone;
}

/** True once postmaster.pid names `pid` and reports "ready" (the check `pg_ctl -w` uses). */
async function pidFileReady(dataDir: string, pid: number): Promise<boolean> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dataDir}/postmaster.pid`);
  } catch {
    return false;
  }
  const lines = text.split("\n");
  return Number(lines[0]) === pid && (lines[7] ?? "").trim() === "ready";
}

async function acceptsTcp(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: LOOPBACK, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function waitReady(
  proc: RunningServer,
  dataDir: string,
  port: number,
  timeoutMs: number,
): Promise<"ready" | "exited" | "timeout"> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) return "exited";
    if (await pidFileReady(dataDir, proc.child.pid) && await acceptsTcp(port)) return "ready";
    await delay(POLL_INTERVAL_MS);
  }
  return proc.exited ? "exited" : "timeout";
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

function serverArgs(
  port: number,
  dir: string,
  options: PostgresServerOptions,
): string[] {
  const settings: Record<string, string> = {
    listen_addresses: LOOPBACK,
    port: String(port),
    unix_socket_directories: dir,
    fsync: options.fsync === true ? "on" : "off",
  };
  for (const [name, value] of Object.entries(options.settings ?? {})) settings[name] = value;
  return Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
}

/**
 * Starts PostgreSQL on 127.0.0.1 in a fresh temporary directory, creates the database and waits
 * until it accepts connections (bounded by `readyTimeoutMs`).
 *
 * @param options Database name, fixed port, binaries, extra settings, base backup to start from.
 * @returns A handle to reach, stop, kill and restart the server.
 * @throws {Error} If the binaries are missing (naming the Debian package "postgresql"), a
 *   permission is missing, or the server does not become ready; the message includes its log.
 */
export async function startPostgres(
  options: PostgresServerOptions = {},
): Promise<PostgresServerHandle> {
  for (const name of Object.keys(options.settings ?? {})) {
    if (OWNED_SETTINGS.has(name)) {
      throw new RangeError(`Cannot start PostgreSQL: setting "${name}" is owned by the launcher`);
    }
  }
  const binDir = options.binDir ?? findPostgresBinDir();
  if (!isFile(`${binDir}/postgres`) || !isFile(`${binDir}/initdb`)) {
    throw new Error(
      `Cannot start PostgreSQL: no initdb/postgres in ${binDir}; install the Debian package ` +
        '"postgresql" (apt-get install postgresql)',
    );
  }
  const database = options.database ?? DEFAULT_DATABASE;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const runAs = resolveRunAs();
  const dir = await Deno.makeTempDir({
    prefix: "tbg-pg-",
    ...(options.parentDir === undefined ? {} : { dir: options.parentDir }),
  });
  const dataDir = `${dir}/data`;
  const logPath = `${dir}/postgres.log`;

  let port = 0;
  let proc: RunningServer | undefined;
  try {
    if (options.fromBaseBackup !== undefined) {
      await copyTree(options.fromBaseBackup, dataDir);
      await Deno.chmod(dataDir, 0o700);
    }
    if (runAs.owner !== undefined) await chownTree(dir, runAs.owner.uid, runAs.owner.gid);
    if (options.fromBaseBackup === undefined) {
      await runToCompletion(runAs, `${binDir}/initdb`, [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
        "--no-instructions",
      ], "initialise a PostgreSQL cluster");
    }
    await Deno.writeTextFile(logPath, "");

    for (let attempt = 1; proc === undefined; attempt++) {
      port = options.port ?? pickFreePort();
      const logStart = (await readText(logPath)).length;
      const candidate = spawnServer(
        runAs,
        binDir,
        dataDir,
        serverArgs(port, dir, options),
        logPath,
      );
      const outcome = await waitReady(candidate, dataDir, port, readyTimeoutMs);
      if (outcome === "ready") {
        proc = candidate;
        break;
      }
      await terminate(candidate);
      const log = (await readText(logPath)).slice(logStart);
      // An auto-picked port can be taken between pick and bind: try another.
      const portTaken = /could not bind|address already in use/i.test(log);
      if (portTaken && options.port === undefined && attempt < MAX_START_ATTEMPTS) continue;
      throw new Error(
        `Cannot start PostgreSQL on ${LOOPBACK}:${port}: ` +
          (outcome === "exited" ? "the process exited" : `not ready after ${readyTimeoutMs} ms`) +
          `\n--- log ---\n${log}`,
      );
    }

    if (options.fromBaseBackup === undefined) {
      await runToCompletion({ prefix: [], owner: undefined }, `${binDir}/createdb`, [
        "-h",
        LOOPBACK,
        "-p",
        String(port),
        "-U",
        "postgres",
        database,
      ], `create database ${database}`);
    }
  } catch (error) {
    if (proc !== undefined) await terminate(proc);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }

  let current: RunningServer = proc;
  let stopped = false;
  const fixedPort = port;
  const urlFor = (name: string): string =>
    `postgres://postgres@${LOOPBACK}:${fixedPort}/${encodeURIComponent(name)}`;

  return {
    url: urlFor(database),
    port: fixedPort,
    database,
    dataDir,
    dir,
    binDir,
    logPath,
    get pid(): number {
      return current.child.pid;
    },
    urlFor,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await terminate(current);
      await Deno.remove(dir, { recursive: true }).catch((error: unknown) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
    kill(sig: Deno.Signal = "SIGKILL"): void {
      signal(current, sig);
    },
    async restart(): Promise<void> {
      if (stopped) {
        throw new Error("Cannot restart PostgreSQL: it was stopped and its directory deleted");
      }
      await terminate(current);
      // After a SIGKILL the old backends notice the postmaster's death and exit on their own;
      // until they have, a new postmaster refuses the still-attached shared memory. Retry.
      const deadline = Date.now() + readyTimeoutMs;
      for (;;) {
        const logStart = (await readText(logPath)).length;
        const next = spawnServer(
          runAs,
          binDir,
          dataDir,
          serverArgs(fixedPort, dir, options),
          logPath,
        );
        current = next;
        const outcome = await waitReady(
          next,
          dataDir,
          fixedPort,
          Math.max(1, deadline - Date.now()),
        );
        if (outcome === "ready") return;
        await terminate(next);
        const log = (await readText(logPath)).slice(logStart);
        const transient = /still in use|already exists|could not bind/i.test(log);
        if (transient && Date.now() < deadline) {
          await delay(100);
          continue;
        }
        throw new Error(
          `Cannot restart PostgreSQL on ${LOOPBACK}:${fixedPort}: ${outcome}\n--- log ---\n${log}`,
        );
      }
    },
    readLog(): Promise<string> {
      return readText(logPath);
    },
  };
}
