/**
 * Starts a throwaway redis-server on a free loopback port for integration tests.
 */
import { pickFreePort } from "./nats_server.ts";

/** Options for {@link startRedisServer}. */
export interface RedisServerOptions {
  /**
   * Keep data across {@link RedisServerHandle.restart} with an append-only file fsync'd on every
   * write, as an outage test needs. Default off: nothing is persisted.
   */
  readonly persistent?: boolean;
  /** Fixed port (e.g. a server restored in place of a lost one); default a free loopback port. */
  readonly port?: number;
  /**
   * An existing directory to run in (e.g. one holding a restored `dump.rdb`, which the server
   * loads at start); the caller owns it and {@link RedisServerHandle.stop} leaves it. Default a
   * fresh temporary directory, deleted at stop.
   */
  readonly dir?: string;
}

/** A running redis-server. */
export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /** Process id of the current server process (benchmarks read its CPU time). */
  readonly pid: number;
  /** The server's data directory (`--dir`): where its RDB and append-only files go. */
  readonly dir: string;
  /** Sends a signal to the server (default SIGKILL); no-op once it has exited. */
  kill(signal?: Deno.Signal): void;
  /** Stops the server if still running and starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

interface RunningRedis {
  readonly child: Deno.ChildProcess;
  readonly drained: Promise<unknown>;
  exited: boolean;
}

function spawn(port: number, dir: string, persistent: boolean): RunningRedis {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        persistent ? "yes" : "no",
        ...(persistent ? ["--appendfsync", "always"] : []),
        "--dir",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        'Cannot start redis-server: binary not found (install the Debian package "redis-server")',
      );
    }
    throw e;
  }
  const running: RunningRedis = {
    child,
    drained: Promise.all([
      child.stdout.pipeTo(new WritableStream()),
      child.stderr.pipeTo(new WritableStream()),
    ]).catch(() => {}),
    exited: false,
  };
  child.status.then(() => running.exited = true);
  return running;
}

async function answersPing(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

async function waitReady(running: RunningRedis, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answersPing(port))) {
    if (running.exited || Date.now() > deadline) {
      try {
        running.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      throw new Error(
        `Cannot start redis-server on port ${port}: ` +
          (running.exited ? "the process exited" : "not answering within 10 s"),
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function terminate(running: RunningRedis, signal: Deno.Signal): Promise<void> {
  if (!running.exited) {
    try {
      running.child.kill(signal);
    } catch {
      // Already gone.
    }
  }
  await running.child.status;
  await running.drained;
}

/**
 * Starts redis-server (Debian package "redis-server") on 127.0.0.1; fails clearly if missing.
 *
 * @param options Persistence across restarts.
 * @returns A handle to reach, signal, restart and stop the server.
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServerHandle> {
  const persistent = options.persistent ?? false;
  const port = options.port ?? pickFreePort();
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "tbg-redis-" });
  const removeDir = async () => {
    if (ownsDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  let current: RunningRedis;
  try {
    current = spawn(port, dir, persistent);
    await waitReady(current, port);
  } catch (error) {
    await removeDir();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return current.child.pid;
    },
    kill(signal: Deno.Signal = "SIGKILL") {
      if (current.exited) return;
      try {
        current.child.kill(signal);
      } catch {
        // Exited meanwhile.
      }
    },
    async restart() {
      await terminate(current, "SIGKILL");
      current = spawn(port, dir, persistent);
      await waitReady(current, port);
    },
    async stop() {
      await terminate(current, "SIGTERM");
      await removeDir();
    },
  };
}
