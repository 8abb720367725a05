/**
 * `infra/grafana/dashboards/multi-region.json`: a dashboard Grafana can import (schema version,
 * unique panel ids, the Prometheus data source as a variable that every panel and query uses),
 * with the panels the brief asks for, every query valid PromQL for promtool, and every metric it
 * reads exported by the services (scraped from the pool and a relay run as processes, plus the
 * collector's registry).
 *
 * Needs `promtool` (Debian package "prometheus") and `nats-server` (Debian package
 * "nats-server"); fails, naming the package, when one is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { scrapeServices } from "./support/exported_metrics.ts";
import {
  DASHBOARD_FILE,
  dashboardPanels,
  dashboardQueries,
  expandGrafanaVariables,
  metricNames,
  promtoolOk,
  recordingRulesFile,
} from "./support/prometheus.ts";

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

async function readDashboard(): Promise<Dashboard> {
  return JSON.parse(await Deno.readTextFile(DASHBOARD_FILE)) as Dashboard;
}

const DATASOURCE_VARIABLE = "${datasource}";

Deno.test("multi-region.json is a dashboard with its Prometheus data source as a variable", async () => {
  const dashboard = await readDashboard();
  assert.equal(typeof dashboard.uid, "string");
  assert.equal(typeof dashboard.title, "string");
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion! >= 36);
  const variables = dashboard.templating?.list ?? [];
  const datasource = variables.find((variable) => variable.name === "datasource");
  assert.equal(datasource?.type, "datasource");
  assert.equal(datasource?.query, "prometheus");
  for (const variable of variables.filter((v) => v.type === "query")) {
    assert.deepEqual(variable.datasource, { type: "prometheus", uid: DATASOURCE_VARIABLE });
  }

  const panels = dashboardPanels(dashboard) as Panel[];
  const ids = panels.map((panel) => panel.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
  for (const panel of panels) {
    assert.ok(panel.gridPos !== undefined, `panel ${panel.id} has a position`);
    if (panel.type === "row") continue;
    assert.deepEqual(panel.datasource, { type: "prometheus", uid: DATASOURCE_VARIABLE });
    assert.ok((panel.targets ?? []).length > 0, `panel ${panel.id} queries something`);
    for (const target of panel.targets ?? []) {
      assert.deepEqual(target.datasource, { type: "prometheus", uid: DATASOURCE_VARIABLE });
      assert.ok((target.expr ?? "").length > 0);
    }
  }
});

Deno.test("multi-region.json has the panels an operator needs per region", async () => {
  const queries = dashboardQueries(await readDashboard()).map((query) => query.expr);
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
  // Per region: every panel query of stratum metrics follows the $region selector.
  const panelQueries = dashboardQueries(await readDashboard())
    .filter((query) => !query.where.startsWith("variable"));
  for (const { where, expr } of panelQueries.filter((q) => q.expr.includes("ckpool"))) {
    assert.match(expr, /region=~"\$region"/, where);
  }
});

Deno.test("promtool parses every dashboard query", async () => {
  const queries = dashboardQueries(await readDashboard());
  assert.ok(queries.length > 20);
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

Deno.test({
  name: "every metric the dashboard reads is exported by the pool, a relay or the collector",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const queries = dashboardQueries(await readDashboard());
    const exported = await scrapeServices();
    const unknown = queries.flatMap(({ where, expr }) =>
      metricNames(expr).filter((name) => !exported.all.has(name)).map((name) => `${where}: ${name}`)
    );
    assert.deepEqual(unknown, []);
  },
});
