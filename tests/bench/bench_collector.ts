/**
 * Starts the real collector service for a benchmark: `deno run <launcher flags>
 * collector/main.ts` with exactly the permissions `tools/launch.ts` derives from its config (the
 * child is the service itself, so its /proc entry is what is measured), optionally with
 * `--inspect` and an attached session for CPU profiles.
 *
 * @module
 */
import { serviceFlags } from "../../tools/launch.ts";
import { pickFreePort } from "../support/servers/nats_server.ts";
import { spawnBenchProcess } from "./bench_process.ts";
import { InspectorSession } from "./inspector_session.ts";

/** Where the collector's servers are and how it batches. */
export interface BenchCollectorOptions {
  readonly natsUrl: string;
  readonly postgresUrl: string;
  readonly redisUrl: string;
  /** `batch` section; the service default when absent. */
  readonly batch?: { readonly max_events: number; readonly max_wait_ms: number };
  /** `migrate_on_start`; default false (the bench migrates first). */
  readonly migrate?: boolean;
  /** Start with `--inspect` and attach a session. */
  readonly inspect?: boolean;
  /** `taskset -c` CPU list; unpinned when absent. */
  readonly cpus?: string;
}

/** A running collector process. */
export interface BenchCollector {
  /** The `deno run … collector/main.ts` process. */
  readonly pid: number;
  readonly metricsPort: number;
  /** `performance.timeOrigin + now()` when it logged "collector ready". */
  readonly readyEpochMs: number;
  readonly logs: Record<string, unknown>[];
  readonly inspector: InspectorSession | null;
  /** The command line, for reports. */
  readonly commandLine: string;
  /** GET /metrics as text. */
  metrics(): Promise<string>;
  /** SIGTERM (drain), SIGKILL after 20 s; resolves with the exit code. */
  stop(): Promise<number>;
}

/** Starts one collector; resolves once it logged "collector ready". */
export async function startBenchCollector(options: BenchCollectorOptions): Promise<BenchCollector> {
  const metricsPort = pickFreePort();
  const dir = await Deno.makeTempDir({ prefix: "tbg-bench-collector-" });
  const configPath = `${dir}/collector.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      nats_url: options.natsUrl,
      postgres: { url: options.postgresUrl },
      redis: { url: options.redisUrl },
      ...(options.batch === undefined ? {} : { batch: options.batch }),
      metrics: { enabled: true, host: "127.0.0.1", port: metricsPort, path: "/metrics" },
      migrate_on_start: options.migrate ?? false,
    }),
  );
  const inspectorPort = options.inspect === true ? pickFreePort() : null;
  const denoArgs = [
    "run",
    "--no-prompt",
    ...(inspectorPort === null ? [] : [`--inspect=127.0.0.1:${inspectorPort}`]),
    ...serviceFlags("collector", configPath),
    "collector/main.ts",
    "--config",
    configPath,
  ];
  const spawned = spawnBenchProcess({
    denoArgs,
    cpus: options.cpus,
    tempDir: dir,
    killAfterMs: 20_000,
  });
  const collector = spawned.logs;
  let inspector: InspectorSession | null = null;
  const stop = async (): Promise<number> => {
    inspector?.close();
    return await spawned.stop();
  };
  try {
    await collector.waitFor((l) => l.msg === "collector ready", 60_000, "collector");
    if (inspectorPort !== null) inspector = await InspectorSession.connect(inspectorPort);
  } catch (error) {
    await stop();
    throw new Error(`Cannot start the collector: ${String(error)}; logs ${collector.tail(8)}`);
  }
  const readyEpochMs = performance.timeOrigin + performance.now();
  return {
    pid: spawned.pid,
    metricsPort,
    readyEpochMs,
    logs: collector.logs,
    inspector,
    commandLine: [
      ...(options.cpus === undefined ? [] : ["taskset", "-c", options.cpus]),
      "deno",
      ...denoArgs.map((a) =>
        a.replace(configPath, "<config>").replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>")
      ),
    ].join(" "),
    async metrics() {
      return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    },
    stop,
  };
}
