/**
 * `infra/grafana/dashboards/`: the multi-region dashboard and the seed's three (Phase 5 §5.2:
 * overview, per-region, Bitcoin Core). Each is a dashboard Grafana can import (schema version,
 * unique panel ids, the Prometheus data source as a variable that every panel and query uses);
 * each has the panels its brief or the seed lists, with the seed's visualization and metric;
 * every query is valid PromQL for promtool; and every query returns series from a real
 * Prometheus scraping the running services (pool and relay as processes, the collector's
 * registry with its NATS monitoring exporter polling the real hub server) through a scrape
 * config derived from `infra/prometheus/prometheus.yml`.
 *
 * Needs `promtool` and `prometheus` (Debian package "prometheus") and `nats-server` (Debian
 * package "nats-server"); fails, naming the package, when one is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readScrape, startServices } from "./support/exported_metrics.ts";
import {
  dashboardPanels,
  dashboardQueries,
  type DashboardQuery,
  DASHBOARDS_DIR,
  expandGrafanaVariables,
  metricNames,
  PROMETHEUS_DIR,
  promtoolOk,
  recordingRulesFile,
} from "./support/prometheus.ts";
import {
  type PromSeries,
  startPrometheus,
  testScrapeConfig,
} from "./support/servers/prometheus_server.ts";

interface Datasource {
  readonly type?: string;
  readonly uid?: string;
}

interface Panel {
  readonly id?: number;
  readonly type?: string;
  readonly title?: string;
  readonly datasource?: Datasource;
  readonly gridPos?: { h: number; w: number; x: number; y: number };
  readonly targets?: readonly { refId?: string; expr?: string; datasource?: Datasource }[];
  readonly panels?: readonly Panel[];
}

interface Dashboard {
  readonly uid?: string;
  readonly title?: string;
  readonly schemaVersion?: number;
  readonly panels?: readonly Panel[];
  readonly templating?: {
    readonly list?: readonly {
      name?: string;
      type?: string;
      query?: unknown;
      datasource?: Datasource;
    }[];
  };
}

/** Every dashboard in the folder; a new file is checked without editing this list. */
const FILES = ["multi-region.json", "overview.json", "per-region.json", "bitcoin-core.json"];

async function readDashboard(file: string): Promise<Dashboard> {
  return JSON.parse(await Deno.readTextFile(`${DASHBOARDS_DIR}/${file}`)) as Dashboard;
}

const DATASOURCE_VARIABLE = "${datasource}";
const PROMETHEUS_DATASOURCE = { type: "prometheus", uid: DATASOURCE_VARIABLE };

Deno.test("the dashboards folder holds exactly the dashboards checked here", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(DASHBOARDS_DIR)) {
    if (entry.isFile && entry.name.endsWith(".json")) files.push(entry.name);
  }
  assert.deepEqual(files.sort(), [...FILES].sort());
});

Deno.test("every dashboard is importable with its Prometheus data source as a variable", async () => {
  const uids = new Set<string>();
  for (const file of FILES) {
    const dashboard = await readDashboard(file);
    assert.equal(typeof dashboard.uid, "string", file);
    assert.ok(!uids.has(dashboard.uid!), `${file}: uid is unique among the dashboards`);
    uids.add(dashboard.uid!);
    assert.equal(typeof dashboard.title, "string", file);
    assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion! >= 36, file);
    const variables = dashboard.templating?.list ?? [];
    const datasource = variables.find((variable) => variable.name === "datasource");
    assert.equal(datasource?.type, "datasource", file);
    assert.equal(datasource?.query, "prometheus", file);
    for (const variable of variables.filter((v) => v.type === "query")) {
      assert.deepEqual(variable.datasource, PROMETHEUS_DATASOURCE, `${file} $${variable.name}`);
    }
    const panels = dashboardPanels(dashboard) as Panel[];
    const ids = panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length, `${file}: panel ids are unique`);
    for (const panel of panels) {
      const where = `${file} panel ${panel.id}`;
      assert.ok(panel.gridPos !== undefined, `${where} has a position`);
      if (panel.type === "row") continue;
      assert.deepEqual(panel.datasource, PROMETHEUS_DATASOURCE, where);
      assert.ok((panel.targets ?? []).length > 0, `${where} queries something`);
      for (const target of panel.targets ?? []) {
        assert.deepEqual(target.datasource, PROMETHEUS_DATASOURCE, where);
        assert.ok((target.expr ?? "").length > 0, where);
      }
    }
  }
});

Deno.test("multi-region.json has the panels an operator needs per region", async () => {
  const dashboard = await readDashboard("multi-region.json");
  const queries = dashboardQueries(dashboard).map((query) => query.expr);
  const reads = (name: string) => queries.some((expr) => metricNames(expr).includes(name));
  for (
    const name of [
      "ckpool_connected_miners",
      "ckpool_shares_total",
      "ckpool_stale_shares_total",
      "ckpool_relay_template_latency_ms",
      "ckpool_relay_primary_rtt_ms",
      "ckpool_relay_independent_mode",
      "ckpool_nats_replication_lag_ms",
      "ckpool_relay_hub_unreachable_seconds",
      "ckpool_blocks_found_total",
      "collector_events_total",
      "collector_consumer_lag",
    ]
  ) assert.ok(reads(name), `a panel reads ${name}`);
});

/** A panel the seed lists: its title, visualization and the metric its query reads. */
type SeedPanel = readonly [title: string, type: string, metric: string];

/** Seed Phase 5 §5.2, per dashboard; titles as the seed names the panels. */
const SEED_PANELS: Readonly<Record<string, readonly SeedPanel[]>> = {
  "overview.json": [
    ["Connected miners (global)", "stat", "ckpool_connected_miners"],
    ["Pool hashrate", "timeseries", "ckpool_hashrate_total"],
    ["Blocks found", "stat", "ckpool_blocks_found_total"],
    ["Share rate (global)", "timeseries", "ckpool_shares_total"],
    ["Invalid share %", "gauge", "ckpool_shares_total"],
    ["Event emission latency", "heatmap", "ckpool_event_emit_latency_us_bucket"],
    ["Regional distribution", "piechart", "ckpool_connected_miners"],
  ],
  "per-region.json": [
    ["Region health", "status-history", "up"],
    ["Template sync latency", "timeseries", "ckpool_relay_template_latency_ms"],
    ["Stale share rate", "timeseries", "ckpool_relay_stale_shares_percent"],
    ["NATS replication lag", "timeseries", "ckpool_nats_replication_lag_ms"],
    ["Independent mode", "state-timeline", "ckpool_relay_independent_mode"],
  ],
  "bitcoin-core.json": [
    ["Block height", "stat", "ckpool_bitcoin_height"],
    ["Sync status", "stat", "ckpool_bitcoin_connected"],
    ["Mempool size", "timeseries", "bitcoin_mempool_size"],
    ["RPC latency", "timeseries", "bitcoin_rpc_latency_ms_bucket"],
    ["Peer count", "stat", "bitcoin_peer_count"],
  ],
};

Deno.test("the seed's three dashboards have every panel it lists, with its visualization and metric", async () => {
  for (const [file, seedPanels] of Object.entries(SEED_PANELS)) {
    const panels = dashboardPanels(await readDashboard(file)) as Panel[];
    for (const [title, type, metric] of seedPanels) {
      const panel = panels.find((p) => p.title === title);
      assert.ok(panel !== undefined, `${file} has a panel "${title}"`);
      assert.equal(panel.type, type, `${file} "${title}" is a ${type}`);
      const read = (panel.targets ?? []).flatMap((t) => metricNames(t.expr ?? ""));
      assert.ok(read.includes(metric), `${file} "${title}" reads ${metric}: ${read}`);
    }
  }
  const regionHealth = dashboardQueries(await readDashboard("per-region.json"))
    .find((q) => q.where.includes('"Region health"'));
  assert.match(regionHealth?.expr ?? "", /up\{job="ckpool"/, "Region health is the pool job's up");
  // The hub NATS server and JetStream, from its monitoring port (via the collector).
  const overview = dashboardQueries(await readDashboard("overview.json")).map((q) => q.expr);
  for (
    const metric of [
      "nats_server_up",
      "nats_server_connections",
      "jetstream_stream_messages",
      "jetstream_consumer_num_pending",
      "jetstream_storage_bytes",
    ]
  ) assert.ok(overview.some((expr) => metricNames(expr).includes(metric)), `overview ${metric}`);
});

Deno.test("the per-region dashboards' stratum and node queries follow the $region selector", async () => {
  for (const file of ["multi-region.json", "per-region.json", "bitcoin-core.json"]) {
    const panelQueries = dashboardQueries(await readDashboard(file))
      .filter((query) => !query.where.startsWith("variable"));
    for (
      const { where, expr } of panelQueries.filter((q) =>
        /ckpool|bitcoin_|up\{job="ckpool"/.test(q.expr)
      )
    ) {
      assert.match(expr, /region=~"\$region"/, `${file} ${where}`);
    }
  }
});

async function allQueries(): Promise<DashboardQuery[]> {
  const queries: DashboardQuery[] = [];
  for (const file of FILES) {
    for (const query of dashboardQueries(await readDashboard(file))) {
      queries.push({ where: `${file} ${query.where}`, expr: query.expr });
    }
  }
  return queries;
}

Deno.test("promtool parses every dashboard query", async () => {
  const queries = await allQueries();
  assert.ok(queries.length > 60);
  const dir = await Deno.makeTempDir({ prefix: "tbg-dashboard-" });
  try {
    const file = `${dir}/dashboard_queries.yml`;
    await Deno.writeTextFile(
      file,
      recordingRulesFile(queries.map((query) => expandGrafanaVariables(query.expr))),
    );
    const output = await promtoolOk(["check", "rules", file]);
    assert.match(output, new RegExp(`SUCCESS: ${queries.length} rules found`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** How long Prometheus may take to have every series: a few one-second scrapes. */
const SERIES_DEADLINE_MS = 30_000;

Deno.test({
  name: "every dashboard query returns series from Prometheus scraping the running services",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const queries = await allQueries();
    const services = await startServices();
    let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
    try {
      // Every metric a query reads is exported by a service (names, before any query runs).
      const exported = new Set<string>(["up"]);
      for (const address of [services.primary, services.relay, services.collector]) {
        const text = await (await fetch(`http://${address}/metrics`)).text();
        for (const name of readScrape(text).series) exported.add(name);
      }
      const unknown = queries.flatMap(({ where, expr }) =>
        metricNames(expr).filter((name) => !exported.has(name)).map((name) => `${where}: ${name}`)
      );
      assert.deepEqual(unknown, []);

      prometheus = await startPrometheus(testScrapeConfig(
        await Deno.readTextFile(`${PROMETHEUS_DIR}/prometheus.yml`),
        {
          "stratum-eu-0": services.primary,
          "relay-us-east-0": services.relay,
          "collector-eu-0": services.collector,
        },
      ));
      let empty: DashboardQuery[] = queries;
      const deadline = Date.now() + SERIES_DEADLINE_MS;
      while (empty.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const results = await Promise.all(
          empty.map(async (q) => (await prometheus!.query(expandGrafanaVariables(q.expr))).length),
        );
        empty = empty.filter((_, index) => results[index] === 0);
      }
      assert.deepEqual(
        empty.map((q) => `${q.where}: ${q.expr}`),
        [],
        `queries without series after ${SERIES_DEADLINE_MS} ms\n${prometheus.log()}`,
      );

      // The values behind the seed's node and NATS panels came from real polls.
      const value = (series: PromSeries[]) => series.map((s) => Number(s.value));
      assert.deepEqual(
        (await prometheus.query('up{job="ckpool"}')).map((s) => [s.metric.region, s.value]).sort(),
        [["eu", "1"], ["us-east", "1"]],
      );
      assert.ok(value(await prometheus.query("bitcoin_mempool_size")).every((v) => v > 0));
      assert.deepEqual(value(await prometheus.query("nats_server_up")), [1]);
      // The durable consumers of MINING_EVENTS (relays add ephemeral ones on other streams).
      const durables = (await prometheus.query(
        'jetstream_consumer_num_pending{stream="MINING_EVENTS"}',
      )).map((s) => s.metric.consumer).sort();
      assert.deepEqual(durables, ["event-pipeline", "game-engine"]);
    } finally {
      await prometheus?.stop();
      await services.stop();
    }
  },
});
