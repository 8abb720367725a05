/**
 * Starts the real pool for a benchmark: like tests/support/pool_process.ts (through the launcher,
 * so the service runs with exactly its derived permissions) but pinned to CPUs with `taskset`,
 * with the benchmark config (huge fixed difficulty, rate limits raised for one source IP), and
 * exposing the service process id (the launcher's child) for /proc readings. With `inspect`
 * the service is started directly with the launcher's flags plus `--inspect` on a free loopback
 * port, and an inspector session is attached (for CPU profiles of a window and heap sizes).
 */
import { fileURLToPath } from "node:url";
import { pickFreePort } from "../support/servers/nats_server.ts";
import { spawnBenchProcess } from "./bench_process.ts";
import { InspectorSession } from "./inspector_session.ts";
import { childPids } from "./proc_stats.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The devnet the pool is pointed at. */
export interface BenchDevnet {
  readonly rpcPort: number;
  readonly zmqUrl: string;
  readonly user: string;
  readonly password: string;
}

/** How to start the pool. */
export interface BenchPoolOptions {
  /** `taskset -c` CPU list, e.g. "0"; unpinned when absent. */
  readonly cpus?: string;
  /** Merged over the benchmark config. */
  readonly overrides?: Record<string, unknown>;
  /** Start the service with `--inspect` and attach a session (profiling runs only). */
  readonly inspect?: boolean;
  /** Extra environment, e.g. `DENO_V8_FLAGS: "--trace-gc"` for a diagnosis run. */
  readonly env?: Record<string, string>;
}

/** A running benchmark pool. */
export interface BenchPool {
  readonly stratumPort: number;
  readonly metricsPort: number;
  /** The `deno run … stratum/main.ts` process (what is measured). */
  readonly servicePid: number;
  readonly logs: Record<string, unknown>[];
  /** The attached inspector when started with `inspect`, else null. */
  readonly inspector: InspectorSession | null;
  /** Waits for a JSON log line matching `predicate` (bounded). */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** GET /metrics as text. */
  metrics(): Promise<string>;
  /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code. */
  stop(): Promise<number>;
}

/** Difficulty every share is measured against: far above anything a random nonce reaches. */
export const BENCH_DIFFICULTY = 1e12;

/**
 * `deno` arguments that start the stratum service as production does (`tools/launch.ts run`, the
 * launcher's derived flags); `serviceArgs` go to the service (e.g. `--instance N`).
 */
export function launchStratumArgs(
  configPath: string,
  serviceArgs: readonly string[] = [],
): string[] {
  return [
    "run",
    "--allow-read",
    "--allow-run",
    "--allow-env=INIT_CWD",
    "tools/launch.ts",
    "run",
    "stratum",
    "--config",
    configPath,
    ...(serviceArgs.length === 0 ? [] : ["--", ...serviceArgs]),
  ];
}

/** The benchmark config: fixed huge difficulty, per-IP limits raised (all load is 127.0.0.1). */
export function benchConfig(
  devnet: BenchDevnet,
  stratumPort: number,
  metricsPort: number,
): Record<string, unknown> {
  return {
    network: "regtest",
    btcd: [{
      url: `127.0.0.1:${devnet.rpcPort}`,
      auth: devnet.user,
      pass: devnet.password,
      notify: true,
    }],
    btcsig: "/TheBitcoinGame-bench/",
    serverurl: [`127.0.0.1:${stratumPort}`],
    startdiff: BENCH_DIFFICULTY,
    mindiff: BENCH_DIFFICULTY,
    maxdiff: 0,
    zmqblock: devnet.zmqUrl,
    metrics: { enabled: true, host: "127.0.0.1", port: metricsPort, path: "/metrics" },
    region: "eu",
    events: { enabled: false },
    rate_limits: {
      connections_per_ip_per_minute: 65535,
      max_connections_per_ip: 65535,
      max_shares_per_minute: 65535,
      max_invalid_shares_per_minute: 65535,
      max_requests_per_minute: 65535,
      max_invalid_requests_per_minute: 65535,
    },
  };
}

async function launcherFlags(configPath: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env=INIT_CWD",
      "tools/launch.ts",
      "flags",
      "stratum",
      "--config",
      configPath,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot get launcher flags: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim().split(/\s+/);
}

/** Starts the pool against `devnet`; resolves once it logged "pool ready". */
export async function startBenchPool(
  devnet: BenchDevnet,
  options: BenchPoolOptions = {},
): Promise<BenchPool> {
  const stratumPort = pickFreePort();
  const metricsPort = pickFreePort();
  const dir = await Deno.makeTempDir({ prefix: "tbg-bench-pool-" });
  const configPath = `${dir}/stratum.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      ...benchConfig(devnet, stratumPort, metricsPort),
      blocks_dir: `${dir}/blocks`,
      ...options.overrides,
    }),
  );
  const inspectorPort = options.inspect === true ? pickFreePort() : null;
  const denoArgs = inspectorPort === null ? launchStratumArgs(configPath) : [
    "run",
    "--no-prompt",
    `--inspect=127.0.0.1:${inspectorPort}`,
    ...await launcherFlags(configPath),
    "stratum/main.ts",
    "--config",
    configPath,
  ];
  const spawned = spawnBenchProcess({
    denoArgs,
    cpus: options.cpus,
    env: options.env,
    tempDir: dir,
    killAfterMs: 15_000,
  });
  const logs = spawned.logs.logs;
  const waitForLog = (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000) =>
    spawned.logs.waitFor(predicate, timeoutMs, "pool");

  let inspectorRef: InspectorSession | null = null;
  const stop = async (): Promise<number> => {
    inspectorRef?.close();
    return await spawned.stop();
  };

  try {
    await waitForLog((l) => l.msg === "pool ready", 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  let servicePid = spawned.pid;
  if (inspectorPort === null) {
    const children = await childPids(spawned.pid);
    if (children.length !== 1) {
      await stop();
      throw new Error(`Cannot find the pool service: launcher has children ${children}`);
    }
    servicePid = children[0]!;
  }
  let inspector: InspectorSession | null = null;
  if (inspectorPort !== null) {
    try {
      inspector = await InspectorSession.connect(inspectorPort);
      inspectorRef = inspector;
    } catch (e) {
      await stop();
      throw e;
    }
  }
  return {
    stratumPort,
    metricsPort,
    servicePid,
    logs,
    inspector,
    waitForLog,
    async metrics() {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return await response.text();
    },
    stop,
  };
}
