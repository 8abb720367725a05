/**
 * The multi-region simulation (Phase 4 §9.1) on one machine, with real processes throughout:
 *
 * - NATS: the hub (JetStream domain `hub`, MINING_EVENTS sourcing every leaf) and one leaf per
 *   relay region, each leaf's link to the hub through a latency bridge (US-East 80 ms, Asia
 *   150–180 ms with jitter by default), from `startNatsTopology`;
 * - the Bitcoin network: one devnet node per region on one chain, every pair linked with the
 *   regions' delay (a separate process, `devnet_mesh_main.ts`);
 * - the primary pool (EU) publishing templates, one relay per region on its leaf and its own
 *   node, the collector on the hub writing to PostgreSQL and Redis, all started with the flags
 *   their configs imply;
 * - support CPU miners in every region.
 *
 * Failure switches for the scenarios: crash or stop and start any service, cut a region off
 * (NATS link and block relay to the primary's region) and heal it, kill and restart the hub.
 * `snapshot()` gives the live summary's numbers. Used by `tools/sim.ts` and
 * `tests/multi_region_test.ts`.
 *
 * @module
 */
import { connect, type NatsConnection } from "nats";
import { jetstreamManager } from "nats/jetstream";
import postgres from "postgres";
import { MINING_EVENTS_STREAM_NAME, regionEventsStreamName } from "@tbg/shared/nats";
import { regtestAddress } from "../addresses.ts";
import type { PartitionSpec } from "../latency_bridge.ts";
import { pickFreePort } from "../servers/nats_server.ts";
import { type NatsTopology, startNatsTopology } from "../servers/nats_topology.ts";
import { type PostgresServerHandle, startPostgres } from "../servers/postgres_server.ts";
import { type RedisServerHandle, startRedisServer } from "../servers/redis_server.ts";
import { type DevnetMeshProcess, startDevnetMeshProcess } from "./devnet_mesh_process.ts";
import { type MinerCounts, type MinerProcess, startMinerProcess } from "./miner_process.ts";
import { type PromSample, sampleValue, scrape, sumValues } from "./prom_text.ts";
import {
  collectorConfig,
  type NodeEndpoint,
  primaryConfig,
  relayConfig,
  type StratumPlacement,
} from "./service_configs.ts";
import {
  planSimulation,
  PRIMARY_REGION,
  type RelayRegionSpec,
  type SimOptions,
  type SimPlan,
} from "./sim_options.ts";
import { type ServiceProcess, startServiceProcess } from "./service_process.ts";
import type { RegionMode, RegionSnapshot, SimSnapshot } from "./summary.ts";

/** A region's Stratum service (the primary pool or a relay) and where it listens. */
export interface RegionService {
  readonly region: string;
  readonly role: "primary" | "relay";
  readonly service: ServiceProcess;
  readonly stratumPort: number;
  readonly metricsPort: number;
  /** `http://127.0.0.1:<metrics port>/metrics`. */
  readonly metricsUrl: string;
  /** `http://127.0.0.1:<metrics port>/health`. */
  readonly healthUrl: string;
  /** The region's devnet node. */
  readonly node: NodeEndpoint;
  /** The service's event spool directory. */
  readonly spoolDir: string;
  /** Where the service keeps the blocks it finds. */
  readonly blocksDir: string;
}

/** A running simulation. */
export interface Simulation {
  readonly plan: SimPlan;
  readonly topology: NatsTopology;
  readonly mesh: DevnetMeshProcess;
  readonly postgresUrl: string;
  readonly redisUrl: string;
  /** The pipeline's PostgreSQL server (disaster drills kill it and restore in its place). */
  readonly postgres: PostgresServerHandle;
  /** The pipeline's Redis server. */
  readonly redis: RedisServerHandle;
  /** Queries on the pipeline's PostgreSQL. */
  readonly sql: postgres.Sql;
  /** A connection to the hub (reconnects after a hub restart). */
  readonly hub: NatsConnection;
  readonly collector: ServiceProcess;
  /** Every region's service, primary first. */
  readonly services: readonly RegionService[];
  /** One region's service. @throws {RangeError} for an unknown region. */
  service(region: string): RegionService;
  /** Miners running now (those stopped or disconnected are dropped from the list by `stopMiners`). */
  miners(region?: string): MinerProcess[];
  /** Starts `count` more miners in a region (default the plan's miners per region). */
  startMiners(region: string, count?: number): Promise<MinerProcess[]>;
  /** Stops a region's miners (each waits for its submits' answers); returns their final counts. */
  stopMiners(region: string): Promise<{ miner: MinerProcess; counts: MinerCounts }[]>;
  /** Cuts a relay region off the primary's region: its leaf's link and its node's block relay. */
  partition(region: string, spec?: PartitionSpec): Promise<void>;
  /** Restores what {@link partition} cut. */
  heal(region: string): Promise<void>;
  /** Messages of one region in its leaf's edge stream. */
  edgeStreamCount(region: string): Promise<number>;
  /** Messages of one region in the hub's MINING_EVENTS. */
  hubStreamCount(region: string): Promise<number>;
  /** The live summary's numbers. */
  snapshot(): Promise<SimSnapshot>;
  /**
   * Waits until the events in PostgreSQL stop growing for `quietMs` (after the miners stopped,
   * the pipeline drains), at most `timeoutMs`; returns the count.
   */
  settle(quietMs: number, timeoutMs: number): Promise<number>;
  /** Stops everything (miners, relays, primary, collector, nodes, servers). Idempotent. */
  stop(): Promise<StopReport>;
}

/** Exit codes of the services at stop (null when the service was not running). */
export interface StopReport {
  readonly exitCodes: Readonly<Record<string, number | null>>;
}

/** Options of {@link startSimulation}: the plan's, plus progress messages. */
export interface StartSimulationOptions extends SimOptions {
  /** Called with a line as each part comes up. */
  readonly onProgress?: (line: string) => void;
  /** Extra PostgreSQL server settings, e.g. WAL archiving for a disaster-recovery drill. */
  readonly postgresSettings?: Readonly<Record<string, string>>;
}

const ADDRESS_SEEDS_PER_REGION = 100;

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2));
}

async function startRegionService(
  role: "primary" | "relay",
  region: string,
  node: NodeEndpoint,
  dir: string,
  config: (placement: StratumPlacement) => Record<string, unknown>,
): Promise<RegionService> {
  const placement: StratumPlacement = {
    stratumPort: pickFreePort(),
    metricsPort: pickFreePort(),
    spoolDir: `${dir}/spool-${region}`,
    blocksDir: `${dir}/blocks-${region}`,
  };
  const configPath = `${dir}/${role}-${region}.json`;
  await writeJson(configPath, config(placement));
  const service = await startServiceProcess({
    kind: role === "primary" ? "stratum" : "relay",
    name: `${role} ${region}`,
    configPath,
  });
  const base = `http://127.0.0.1:${placement.metricsPort}`;
  return {
    region,
    role,
    service,
    stratumPort: placement.stratumPort,
    metricsPort: placement.metricsPort,
    metricsUrl: `${base}/metrics`,
    healthUrl: `${base}/health`,
    node,
    spoolDir: placement.spoolDir,
    blocksDir: placement.blocksDir,
  };
}

/**
 * Starts the whole simulation and its miners.
 *
 * @param options Plan options (regions, miners, block rate) and a progress callback.
 * @returns The running simulation.
 * @throws {RangeError} For a bad option, before anything starts.
 * @throws {Error} If a part does not start (naming it); whatever started is stopped first.
 */
export async function startSimulation(options: StartSimulationOptions = {}): Promise<Simulation> {
  const plan = planSimulation(options);
  const progress = options.onProgress ?? (() => {});
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };
  const dir = await Deno.makeTempDir({ prefix: "tbg-sim-" });
  stops.push(() => Deno.remove(dir, { recursive: true }));

  try {
    const relayLinks = plan.relays.map((relay) => ({
      a: PRIMARY_REGION,
      b: relay.region,
      delayMs: relay.link.delayMs + relay.link.jitterMs / 2,
    }));
    // Between two relay regions, about the longer of their paths to the primary's region.
    const crossLinks = plan.relays.flatMap((x, i) =>
      plan.relays.slice(i + 1).map((y) => ({
        a: x.region,
        b: y.region,
        delayMs: Math.max(x.link.delayMs, y.link.delayMs),
      }))
    );
    const [topology, mesh, redis, pg] = await Promise.all([
      startNatsTopology({
        leaves: plan.relays.map((relay) => ({ region: relay.region, link: relay.link })),
      }).then((t) => (stops.push(() => t.stop()), t)),
      startDevnetMeshProcess({
        regions: plan.regions,
        bits: plan.bits,
        links: [...relayLinks, ...crossLinks],
      }).then((m) => (stops.push(() => m.stop()), m)),
      startRedisServer().then((r: RedisServerHandle) => (stops.push(() => r.stop()), r)),
      startPostgres({
        database: "tbg_sim",
        ...(options.postgresSettings === undefined ? {} : { settings: options.postgresSettings }),
      }).then((
        p: PostgresServerHandle,
      ) => (stops.push(() => p.stop()), p)),
    ]);
    progress(
      `nats          hub ${topology.hub.url}; leaves ${
        topology.leaves.map((l) => `${l.region} ${l.url} (link ${describeLink(plan, l.region)})`)
          .join(", ")
      }`,
    );
    progress(
      `devnet        ${
        plan.regions.map((r) => `${r} ${mesh.node(r).rpcUrl}`).join(", ")
      }; network difficulty ${plan.networkDifficulty.toPrecision(3)}`,
    );
    progress(`redis         ${redis.url}`);
    progress(`postgresql    ${pg.url}`);

    const collectorPath = `${dir}/collector.json`;
    const collectorMetricsPort = pickFreePort();
    await writeJson(
      collectorPath,
      collectorConfig(
        topology.hub.url,
        pg.url,
        redis.url,
        collectorMetricsPort,
        topology.hub.monitorUrl,
      ),
    );
    const collector = await startServiceProcess({
      kind: "collector",
      name: "collector",
      configPath: collectorPath,
    });
    stops.push(() => collector.running ? collector.stop() : Promise.resolve());
    progress(
      `collector     on the hub, migrations applied  http://127.0.0.1:${collectorMetricsPort}/metrics`,
    );

    const primaryNode = mesh.node(PRIMARY_REGION);
    const primary = await startRegionService(
      "primary",
      PRIMARY_REGION,
      primaryNode,
      dir,
      (placement) => primaryConfig(plan, primaryNode, placement, topology.hub.url),
    );
    stops.push(() => primary.service.running ? primary.service.stop() : Promise.resolve());
    progress(
      `primary eu    stratum+tcp://127.0.0.1:${primary.stratumPort}  ${primary.metricsUrl}`,
    );

    const relays = await Promise.all(plan.relays.map(async (relay: RelayRegionSpec) => {
      const node = mesh.node(relay.region);
      const leaf = topology.leaf(relay.region);
      const service = await startRegionService(
        "relay",
        relay.region,
        node,
        dir,
        (placement) => relayConfig(plan, relay, node, placement, leaf.server.port),
      );
      stops.push(() => service.service.running ? service.service.stop() : Promise.resolve());
      progress(
        `relay ${
          relay.region.padEnd(7)
        } stratum+tcp://127.0.0.1:${service.stratumPort}  ${service.metricsUrl}`,
      );
      return service;
    }));
    const services = [primary, ...relays];

    const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
    stops.push(() => sql.end({ timeout: 5 }));
    const hub = await connect({
      servers: topology.hub.url,
      name: "sim-observer",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    stops.push(() => hub.close());
    const leafConnections = new Map<string, NatsConnection>();
    for (const leaf of topology.leaves) {
      const nc = await connect({ servers: leaf.url, name: `sim-observer-${leaf.region}` });
      stops.push(() => nc.close());
      leafConnections.set(leaf.region, nc);
    }

    const running: MinerProcess[] = [];
    let minerSeed = 0;
    const service = (region: string): RegionService => {
      const found = services.find((s) => s.region === region);
      if (found === undefined) {
        throw new RangeError(`Cannot find region "${region}": have ${plan.regions.join(", ")}`);
      }
      return found;
    };
    const startMiners = async (region: string, count = plan.minersPerRegion) => {
      const target = service(region);
      const regionIndex = plan.regions.indexOf(region);
      const started = await Promise.all(Array.from({ length: count }, () => {
        const n = ++minerSeed;
        const { address } = regtestAddress(
          "p2wpkh",
          regionIndex * ADDRESS_SEEDS_PER_REGION + (n % ADDRESS_SEEDS_PER_REGION),
        );
        return startMinerProcess({
          name: `${region}-${n}`,
          region,
          url: `127.0.0.1:${target.stratumPort}`,
          username: `${address}.${region}-${n}`,
          maxHashrate: plan.minerHashrate,
          versionRolling: n % 2 === 0,
        });
      }));
      running.push(...started);
      return started;
    };
    const stopMiners = async (region: string) => {
      const mine = running.filter((miner) => miner.region === region);
      const results = await Promise.all(
        mine.map(async (miner) => ({ miner, counts: await miner.stop() })),
      );
      for (const miner of mine) running.splice(running.indexOf(miner), 1);
      return results;
    };
    stops.push(async () => {
      await Promise.all(running.map((miner) => miner.stop()));
      running.length = 0;
    });
    for (const region of plan.regions) await startMiners(region);
    progress(
      `miners        ${plan.minersPerRegion} per region, ${plan.minerHashrate} H/s each; ` +
        `a block every ~${plan.expectedBlockIntervalS.toFixed(1)} s at full speed`,
    );

    const startedAt = Date.now();
    let stopping: Promise<StopReport> | null = null;
    const streamCount = async (nc: NatsConnection, stream: string, filter: string) => {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream, { subjects_filter: filter });
      return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
    };

    return {
      plan,
      topology,
      mesh,
      postgresUrl: pg.url,
      redisUrl: redis.url,
      postgres: pg,
      redis,
      sql,
      hub,
      collector,
      services,
      service,
      miners: (region) =>
        running.filter((miner) => region === undefined || miner.region === region),
      startMiners,
      stopMiners,
      async partition(region, spec = { mode: "reset" }) {
        if (region === PRIMARY_REGION) {
          throw new RangeError("Cannot partition the primary region from itself");
        }
        topology.leaf(region).bridge.partition(spec);
        await mesh.pause(PRIMARY_REGION, region);
      },
      async heal(region) {
        topology.leaf(region).bridge.heal();
        await mesh.resume(PRIMARY_REGION, region);
      },
      edgeStreamCount(region) {
        const nc = leafConnections.get(region);
        if (nc === undefined) throw new RangeError(`Cannot find the leaf of "${region}"`);
        return streamCount(nc, regionEventsStreamName(region), `mining.events.${region}.>`);
      },
      hubStreamCount: (region) =>
        streamCount(hub, MINING_EVENTS_STREAM_NAME, `mining.events.${region}.>`),
      snapshot: () => takeSnapshot(sql, mesh, services, Date.now() - startedAt),
      async settle(quietMs, timeoutMs) {
        const count = async () =>
          Number((await sql<{ n: string }[]>`SELECT count(*)::int8 AS n FROM mining_events`)[0]?.n);
        const deadline = Date.now() + timeoutMs;
        let last = await count();
        let quietSince = Date.now();
        while (Date.now() < deadline && Date.now() - quietSince < quietMs) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          const now = await count();
          if (now !== last) quietSince = Date.now();
          last = now;
        }
        return last;
      },
      stop() {
        stopping ??= (async () => {
          const exitCodes: Record<string, number | null> = {};
          await Promise.all(running.map((miner) => miner.stop()));
          running.length = 0;
          for (const s of [...relays, primary]) {
            exitCodes[s.service.name] = s.service.running ? await s.service.stop() : null;
          }
          exitCodes.collector = collector.running ? await collector.stop() : null;
          await stopAll();
          return { exitCodes };
        })();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function describeLink(plan: SimPlan, region: string): string {
  const relay = plan.relays.find((r) => r.region === region);
  if (relay === undefined) return "?";
  const { delayMs, jitterMs } = relay.link;
  return jitterMs > 0 ? `${delayMs}–${delayMs + jitterMs} ms` : `${delayMs} ms`;
}

async function takeSnapshot(
  sql: postgres.Sql,
  mesh: DevnetMeshProcess,
  services: readonly RegionService[],
  elapsedMs: number,
): Promise<SimSnapshot> {
  const [status, events, blocks, scrapes] = await Promise.all([
    mesh.status().catch(() => undefined),
    sql<{ region: string; n: string }[]>`
      SELECT region, count(*)::int8 AS n FROM mining_events GROUP BY region`.catch(() => []),
    sql<{ region: string; n: string }[]>`
      SELECT region, count(*)::int8 AS n FROM mining_events
      WHERE event_type = 'block_found' AND (payload->>'accepted')::boolean
      GROUP BY region`.catch(() => []),
    Promise.all(services.map((s) => scrape(s.metricsUrl, 2_000).catch(() => undefined))),
  ]);
  const countOf = (rows: readonly { region: string; n: string }[], region: string) =>
    Number(rows.find((row) => row.region === region)?.n ?? 0);
  const regions = services.map((s, i): RegionSnapshot => {
    const samples = scrapes[i];
    return regionSnapshot(s, samples, countOf(blocks, s.region), countOf(events, s.region));
  });
  return {
    elapsedMs,
    height: status?.nodes[PRIMARY_REGION]?.height ?? 0,
    regions,
    eventsPersisted: events.reduce((sum, row) => sum + Number(row.n), 0),
  };
}

function regionSnapshot(
  service: RegionService,
  samples: readonly PromSample[] | undefined,
  blocks: number,
  eventsPersisted: number,
): RegionSnapshot {
  if (samples === undefined) {
    return {
      region: service.region,
      mode: "down",
      miners: 0,
      sharesAccepted: 0,
      sharesRejected: 0,
      sharesStale: 0,
      blocks,
      eventsPersisted,
    };
  }
  let mode: RegionMode = "primary";
  if (service.role === "relay") {
    mode = sampleValue(samples, "ckpool_relay_independent_mode") === 1
      ? "independent"
      : "passthrough";
  }
  const latency = sampleValue(samples, "ckpool_relay_template_latency_ms");
  const rtt = sampleValue(samples, "ckpool_relay_primary_rtt_ms");
  return {
    region: service.region,
    mode,
    miners: sampleValue(samples, "ckpool_connected_miners") ?? 0,
    sharesAccepted: sumValues(samples, "ckpool_shares_total", { valid: "true" }),
    sharesRejected: sumValues(samples, "ckpool_shares_total", { valid: "false" }),
    sharesStale: sampleValue(samples, "ckpool_stale_shares_total") ?? 0,
    blocks,
    eventsPersisted,
    // The gauge reads 0 until the first live template (a replayed one carries no latency).
    ...(latency === undefined || latency === 0 ? {} : { templateLatencyMs: latency }),
    ...(rtt === undefined ? {} : { primaryRttMs: rtt }),
  };
}
