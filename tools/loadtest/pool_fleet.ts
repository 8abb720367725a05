/**
 * What the load test runs against: a real nats-server with JetStream and the MINING_EVENTS
 * stream, a devnet node in this process, and N stratum pool processes sharing one Stratum port
 * (`reuse_port`, `--instance 0…N−1`, each started through `tools/launch.ts` as an operator
 * starts it, so each gets `--nofile-limit` and the launcher's flags). Events are on: every
 * answered share is published to JetStream. The pools use the benchmark config (a difficulty no
 * random nonce reaches, so every share is answered "low difficulty" and none is a block; per-IP
 * limits raised, since every miner comes from 127.0.0.x).
 */
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { miningEventsStreamConfig } from "@tbg/shared/nats";
import { benchConfig } from "../../tests/bench/bench_pool.ts";
import type { BenchProcess } from "../../tests/bench/bench_process.ts";
import { DIFFICULTY_1_BITS } from "../../tests/bench/bench_setup.ts";
import { type InstanceSpec, startInstances } from "../../tests/bench/instance_pools.ts";
import { type Devnet, startDevnet } from "../../tests/support/devnet/mod.ts";
import { type NatsServerHandle, startNatsServer } from "../../tests/support/servers/nats_server.ts";

/** The stream keeps at most this many bytes (oldest dropped) so a long run cannot fill the disk. */
const STREAM_MAX_BYTES = 2 * 1024 ** 3;
/** How long all pools together may take to log "pool ready" (they start side by side). */
const POOLS_READY_TIMEOUT_MS = 180_000;
/** SIGKILL this long after SIGTERM if a pool has not drained. */
const POOL_KILL_AFTER_MS = 20_000;

/** One running pool process. */
export interface FleetPool {
  readonly instance: number;
  /** The service (`deno run … stratum/main.ts`), the launcher's child: what is measured. */
  readonly servicePid: number;
  readonly metricsPort: number;
  readonly process: BenchProcess;
}

/** Everything the load test started, to read and to stop. */
export interface PoolFleet {
  readonly stratumPort: number;
  readonly nats: NatsServerHandle;
  readonly devnet: Devnet;
  readonly pools: readonly FleetPool[];
  /** GET /metrics of every pool, in instance order. */
  scrape(): Promise<string[]>;
  /** Stops pools (SIGTERM, they drain), then the devnet and nats-server. Idempotent. */
  stop(): Promise<void>;
}

/** A free loopback port, and `count − 1` free ports after it (the instances' metrics ports). */
export function pickFreePortRun(count: number): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      }
      return base;
    } catch {
      // One of them is taken: try another base.
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error(`Cannot find ${count} consecutive free loopback ports in 50 attempts`);
}

/** Scrape attempts per pool, and the pause between them (a loaded pool may drop one). */
const SCRAPE_ATTEMPTS = 3;
const SCRAPE_RETRY_MS = 1_000;
const SCRAPE_TIMEOUT_MS = 10_000;

async function scrapeWithRetries(pool: { instance: number; metricsPort: number }): Promise<string> {
  let last: unknown = null;
  for (let attempt = 0; attempt < SCRAPE_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, SCRAPE_RETRY_MS));
    try {
      const response = await fetch(`http://127.0.0.1:${pool.metricsPort}/metrics`, {
        signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
      });
      if (response.ok) return await response.text();
      await response.body?.cancel();
      last = new Error(`HTTP ${response.status}`);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(
    `Cannot scrape pool ${pool.instance} in ${SCRAPE_ATTEMPTS} attempts: ${
      last instanceof Error ? last.message : String(last)
    }`,
  );
}

async function provisionStream(nats: NatsServerHandle): Promise<void> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ ...miningEventsStreamConfig(), max_bytes: STREAM_MAX_BYTES });
  } finally {
    await nc.close();
  }
}

/**
 * Starts nats-server, the devnet and `processes` pools; everything started is stopped on failure.
 * `v8Flags` (comma-separated, may be empty) go to the pools only, as `DENO_V8_FLAGS`.
 */
export async function startPoolFleet(processes: number, v8Flags = ""): Promise<PoolFleet> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };
  try {
    const nats = await startNatsServer({ jetstream: true });
    cleanups.push(() => nats.stop());
    await provisionStream(nats);
    const devnet = await startDevnet({ bits: DIFFICULTY_1_BITS, mempoolTarget: 0 });
    cleanups.push(() => devnet.stop());
    const stratumPort = pickFreePortRun(1);
    const metricsBase = pickFreePortRun(processes);
    const dir = await Deno.makeTempDir({ prefix: "tbg-loadtest-" });
    cleanups.push(() => Deno.remove(dir, { recursive: true }));
    const configPath = `${dir}/stratum.json`;
    await Deno.writeTextFile(
      configPath,
      JSON.stringify({
        ...benchConfig(devnet, stratumPort, metricsBase),
        reuse_port: true,
        events: { enabled: true, nats_url: nats.url, spool_dir: `${dir}/spool` },
      }),
    );
    const spawned: BenchProcess[] = [];
    cleanups.push(() => Promise.all(spawned.map((p) => p.stop())));
    const specs: InstanceSpec[] = [];
    for (let instance = 0; instance < processes; instance++) {
      // Each instance spools into its own directory (the spool is locked per process).
      const instanceConfig = `${dir}/stratum-${instance}.json`;
      const config = JSON.parse(await Deno.readTextFile(configPath));
      config.events.spool_dir = `${dir}/spool-${instance}`;
      config.blocks_dir = `${dir}/blocks-${instance}`;
      await Deno.writeTextFile(instanceConfig, JSON.stringify(config));
      const tempDir = await Deno.makeTempDir({ prefix: `tbg-loadtest-pool-${instance}-` });
      specs.push({
        instance,
        configPath: instanceConfig,
        tempDir,
        ...(v8Flags === "" ? {} : { env: { DENO_V8_FLAGS: v8Flags } }),
      });
    }
    const started = await startInstances(
      specs,
      { readyTimeoutMs: POOLS_READY_TIMEOUT_MS, killAfterMs: POOL_KILL_AFTER_MS },
      spawned,
    );
    const pools: FleetPool[] = started.map((p) => ({
      instance: p.instance,
      servicePid: p.servicePid,
      metricsPort: metricsBase + p.instance,
      process: p.process,
    }));
    let stopping: Promise<void> | null = null;
    return {
      stratumPort,
      nats,
      devnet,
      pools,
      scrape: () => Promise.all(pools.map((p) => scrapeWithRetries(p))),
      stop: () => stopping ??= stopAll(),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
