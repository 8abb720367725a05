/**
 * Several benchmark pools on one Stratum port: `reuse_port` processes with `--instance
 * 0…N−1`, each started through the launcher as an operator starts it (so `--instance` shifts its
 * metrics port: base + instance), each pinned to its own CPU list, events off, the benchmark
 * config of bench_pool.ts. The kernel spreads the miners' connections over them.
 */
import { pickFreePortRun } from "../../tools/loadtest/pool_fleet.ts";
import { pickFreePort } from "../support/servers/nats_server.ts";
import { benchConfig, type BenchDevnet, type BenchPool } from "./bench_pool.ts";
import type { BenchProcess } from "./bench_process.ts";
import { type InstanceSpec, startInstances } from "./instance_pools.ts";

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
  const spawned: BenchProcess[] = [];
  const stopAll = () => Promise.all(spawned.map((p) => p.stop()));
  try {
    const specs: InstanceSpec[] = [];
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
      const cpus = options.cpusOf(instance);
      specs.push({ instance, configPath, tempDir: dir, ...(cpus === undefined ? {} : { cpus }) });
    }
    const started = await startInstances(
      specs,
      { readyTimeoutMs: READY_TIMEOUT_MS, killAfterMs: KILL_AFTER_MS },
      spawned,
    );
    const pools: InstancePool[] = [];
    for (const p of started) {
      const metricsPort = metricsBase + p.instance;
      pools.push({
        instance: p.instance,
        stratumPort,
        metricsPort,
        servicePid: p.servicePid,
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
