/**
 * The metric names our services really export, for checking alert rules and dashboards: a
 * scrape of the stratum pool (primary, publishing templates) and of a relay fed by it, both run
 * as processes the way operators start them, plus the collector's registry. Starting the
 * collector needs PostgreSQL and Redis; its metrics are all registered, at zero, when
 * `CollectorMetrics` is built, so its registry is scraped instead.
 *
 * Needs nats-server (Debian package "nats-server").
 *
 * @module
 */
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { CollectorMetrics } from "@tbg/collector";
import { miningEventsStreamConfig } from "@tbg/shared/nats";
import { startDevnet } from "./devnet/mod.ts";
import { startPoolProcess } from "./pool_process.ts";
import { startRelayProcess } from "./relay_process.ts";
import { startNatsServer } from "./servers/nats_server.ts";

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

/**
 * Starts NATS, a devnet node, the pool as primary in region `eu` and a relay in `us-east`;
 * scrapes both once the relay is ready, then stops everything.
 */
export async function scrapeServices(): Promise<ExportedMetrics> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const nats = await startNatsServer({ jetstream: true, extraConfig: "max_payload: 8MB" });
    cleanups.push(() => nats.stop());
    const nc = await connect({ servers: nats.url });
    try {
      await (await jetstreamManager(nc)).streams.add(miningEventsStreamConfig());
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
    const primaryScrape = readScrape(
      await scrapeUrl(`http://127.0.0.1:${primary.metricsPort}/metrics`),
    );
    const relayScrape = readScrape(
      await scrapeUrl(`http://127.0.0.1:${relay.metricsPort}/metrics`),
    );
    const collectorScrape = readScrape(await new CollectorMetrics().registry.metrics());
    const all = new Set<string>(PROMETHEUS_SERIES);
    for (const scrape of [primaryScrape, relayScrape, collectorScrape]) {
      for (const name of scrape.series) all.add(name);
    }
    return { primary: primaryScrape, relay: relayScrape, collector: collectorScrape, all };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}
