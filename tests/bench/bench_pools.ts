/**
 * Several benchmark pools on one Stratum port: `reuse_port` processes with `--instance
 * 0…N−1`, each started through the launcher as an operator starts it (so `--instance` shifts its
 * metrics port: base + instance), each pinned to its own CPU list, events off, the benchmark
 * config of bench_pool.ts. The kernel spreads the miners' connections over them.
 */
import { pickFreePortRun } from "../../tools/loadtest/pool_fleet.ts";
import { pickFreePort } from "../support/servers/nats_server.ts";
import { benchConfig, type BenchDevnet, type BenchPool, launchStratumArgs } from "./bench_pool.ts";
import { type BenchProcess, spawnBenchProcess } from "./bench_process.ts";
import { childPids } from "./proc_stats.ts";

/** How long all pools together may take to log "pool ready" (they start side by side). */
const READY_TIMEOUT_MS = 120_000;
/** SIGKILL this long after SIGTERM. */
const KILL_AFTER_MS = 15_000;

/** One pool of the set: a {@link BenchPool} with its instance index. */
export interface InstancePool extends BenchPool {
  readonly instance: number;
}

/** How to start the set. */
export interface BenchPoolsOptions {
  /** Processes (instances 0…count−1). */
  readonly count: number;
  /** `taskset -c` CPU list of instance `i`; unpinned when it returns undefined. */
  readonly cpusOf: (instance: number) => string | undefined;
  /** Merged over the benchmark config of every pool. */
  readonly overrides?: Record<string, unknown>;
}

/** Starts `options.count` pools sharing one port; stops all of them if any fails to start. */
export async function startBenchPools(
  devnet: BenchDevnet,
  options: BenchPoolsOptions,
): Promise<InstancePool[]> {
  const stratumPort = pickFreePort();
  const metricsBase = pickFreePortRun(options.count);
  const started: { instance: number; process: BenchProcess }[] = [];
  const stopAll = () => Promise.all(started.map((p) => p.process.stop()));
  try {
    for (let instance = 0; instance < options.count; instance++) {
      const dir = await Deno.makeTempDir({ prefix: `tbg-bench-pool-${instance}-` });
      const configPath = `${dir}/stratum.json`;
      await Deno.writeTextFile(
        configPath,
        JSON.stringify({
          ...benchConfig(devnet, stratumPort, metricsBase),
          reuse_port: true,
          blocks_dir: `${dir}/blocks`,
          ...options.overrides,
        }),
      );
      started.push({
        instance,
        process: spawnBenchProcess({
          denoArgs: launchStratumArgs(configPath, ["--instance", String(instance)]),
          cpus: options.cpusOf(instance),
          tempDir: dir,
          killAfterMs: KILL_AFTER_MS,
        }),
      });
    }
    await Promise.all(
      started.map((p) =>
        p.process.logs.waitFor(
          (l) => l.msg === "pool ready",
          READY_TIMEOUT_MS,
          `pool ${p.instance}`,
        )
      ),
    );
    const pools: InstancePool[] = [];
    for (const p of started) {
      const children = await childPids(p.process.pid);
      if (children.length !== 1) {
        throw new Error(`Cannot find pool ${p.instance}'s service: launcher has ${children}`);
      }
      const metricsPort = metricsBase + p.instance;
      pools.push({
        instance: p.instance,
        stratumPort,
        metricsPort,
        servicePid: children[0]!,
        logs: p.process.logs.logs,
        inspector: null,
        waitForLog: (predicate, timeoutMs = 30_000) =>
          p.process.logs.waitFor(predicate, timeoutMs, `pool ${p.instance}`),
        async metrics() {
          const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
          return await response.text();
        },
        stop: () => p.process.stop(),
      });
    }
    return pools;
  } catch (e) {
    await stopAll();
    throw e;
  }
}
