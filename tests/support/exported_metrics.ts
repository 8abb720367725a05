/**
 * The metric names our services really export, for checking alert rules and dashboards: a
 * scrape of the stratum pool (primary, publishing templates) and of a relay fed by it, both run
 * as processes the way operators start them, plus the collector's registry with its NATS
 * monitoring exporter polling the real hub server. Starting the collector needs PostgreSQL and
 * Redis; its metrics are all registered, at zero, when `CollectorMetrics` is built, so its
 * registry is served instead.
 *
 * Needs nats-server (Debian package "nats-server").
 *
 * @module
 */
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { CollectorMetrics } from "@tbg/collector";
import { startMetricsServer } from "@tbg/shared/metrics";
import {
  miningEventsConsumers,
  miningEventsStreamConfig,
  NatsMonitorExporter,
} from "@tbg/shared/nats";
import { startDevnet } from "./devnet/mod.ts";
import { startPoolProcess } from "./pool_process.ts";
import { startRelayProcess } from "./relay_process.ts";
import { pickFreePort, startNatsServer } from "./servers/nats_server.ts";

/** Series Prometheus writes itself for every target. */
export const PROMETHEUS_SERIES: readonly string[] = Object.freeze(["up"]);

/** What one scrape exposes. */
export interface Scrape {
  /** Names of the series exposed (histograms as `_bucket`, `_sum`, `_count`). */
  readonly series: ReadonlySet<string>;
  /** Values of the `region` and `instance` labels found on the series. */
  readonly regions: ReadonlySet<string>;
  readonly instances: ReadonlySet<string>;
}

/**
 * Reads a Prometheus text exposition. A family declared with `# TYPE` but without samples yet
 * (a labelled metric nobody touched) counts with the names its samples will have.
 */
export function readScrape(text: string): Scrape {
  const series = new Set<string>();
  const regions = new Set<string>();
  const instances = new Set<string>();
  const declared = new Map<string, string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) declared.set(type[1]!, type[2]!);
    if (line === "" || line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s/.exec(line);
    if (sample === null) throw new SyntaxError(`Cannot read the exposition line "${line}"`);
    series.add(sample[1]!);
    const labels = sample[2] ?? "";
    const region = /[{,]region="([^"]*)"/.exec(labels)?.[1];
    const instance = /[{,]instance="([^"]*)"/.exec(labels)?.[1];
    if (region !== undefined) regions.add(region);
    if (instance !== undefined) instances.add(instance);
  }
  for (const [name, type] of declared) {
    const names = type === "histogram"
      ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
      : type === "summary"
      ? [name, `${name}_sum`, `${name}_count`]
      : [name];
    if (!names.some((n) => series.has(n))) { for (const n of names) series.add(n); }
  }
  return { series, regions, instances };
}

/** The scrapes of the running services. */
export interface ExportedMetrics {
  readonly primary: Scrape;
  readonly relay: Scrape;
  readonly collector: Scrape;
  /** Every series name a query may use: all scrapes plus {@link PROMETHEUS_SERIES}. */
  readonly all: ReadonlySet<string>;
}

async function scrapeUrl(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Cannot scrape ${url}: HTTP ${response.status}`);
  return await response.text();
}

/** The services {@link startServices} runs, with the loopback address of each metrics endpoint. */
export interface RunningServices {
  /** `127.0.0.1:port` of the primary pool's /metrics (region `eu`, instance `stratum-eu-0`). */
  readonly primary: string;
  /** `127.0.0.1:port` of the relay's /metrics (region `us-east`, instance `relay-us-east-0`). */
  readonly relay: string;
  /**
   * `127.0.0.1:port` of the collector's /metrics: its registry, with the NATS monitoring
   * exporter polling the hub server as a collector configured with `nats_monitor` does.
   */
  readonly collector: string;
  /** Stops everything, in reverse order of start. */
  stop(): Promise<void>;
}

/**
 * Starts NATS (JetStream, monitoring port, the MINING_EVENTS stream and its durable consumers),
 * a devnet node, the pool as primary in region `eu` and a relay in `us-east` as processes, and
 * the collector's metrics registry served in this process with its NATS monitoring exporter.
 * Starting the collector itself needs PostgreSQL and Redis; its metrics are all registered, at
 * zero, when `CollectorMetrics` is built, so its registry is served instead.
 */
export async function startServices(): Promise<RunningServices> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const monitorPort = pickFreePort();
    const nats = await startNatsServer({
      jetstream: true,
      serverName: "hub-eu",
      extraConfig: `max_payload: 8MB\nhttp: "127.0.0.1:${monitorPort}"`,
    });
    cleanups.push(() => nats.stop());
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = await jsm.streams.add(miningEventsStreamConfig());
      for (const consumer of miningEventsConsumers()) {
        await jsm.consumers.add(stream.config.name, consumer);
      }
    } finally {
      await nc.close();
    }
    const devnet = await startDevnet();
    cleanups.push(() => devnet.stop());
    const primary = await startPoolProcess(devnet, {
      region: "eu",
      templates: { publish: true, heartbeat_ms: 250 },
      events: { enabled: true, nats_url: nats.url },
    });
    cleanups.push(() => primary.stop());
    const relay = await startRelayProcess(devnet, {
      primaryNatsUrl: nats.url,
      eventsNatsUrl: nats.url,
    }, { region: "us-east", region_index: 1 });
    cleanups.push(() => relay.stop());
    const collectorMetrics = new CollectorMetrics();
    const exporter = new NatsMonitorExporter({
      url: `http://127.0.0.1:${monitorPort}`,
      pollMs: 1_000,
      timeoutMs: 2_000,
      registry: collectorMetrics.registry,
    });
    if (!await exporter.pollOnce()) {
      throw new Error(`Cannot poll the NATS monitoring port 127.0.0.1:${monitorPort}`);
    }
    exporter.start();
    cleanups.push(() => exporter.stop());
    const collector = startMetricsServer({
      hostname: "127.0.0.1",
      port: 0,
      path: "/metrics",
      registry: collectorMetrics.registry,
      health: () => ({ ok: true, checks: {} }),
    });
    cleanups.push(() => collector.shutdown());
    return {
      primary: `127.0.0.1:${primary.metricsPort}`,
      relay: `127.0.0.1:${relay.metricsPort}`,
      collector: `127.0.0.1:${collector.port}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts the services ({@link startServices}), scrapes each once the relay is ready, then
 * stops everything.
 */
export async function scrapeServices(): Promise<ExportedMetrics> {
  const services = await startServices();
  try {
    const [primary, relay, collector] = await Promise.all(
      [services.primary, services.relay, services.collector].map(async (address) =>
        readScrape(await scrapeUrl(`http://${address}/metrics`))
      ),
    );
    const all = new Set<string>(PROMETHEUS_SERIES);
    for (const scrape of [primary!, relay!, collector!]) {
      for (const name of scrape.series) all.add(name);
    }
    return { primary: primary!, relay: relay!, collector: collector!, all };
  } finally {
    await services.stop();
  }
}
