/**
 * Assembles a running relay: the primary's Stratum engine (`startPoolRuntime`) fed by the
 * failover template source (the primary's templates over NATS, the local bitcoind for
 * preemptive clean_jobs and independent mode), dual block submission, and the relay metrics
 * (template latency, primary RTT, stale percentage, independent mode, replication lag).
 * `main.ts` reads the config and calls this; tests may call it in-process.
 *
 * @module
 */
import type { NatsConnection } from "nats";
import type { Network } from "@tbg/shared/bitcoin";
import { type BitcoindPool, BitcoindTemplateSource } from "@tbg/shared/bitcoind";
import { extranonce1Prefix, type RelayConfig } from "@tbg/shared/config";
import type { StructuredLogger } from "@tbg/shared/log";
import { regionInboxPrefix } from "@tbg/shared/nats";
import { RelayMetrics } from "@tbg/shared/metrics";
import {
  isPrimaryTemplateUpdate,
  natsServers,
  NatsTemplateSource,
  PersistentNatsConnection,
  registerRelayTemplateMetrics,
} from "@tbg/shared/templates";
import { type PoolRuntime, startPoolRuntime } from "@tbg/stratum";
import { FailoverTemplateSource } from "./failover_source.ts";
import { PrimaryRttProbe } from "./primary_rtt.ts";
import { relayMetricsObserver } from "./relay_observer.ts";
import { ReplicationLagProbe } from "./replication_lag.ts";

/** How often the replication lag is measured, ms. */
export const REPLICATION_LAG_INTERVAL_MS = 5_000;

/** What the relay runtime needs besides the config. */
export interface RelayRuntimeDeps {
  readonly config: RelayConfig;
  readonly network: Network;
  readonly log: StructuredLogger;
  /** The relay's own bitcoind nodes (`btcd[]`), started by the caller. */
  readonly localPool: BitcoindPool;
  /** Instance label, e.g. `relay-us-east-0`. */
  readonly instance: string;
  /** `--instance` index on this host (0–255). */
  readonly instanceIndex: number;
  /** RLIMIT_NOFILE soft limit (`--nofile-limit`) the connection cap fits under; null: unknown. */
  readonly nofileLimit?: number | null;
}

/** A running relay. */
export interface RelayRuntime {
  readonly pool: PoolRuntime;
  readonly source: FailoverTemplateSource;
  readonly relayMetrics: RelayMetrics;
  /** The extranonce1 prefix this process hands out: region index, then instance index. */
  readonly extranonce1Prefix: Uint8Array;
  /** Drains miners, stops the sources, probes and NATS connections. */
  drainAndStop(timeoutMs: number): Promise<void>;
}

/** The NATS URL of the primary link: `primary.host:primary.port`. */
export function primaryNatsUrl(config: RelayConfig): string {
  const host = config.primary.host.includes(":") ? `[${config.primary.host}]` : config.primary.host;
  return `nats://${host}:${config.primary.port}`;
}

/** Starts the relay; resolves once miners can connect (the first template is installed). */
export async function startRelayRuntime(deps: RelayRuntimeDeps): Promise<RelayRuntime> {
  const { config, network, log } = deps;
  const primaryLink = new PersistentNatsConnection({
    servers: [primaryNatsUrl(config)],
    name: `${deps.instance}-primary`,
    log: log.getChild("primary-nats"),
    retryDelayMs: config.primary.reconnect_interval * 1000,
    // Replies from the hub reach a leaf only on its region's inboxes (infra/nats/render.ts).
    connectOptions: { inboxPrefix: regionInboxPrefix(config.region) },
  });
  const primary = new NatsTemplateSource({
    link: primaryLink,
    network,
    region: config.region,
    primaryRegion: config.primary.region,
    authToken: config.primary.auth_token,
    log: log.getChild("primary"),
    ...(config.primary.jetstream_domain === undefined
      ? {}
      : { jetstreamDomain: config.primary.jetstream_domain }),
  });
  const local = new BitcoindTemplateSource(config, {
    pool: deps.localPool,
    logger: log.getChild("local-templates"),
  });
  const source = new FailoverTemplateSource({
    primary,
    local,
    independentAfterMs: config.independent_after_ms,
    log: log.getChild("failover"),
  });
  primaryLink.start();
  const prefix = extranonce1Prefix(config.region_index, deps.instanceIndex);
  let pool: PoolRuntime;
  try {
    pool = await startPoolRuntime({
      // A relay never publishes templates: it is not the primary.
      config: { ...config, templates: { publish: false, heartbeat_ms: 1000 } },
      network,
      source,
      log,
      instance: deps.instance,
      instanceIndex: deps.instanceIndex,
      nofileLimit: deps.nofileLimit ?? null,
      nodePool: deps.localPool,
      bitcoindConnected: () => deps.localPool.connected,
      bitcoindDetail: () => deps.localPool.eligibilityDetail(),
    });
  } catch (error) {
    await source.stop();
    await primaryLink.close();
    throw error;
  }
  const relayMetrics = new RelayMetrics({
    registry: pool.metrics.registry,
    shareCounts: () => pool.metrics.shareCounts(),
  });
  registerRelayTemplateMetrics(pool.metrics.registry, primary.counters);
  source.observe(relayMetricsObserver(
    relayMetrics,
    pool.metrics,
    (update) => isPrimaryTemplateUpdate(update) && !update.replayed ? update.sentAtMs : undefined,
  ));

  const rtt = new PrimaryRttProbe({
    connection: () => primaryLink.connection,
    onRtt: (result) => relayMetrics.primaryRttMs.set(result.rttMs),
    onFailure: () => relayMetrics.primaryPingFailures.inc(),
    log: log.getChild("rtt"),
  });
  rtt.start();

  const lag = startReplicationLagLoop(config, primaryLink, relayMetrics, log);
  log.info("relay ready", {
    region: config.region,
    regionIndex: config.region_index,
    extranonce1Prefix: [...prefix].map((b) => b.toString(16).padStart(2, "0")).join(""),
    primary: primaryNatsUrl(config),
    mode: source.mode,
  });

  return {
    pool,
    source,
    relayMetrics,
    extranonce1Prefix: prefix,
    async drainAndStop(timeoutMs: number): Promise<void> {
      await rtt.stop();
      await lag.stop();
      // Stops the sources through source.stop() and drains the event emitter.
      await pool.drainAndStop(timeoutMs);
      await primaryLink.close();
    },
  };
}

/**
 * Measures `ckpool_nats_replication_lag_ms` and `ckpool_relay_hub_unreachable_seconds` every few
 * seconds on the events NATS server (the leaf), reusing the primary link when it is the same
 * server.
 */
function startReplicationLagLoop(
  config: RelayConfig,
  primaryLink: PersistentNatsConnection,
  metrics: RelayMetrics,
  log: StructuredLogger,
): { stop(): Promise<void> } {
  if (!config.events.enabled) return { stop: () => Promise.resolve() };
  const servers = natsServers(config.events.nats_url);
  const sameServer = servers.length === 1 && servers[0] === primaryNatsUrl(config);
  const eventsLink = sameServer ? null : new PersistentNatsConnection({
    servers,
    name: `relay-${config.region}-replication`,
    log: log.getChild("events-nats"),
    connectOptions: { inboxPrefix: regionInboxPrefix(config.region) },
  });
  eventsLink?.start();
  const connection = (): NatsConnection | null => (eventsLink ?? primaryLink).connection;
  const probe = new ReplicationLagProbe({
    region: config.region,
    ...(config.primary.jetstream_domain === undefined
      ? {}
      : { hubDomain: config.primary.jetstream_domain }),
  });
  const lagLog = log.getChild("replication");
  let failures = 0;
  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | undefined;
  const measure = async () => {
    const nc = connection();
    if (nc === null) return;
    try {
      const reading = await probe.measure(nc);
      if (reading.lagMs !== undefined) metrics.replicationLagMs.set(reading.lagMs);
      metrics.noteHubReachable(reading.mode === "direct" || reading.hubReachable);
      failures = 0;
    } catch (error) {
      // The leaf itself did not answer (or the topology is wrong): that says nothing about the
      // hub link, so the hub's state stays as last measured.
      failures++;
      if (failures === 1) {
        lagLog.warn("cannot measure replication lag", { error: String(error) });
      }
    }
  };
  const schedule = (delayMs: number) => {
    if (!running) return;
    timer = setTimeout(() => {
      inFlight = measure().finally(() => {
        inFlight = undefined;
        schedule(REPLICATION_LAG_INTERVAL_MS);
      });
    }, delayMs);
  };
  schedule(REPLICATION_LAG_INTERVAL_MS);
  return {
    async stop() {
      running = false;
      clearTimeout(timer);
      await inFlight;
      await eventsLink?.close();
    },
  };
}
