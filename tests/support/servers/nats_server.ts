/**
 * Starts a real nats-server on a free loopback port with its own temporary directory, for tests.
 *
 * ```ts
 * const server = await startNatsServer({ jetstream: true });
 * try {
 *   const nc = await connect({ servers: server.url });
 *   // ...
 * } finally {
 *   await server.stop(); // stops the process and deletes its directory
 * }
 * ```
 *
 * Needs `--allow-run=nats-server`, `--allow-net=127.0.0.1` and read/write access to the system
 * temporary directory. The binary comes from the Debian package `nats-server`.
 *
 * @module
 */

/** Options for {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Enable JetStream with file storage in the server's directory. Default `true`. */
  readonly jetstream?: boolean;
  /** JetStream domain (for leaf-node setups). Only with `jetstream`. */
  readonly jetstreamDomain?: string;
  /**
   * Configuration text appended verbatim (e.g. a `leafnodes { ... }` or `accounts { ... }` block).
   * Must not set `listen`, `server_name`, `log_file` or `jetstream`, which the launcher owns.
   */
  readonly extraConfig?: string;
  /** Server name; default `test-<port>`. */
  readonly serverName?: string;
  /** Fixed client port; default a free loopback port. */
  readonly port?: number;
  /** Directory in which the server's own temporary directory is made; default the system one. */
  readonly parentDir?: string;
  /** Longest wait for the server to accept clients, per start. Default 10 s. */
  readonly readyTimeoutMs?: number;
}

/** A running test nats-server. */
export interface NatsServerHandle {
  /** Client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** Client port on 127.0.0.1. */
  readonly port: number;
  /** The server's temporary directory (config, log, store). */
  readonly dir: string;
  /** JetStream store directory inside {@link dir}. */
  readonly storeDir: string;
  /** Configuration file the server runs with. */
  readonly configPath: string;
  /** The server's log file. */
  readonly logPath: string;
  /** Process id of the current server process. */
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and deletes its directory. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal to the server process (default SIGKILL); no-op once it has exited. */
  kill(signal?: Deno.Signal): void;
  /** Stops the process if still running and starts it again with the same port, config and store. */
  restart(): Promise<void>;
  /** Returns the server's log so far (for failure messages). */
  readLog(): Promise<string>;
}

const LOOPBACK = "127.0.0.1";
const DEFAULT_READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 25;
const MAX_START_ATTEMPTS = 3;
const MAX_STDERR_BYTES = 64 * 1024;

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may take it before
 * it is used; {@link startNatsServer} retries with a new port when that happens.
 *
 * @returns A port number.
 */
export function pickFreePort(): number {
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function buildConfig(
  options: NatsServerOptions,
  port: number,
  storeDir: string,
  logPath: string,
): string {
  const lines = [
    `listen: ${quote(`${LOOPBACK}:${port}`)}`,
    `server_name: ${quote(options.serverName ?? `test-${port}`)}`,
    `log_file: ${quote(logPath)}`,
  ];
  if (options.jetstream ?? true) {
    lines.push("jetstream {", `  store_dir: ${quote(storeDir)}`);
    // Explicit limits so stream reservations (MINING_EVENTS asks for 10 GiB) do not depend on
    // the free space of the machine running the tests; nothing near this is ever written.
    lines.push("  max_file_store: 64GB", "  max_memory_store: 256MB");
    if (options.jetstreamDomain !== undefined) {
      lines.push(`  domain: ${quote(options.jetstreamDomain)}`);
    }
    lines.push("}");
  }
  if (options.extraConfig !== undefined) lines.push(options.extraConfig);
  return `${lines.join("\n")}\n`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the INFO JSON once a client connection receives it, or `undefined` on failure. */
async function readInfo(
  port: number,
  timeoutMs: number,
): Promise<Record<string, unknown> | undefined> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: LOOPBACK, port });
  } catch {
    return undefined;
  }
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // Already closed by the read path.
    }
  }, timeoutMs);
  try {
    const buffer = new Uint8Array(16 * 1024);
    let text = "";
    while (!text.includes("\r\n") && text.length < buffer.length) {
      const n = await conn.read(buffer);
      if (n === null) return undefined;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const line = text.slice(0, text.indexOf("\r\n"));
    if (!line.startsWith("INFO ")) return undefined;
    const info: unknown = JSON.parse(line.slice(5));
    return typeof info === "object" && info !== null ? info as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

interface RunningProcess {
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  readonly stderr: Promise<string>;
  exited: boolean;
}

async function collectStderr(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    if (text.length < MAX_STDERR_BYTES) text += decoder.decode(chunk, { stream: true });
  }
  return text.slice(0, MAX_STDERR_BYTES);
}

function spawn(configPath: string): RunningProcess {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nats-server", {
      args: ["-c", configPath],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        'Cannot start nats-server: binary not found on PATH; install the Debian package "nats-server" ' +
          "(apt-get install nats-server)",
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Error("Cannot start nats-server: run the tests with --allow-run=nats-server", {
        cause: error,
      });
    }
    throw error;
  }
  const running: RunningProcess = {
    child,
    status: child.status,
    stderr: collectStderr(child.stderr),
    exited: false,
  };
  running.status.then(() => {
    running.exited = true;
  });
  return running;
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

async function terminate(proc: RunningProcess): Promise<void> {
  if (!proc.exited) {
    try {
      proc.child.kill("SIGTERM");
    } catch {
      // Exited between the check and the signal.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      proc.status.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut && !proc.exited) {
      try {
        proc.child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }
  }
  await proc.status;
  await proc.stderr;
}

/**
 * Waits until the server answers a client connection with INFO (and reports JetStream when asked
 * for), or fails early if the process exits.
 */
async function waitReady(
  proc: RunningProcess,
  port: number,
  jetstream: boolean,
  timeoutMs: number,
): Promise<"ready" | "exited" | "timeout"> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) return "exited";
    const info = await readInfo(port, Math.max(1, Math.min(1_000, deadline - Date.now())));
    if (info !== undefined && (!jetstream || info.jetstream === true)) return "ready";
    if (proc.exited) return "exited";
    await delay(POLL_INTERVAL_MS);
  }
  return "timeout";
}

/**
 * Starts nats-server on 127.0.0.1 with a fresh temporary directory and waits until it accepts
 * clients (bounded by `readyTimeoutMs`).
 *
 * @param options JetStream, extra configuration, fixed port, timeout.
 * @returns A handle to reach, stop, kill and restart the server.
 * @throws {Error} If the binary is missing (naming the Debian package "nats-server"), the run
 *   permission is missing, or the server does not become ready; the message includes its log.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const jetstream = options.jetstream ?? true;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const dir = await Deno.makeTempDir({
    prefix: "tbg-nats-",
    ...(options.parentDir === undefined ? {} : { dir: options.parentDir }),
  });
  const storeDir = `${dir}/jetstream`;
  const configPath = `${dir}/nats-server.conf`;
  const logPath = `${dir}/nats-server.log`;

  let port = 0;
  let proc: RunningProcess | undefined;
  try {
    for (let attempt = 1; proc === undefined; attempt++) {
      port = options.port ?? pickFreePort();
      await Deno.writeTextFile(configPath, buildConfig(options, port, storeDir, logPath));
      await Deno.remove(logPath).catch(() => {});
      const candidate = spawn(configPath);
      const outcome = await waitReady(candidate, port, jetstream, readyTimeoutMs);
      if (outcome === "ready") {
        proc = candidate;
        break;
      }
      await terminate(candidate);
      const log = await readText(logPath);
      const stderr = await candidate.stderr;
      // An auto-picked port can be taken by another process between pick and bind: try another.
      const portTaken = /address already in use/i.test(`${log}\n${stderr}`);
      if (
        outcome === "exited" && portTaken && options.port === undefined &&
        attempt < MAX_START_ATTEMPTS
      ) {
        continue;
      }
      throw new Error(
        `Cannot start nats-server on ${LOOPBACK}:${port}: ` +
          (outcome === "exited" ? "the process exited" : `not ready after ${readyTimeoutMs} ms`) +
          `\n--- log ---\n${log}\n--- stderr ---\n${stderr}`,
      );
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }

  let current: RunningProcess = proc;
  let stopped = false;
  const fixedPort = port;

  return {
    url: `nats://${LOOPBACK}:${fixedPort}`,
    port: fixedPort,
    dir,
    storeDir,
    configPath,
    logPath,
    get pid(): number {
      return current.child.pid;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await terminate(current);
      await Deno.remove(dir, { recursive: true }).catch((error: unknown) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
    kill(signal: Deno.Signal = "SIGKILL"): void {
      if (current.exited) return;
      try {
        current.child.kill(signal);
      } catch (error) {
        if (!current.exited) throw error;
      }
    },
    async restart(): Promise<void> {
      if (stopped) {
        throw new Error("Cannot restart nats-server: it was stopped and its directory deleted");
      }
      await terminate(current);
      const next = spawn(configPath);
      const outcome = await waitReady(next, fixedPort, jetstream, readyTimeoutMs);
      if (outcome !== "ready") {
        await terminate(next);
        current = next;
        throw new Error(
          `Cannot restart nats-server on ${LOOPBACK}:${fixedPort}: ${outcome}` +
            `\n--- log ---\n${await readText(logPath)}\n--- stderr ---\n${await next.stderr}`,
        );
      }
      current = next;
    },
    readLog(): Promise<string> {
      return readText(logPath);
    },
  };
}
