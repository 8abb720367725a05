/**
 * The configs of the simulation's services, in the same JSON shape an operator writes
 * (`infra/config/*.json`): the primary pool (EU, publishing templates), one relay per region and
 * the collector. Pure builders; `service_configs_test.ts` runs each through the services' own
 * config loader.
 *
 * @module
 */
import type { RelayRegionSpec, SimPlan } from "./sim_options.ts";

/** A node the services talk to as their bitcoind. */
export interface NodeEndpoint {
  readonly rpcPort: number;
  readonly zmqUrl: string;
  readonly user: string;
  readonly password: string;
}

/** Ports and paths one Stratum service gets. */
export interface StratumPlacement {
  readonly stratumPort: number;
  readonly metricsPort: number;
  /** Directory for the event spool. */
  readonly spoolDir: string;
  /** Directory where the service keeps the blocks it finds. */
  readonly blocksDir: string;
}

/** Shared secret relays send with blocks; the primary accepts only it. */
export const SIM_RELAY_AUTH_TOKEN = "tbg-sim-relay-token";

/**
 * Limits loose enough for every miner of the simulation to come from 127.0.0.1 and reconnect
 * after each failure scenario, plus the region probes' connections.
 */
const LOOPBACK_RATE_LIMITS = {
  connections_per_ip_per_minute: 10_000,
  max_connections_per_ip: 1_000,
  max_shares_per_minute: 6_000,
};

function btcd(node: NodeEndpoint): Record<string, unknown>[] {
  return [{ url: `127.0.0.1:${node.rpcPort}`, auth: node.user, pass: node.password, notify: true }];
}

function engine(plan: SimPlan, node: NodeEndpoint, placement: StratumPlacement, tag: string) {
  return {
    network: "regtest",
    btcd: btcd(node),
    zmqblock: node.zmqUrl,
    btcsig: tag,
    // ZMQ brings new blocks at once; the poll is the fallback, kept slow on two cores.
    blockpoll: 1_000,
    update_interval: plan.updateIntervalS,
    serverurl: [`127.0.0.1:${placement.stratumPort}`],
    blocks_dir: placement.blocksDir,
    mindiff: Math.min(plan.startDifficulty / 16, 0.000001),
    startdiff: plan.startDifficulty,
    vardiff: { target_share_interval: plan.targetShareIntervalS, retarget_interval: 5 },
    metrics: { enabled: true, host: "127.0.0.1", port: placement.metricsPort, path: "/metrics" },
    rate_limits: LOOPBACK_RATE_LIMITS,
  };
}

/**
 * The primary (EU) pool: templates and heartbeats to the relays through the hub, events to the
 * hub.
 *
 * @param plan The simulation plan.
 * @param node Its bitcoind (the EU devnet).
 * @param placement Ports and spool.
 * @param hubUrl The hub's client URL.
 */
export function primaryConfig(
  plan: SimPlan,
  node: NodeEndpoint,
  placement: StratumPlacement,
  hubUrl: string,
): Record<string, unknown> {
  return {
    ...engine(plan, node, placement, "/TBG-EU/"),
    region: plan.regions[0],
    events: { enabled: true, nats_url: hubUrl, spool_dir: placement.spoolDir },
    templates: {
      publish: true,
      heartbeat_ms: plan.heartbeatMs,
      relay_auth_tokens: [SIM_RELAY_AUTH_TOKEN],
    },
  };
}

/**
 * A relay: templates, heartbeats and block submission through its region's leaf (the hub's
 * JetStream domain for the templates stream), events to the leaf.
 *
 * @param plan The simulation plan.
 * @param relay The region.
 * @param node Its local bitcoind (the region's devnet).
 * @param placement Ports and spool.
 * @param leafPort Client port of the region's leaf node on 127.0.0.1.
 */
export function relayConfig(
  plan: SimPlan,
  relay: RelayRegionSpec,
  node: NodeEndpoint,
  placement: StratumPlacement,
  leafPort: number,
): Record<string, unknown> {
  return {
    ...engine(plan, node, placement, `/TBG-${relay.region.toUpperCase()}/`),
    mode: "passthrough",
    region: relay.region,
    region_index: relay.regionIndex,
    primary: {
      host: "127.0.0.1",
      port: leafPort,
      auth_token: SIM_RELAY_AUTH_TOKEN,
      reconnect_interval: 0.5,
      region: plan.regions[0],
      jetstream_domain: "hub",
    },
    independent_after_ms: plan.independentAfterMs,
    events: {
      enabled: true,
      nats_url: `nats://127.0.0.1:${leafPort}`,
      spool_dir: placement.spoolDir,
    },
  };
}

/**
 * The collector on the hub: MINING_EVENTS (every region, sourced from the leaves) into
 * PostgreSQL and Redis.
 *
 * @param hubUrl The hub's client URL.
 * @param postgresUrl PostgreSQL URL.
 * @param redisUrl Redis URL.
 * @param metricsPort Its metrics port.
 * @param natsMonitorUrl The hub's monitoring URL, exported as `nats_server_*` and `jetstream_*`;
 *   none when omitted.
 */
export function collectorConfig(
  hubUrl: string,
  postgresUrl: string,
  redisUrl: string,
  metricsPort: number,
  natsMonitorUrl?: string,
): Record<string, unknown> {
  return {
    ...(natsMonitorUrl === undefined ? {} : { nats_monitor: { url: natsMonitorUrl } }),
    nats_url: hubUrl,
    postgres: { url: postgresUrl },
    redis: { url: redisUrl },
    batch: { max_events: 1_000, max_wait_ms: 50 },
    stream: "MINING_EVENTS",
    durable: "event-pipeline",
    metrics: { enabled: true, host: "127.0.0.1", port: metricsPort, path: "/metrics" },
    migrate_on_start: true,
  };
}
