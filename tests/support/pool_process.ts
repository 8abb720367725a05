/**
 * Runs the real Stratum pool as a child process through the launcher (so the service gets exactly
 * the permissions its config implies), against a devnet node. Tests read its JSON log lines.
 */
import { fileURLToPath } from "node:url";
import { JsonLogCollector } from "./json_log_collector.ts";
import { pickFreePort } from "./servers/nats_server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * `deno run … tools/launch.ts run <kind> --config <file> [-- args]` from the repo root: the
 * service as an operator starts it, with the permissions its config implies. With
 * `options.nofile` it runs under `ulimit -n <nofile>` (bash), as a host with a low limit would.
 * With `options.faketime` (a libfaketime offset such as `+1h`) the launcher and the service it
 * starts see the wall clock shifted by it, as on a host whose NTP is broken (Debian `faketime`;
 * its LD_PRELOAD shifts `clock_gettime`, which V8's `Date.now()` reads). The library is preloaded
 * through the environment, not the `faketime` program, which forks and would not pass SIGTERM on.
 * With `options.v8Flags` (e.g. `--max-old-space-size=40`) the launcher and the service run with
 * those V8 flags in `DENO_V8_FLAGS`.
 */
export function launcherCommand(
  configPath: string,
  serviceArgs: readonly string[] = [],
  kind: "stratum" | "relay" = "stratum",
  options: { readonly nofile?: number; readonly faketime?: string; readonly v8Flags?: string } = {},
): Deno.Command {
  const denoArgs = [
    "run",
    "--allow-read",
    "--allow-run",
    "--allow-env=INIT_CWD",
    "tools/launch.ts",
    "run",
    kind,
    "--config",
    configPath,
    ...(serviceArgs.length > 0 ? ["--", ...serviceArgs] : []),
  ];
  // A lowered open-file limit (soft and hard) for the launcher and the service it starts.
  const [program, args] = options.nofile === undefined ? [Deno.execPath(), denoArgs] : ["bash", [
    "-c",
    `ulimit -n ${options.nofile} && exec "$@"`,
    "bash",
    Deno.execPath(),
    ...denoArgs,
  ]];
  const clock = options.faketime === undefined
    ? {}
    : { LD_PRELOAD: libfaketimePath(), FAKETIME: options.faketime, FAKETIME_NO_CACHE: "1" };
  // DENO_V8_FLAGS adds to the launcher's own --v8-flags (both apply), as
  // `Environment=DENO_V8_FLAGS=…` in a unit would.
  const v8 = options.v8Flags === undefined ? {} : { DENO_V8_FLAGS: options.v8Flags };
  return new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...clock, ...v8 },
  });
}

/**
 * Where Debian's libfaketime is (`/usr/lib/<triplet>/faketime/libfaketime.so.1`).
 *
 * @throws {Error} Naming the package when it is not installed.
 */
export function libfaketimePath(): string {
  for (const entry of Deno.readDirSync("/usr/lib")) {
    const path = `/usr/lib/${entry.name}/faketime/libfaketime.so.1`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not this triplet.
    }
  }
  throw new Error("Cannot find libfaketime.so.1: install the Debian package faketime");
}

/** A running pool process. */
export interface PoolProcess {
  readonly stratumPort: number;
  readonly metricsPort: number;
  readonly configPath: string;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Waits for a log line matching `predicate` (bounded). */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends a signal to the launcher, which forwards SIGINT, SIGTERM and SIGHUP to the pool. */
  signal(signal: Deno.Signal): void;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number>;
  readonly exited: Promise<number>;
  /** PID of the launcher (the service is its child: {@link servicePid}). */
  readonly pid: number;
}

/**
 * PID of the pool's service process, the launcher's child running `stratum/main.ts`.
 *
 * @throws {Error} If the launcher has no such child (yet, or any more).
 */
export async function servicePid(launcherPid: number): Promise<number> {
  // pgrep (procps, in tools/ensure_tools.sh) rather than /proc/<pid>/task/…/children:
  // Deno reads /proc files of other processes only with --allow-all, which the suite does not
  // give.
  const { code, stdout } = await new Deno.Command("pgrep", {
    args: ["-P", String(launcherPid), "-f", "stratum/main.ts"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const pid = Number(new TextDecoder().decode(stdout).trim().split(/\s+/)[0]);
  if (code !== 0 || !Number.isSafeInteger(pid) || pid <= 0) {
    throw new Error(`Cannot find the pool's service process under launcher ${launcherPid}`);
  }
  return pid;
}

/** Devnet connection details the pool config points at. */
export interface DevnetEndpoint {
  readonly rpcPort: number;
  readonly zmqUrl: string;
  readonly user: string;
  readonly password: string;
}

/** Options of {@link startPoolProcess}. */
export interface PoolProcessOptions {
  readonly stratumPort?: number;
  readonly serviceArgs?: readonly string[];
  /** Runs the pool under `ulimit -n <nofile>`. */
  readonly nofile?: number;
  /** Runs the pool with its wall clock shifted by this libfaketime offset (e.g. `-1h`). */
  readonly faketime?: string;
}

/** A pool config written to a temporary directory of its own. */
export interface PoolConfigFile {
  readonly dir: string;
  readonly configPath: string;
  readonly stratumPort: number;
  /** The port the process really binds (see `--instance`). */
  readonly metricsPort: number;
}

/** Writes a regtest pool config for `devnet` (plus overrides) on free ports. */
export async function writePoolConfig(
  devnet: DevnetEndpoint | readonly DevnetEndpoint[],
  overrides: Record<string, unknown> = {},
  options: Pick<PoolProcessOptions, "stratumPort" | "serviceArgs"> = {},
): Promise<PoolConfigFile> {
  const nodes = Array.isArray(devnet) ? devnet : [devnet as DevnetEndpoint];
  const stratumPort = options.stratumPort ?? pickFreePort();
  // `--instance N` shifts the HTTP ports by N: configure the port N below a free one, so the
  // port the process really binds is the free one (a free port + N may be taken).
  const args = options.serviceArgs ?? [];
  const instanceAt = args.indexOf("--instance");
  const instance = instanceAt === -1 ? 0 : Number(args[instanceAt + 1] ?? 0);
  const metricsPort = pickFreePort();
  const configuredMetricsPort = metricsPort - instance;
  const dir = await Deno.makeTempDir({ prefix: "tbg-pool-" });
  const configPath = `${dir}/stratum.json`;
  const config = {
    network: "regtest",
    btcd: nodes.map((n) => ({
      url: `127.0.0.1:${n.rpcPort}`,
      auth: n.user,
      pass: n.password,
      notify: true,
    })),
    btcsig: "/TheBitcoinGame-test/",
    blockpoll: 100,
    serverurl: [`127.0.0.1:${stratumPort}`],
    mindiff: 0.000001,
    startdiff: 0.00001,
    zmqblock: nodes[0]!.zmqUrl,
    metrics: { enabled: true, host: "127.0.0.1", port: configuredMetricsPort, path: "/metrics" },
    region: "eu",
    // Found blocks stay in the test's directory, not in the working directory's ./.tbg/blocks.
    blocks_dir: `${dir}/blocks`,
    // Tests that want events start their own nats-server and override this.
    events: { enabled: false },
    ...overrides,
  };
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
  return { dir, configPath, stratumPort, metricsPort };
}

/**
 * `tail -F` of `path` from its first line (the file may not exist yet), polled every 0.1 s; its
 * output ends when `stop` is called.
 */
function followFile(path: string): { stdout: ReadableStream<Uint8Array>; stop(): void } {
  const tail = new Deno.Command("tail", {
    args: ["-F", "-n", "+1", "-s", "0.1", path],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  return {
    stdout: tail.stdout,
    stop() {
      try {
        tail.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    },
  };
}

/** Writes a config for `devnet` (plus overrides) and starts the pool. */
export async function startPoolProcess(
  devnet: DevnetEndpoint | readonly DevnetEndpoint[],
  overrides: Record<string, unknown> = {},
  options: PoolProcessOptions = {},
): Promise<PoolProcess> {
  const { dir, configPath, stratumPort, metricsPort } = await writePoolConfig(
    devnet,
    overrides,
    options,
  );
  const child = launcherCommand(
    configPath,
    options.serviceArgs ?? [],
    "stratum",
    {
      ...(options.nofile === undefined ? {} : { nofile: options.nofile }),
      ...(options.faketime === undefined ? {} : { faketime: options.faketime }),
    },
  ).spawn();
  // With a logdir the service logs to <logdir>/stratum.log instead of stderr: follow the file.
  const follower = typeof overrides.logdir === "string"
    ? followFile(`${overrides.logdir}/stratum.log`)
    : null;
  const collector = new JsonLogCollector([
    child.stdout,
    child.stderr,
    ...(follower === null ? [] : [follower.stdout]),
  ]);
  const logs = collector.logs;
  const exited = child.status.then(async (s) => {
    follower?.stop();
    await collector.done;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return s.code;
  });
  const waitForLog = (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    collector.waitFor(predicate, timeoutMs, "pool");
  await waitForLog((l) => l.msg === "pool ready", 30_000);
  return {
    stratumPort,
    metricsPort,
    configPath,
    logs,
    waitForLog,
    exited,
    pid: child.pid,
    signal(signal: Deno.Signal) {
      child.kill(signal);
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      return await exited;
    },
  };
}
