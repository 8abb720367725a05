/**
 * `infra/prometheus/`: the scrape config and the alert rules pass `promtool check`; the promtool
 * unit tests (infra/prometheus/tests/) pass and cover every alert both firing and silent; the
 * rules agree with shared/metrics/testdata/recommended_alert_expressions.txt; the scrape targets
 * are the compose stack's services with the labels those services export; and every metric the
 * rules and the Grafana dashboard read is one the services really export (scraped from the pool
 * and a relay run as processes, plus the collector's registry).
 *
 * Needs `promtool` (Debian package "prometheus") and `nats-server` (Debian package
 * "nats-server"); fails, naming the package, when one is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { scrapeServices } from "./support/exported_metrics.ts";
import { alertRunbookFile } from "./support/runbooks/runbook_blocks.ts";
import {
  type AlertRule,
  DASHBOARD_FILE,
  dashboardQueries,
  metricNames,
  normalizeExpression,
  parseAlertRules,
  parseRecommended,
  parseUnitTests,
  PROMETHEUS_DIR,
  promtoolOk,
  RECOMMENDED_FILE,
  ROOT,
  runPromtool,
} from "./support/prometheus.ts";

const CONFIG_FILE = `${PROMETHEUS_DIR}/prometheus.yml`;
const ALERTS_DIR = `${PROMETHEUS_DIR}/alerts`;
const UNIT_TESTS_DIR = `${PROMETHEUS_DIR}/tests`;
/** Shows the seed's own rules misbehaving; it is not a test of ours. */
const SEED_UNIT_TEST = "seed_rules_test.yml";
const SEVERITIES = new Set(["critical", "warning"]);

async function yamlFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".yml")) names.push(entry.name);
  }
  return names.sort();
}

async function allAlertRules(): Promise<AlertRule[]> {
  const rules: AlertRule[] = [];
  for (const name of await yamlFiles(ALERTS_DIR)) {
    rules.push(...parseAlertRules(await Deno.readTextFile(`${ALERTS_DIR}/${name}`)));
  }
  return rules;
}

interface ScrapeConfig {
  job_name: string;
  honor_labels?: boolean;
  metrics_path?: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
}

interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}

Deno.test("promtool check config accepts prometheus.yml, which loads every rules file", async () => {
  const output = await promtoolOk(["check", "config", CONFIG_FILE]);
  assert.match(output, /SUCCESS/);
  const config = parse(await Deno.readTextFile(CONFIG_FILE)) as PrometheusConfig;
  assert.deepEqual(
    [...config.rule_files].sort(),
    (await yamlFiles(ALERTS_DIR)).map((name) => `alerts/${name}`),
    "rule_files lists exactly the files in alerts/",
  );
});

Deno.test("promtool check rules accepts every rules file", async () => {
  const files = (await yamlFiles(ALERTS_DIR)).map((name) => `${ALERTS_DIR}/${name}`);
  assert.ok(files.length > 0);
  await promtoolOk(["check", "rules", ...files]);
});

Deno.test("promtool test rules: the unit tests pass, the seed's rules show their faults", async () => {
  const files = (await yamlFiles(UNIT_TESTS_DIR)).map((name) => `${UNIT_TESTS_DIR}/${name}`);
  assert.ok(files.includes(`${UNIT_TESTS_DIR}/${SEED_UNIT_TEST}`));
  await promtoolOk(["test", "rules", ...files], { cwd: UNIT_TESTS_DIR });
});

Deno.test("every alert is unit-tested both firing and silent", async () => {
  const fires = new Set<string>();
  const silent = new Set<string>();
  for (const name of await yamlFiles(UNIT_TESTS_DIR)) {
    if (name === SEED_UNIT_TEST) continue;
    const { ruleFiles, checks } = parseUnitTests(
      await Deno.readTextFile(`${UNIT_TESTS_DIR}/${name}`),
    );
    assert.ok(ruleFiles.every((file) => file.startsWith("../alerts/")), `${name} tests our rules`);
    for (const check of checks) (check.expected > 0 ? fires : silent).add(check.alertname);
  }
  const alerts = (await allAlertRules()).map((rule) => rule.alert);
  assert.deepEqual(alerts.filter((alert) => !fires.has(alert)), [], "never shown firing");
  assert.deepEqual(alerts.filter((alert) => !silent.has(alert)), [], "never shown silent");
});

Deno.test("every alert has a seed severity, a summary, a description, a runbook_url to its runbook and a README row", async () => {
  const readme = await Deno.readTextFile(`${PROMETHEUS_DIR}/README.md`);
  const names = new Set<string>();
  for (const rule of await allAlertRules()) {
    assert.ok(!names.has(rule.alert), `${rule.alert} is defined once`);
    names.add(rule.alert);
    assert.ok(SEVERITIES.has(rule.labels.severity ?? ""), `${rule.alert} severity`);
    for (const key of ["summary", "description", "runbook_url"]) {
      assert.ok((rule.annotations[key] ?? "").length > 0, `${rule.alert} has a ${key}`);
    }
    // tests/runbooks_test.ts checks the runbook itself (title, commands).
    const runbook = `docs/runbooks/alerts/${alertRunbookFile(rule.alert)}`;
    assert.equal(rule.annotations.runbook_url, runbook, `${rule.alert} runbook_url`);
    assert.ok(
      readme.includes(`| ${rule.alert} `) && readme.includes(`../../${runbook})`),
      `README.md has a row for ${rule.alert} linking ${runbook}`,
    );
  }
});

Deno.test("the rules use exactly the alerts and expressions of recommended_alert_expressions.txt", async () => {
  const recommended = parseRecommended(await Deno.readTextFile(RECOMMENDED_FILE));
  const rules = new Map(
    (await allAlertRules()).map((rule) => [rule.alert, normalizeExpression(rule.expr)]),
  );
  assert.deepEqual([...rules.keys()].sort(), [...recommended.keys()].sort());
  for (const [alert, expr] of recommended) {
    assert.equal(rules.get(alert), normalizeExpression(expr), alert);
  }
});

Deno.test("prometheus.yml scrapes every service of the compose stack at its metrics port", async () => {
  const config = parse(await Deno.readTextFile(CONFIG_FILE)) as PrometheusConfig;
  const compose = parse(
    await Deno.readTextFile(`${ROOT}/infra/docker-compose.multi-region.yml`),
  ) as {
    services: Record<
      string,
      { command?: string[]; volumes?: string[]; network_mode?: string }
    >;
  };
  const expected: string[] = [];
  let primaryRegion: string | undefined;
  const collectorTargets: string[] = [];
  for (const [service, spec] of Object.entries(compose.services)) {
    const task = spec.command?.find((arg) => arg.startsWith("start:"));
    if (task === undefined) continue;
    const mount = (spec.volumes ?? []).find((volume) => volume.includes("/etc/tbg/"));
    assert.ok(mount !== undefined, `${service} mounts its config`);
    const configPath = `${ROOT}/infra/${mount.split(":")[0]!.replace(/^\.\//, "")}`;
    const serviceConfig = JSON.parse(await Deno.readTextFile(configPath)) as {
      region?: string;
      metrics: { port: number };
    };
    // A relay lives in its leaf node's network namespace, so it answers on the leaf's name.
    const host = spec.network_mode?.replace(/^service:/, "") ?? service;
    const target = `${host}:${serviceConfig.metrics.port}`;
    if (task === "start:collector") {
      collectorTargets.push(target);
      continue;
    }
    const region = serviceConfig.region!;
    const role = task === "start:stratum" ? "primary" : "relay";
    if (role === "primary") primaryRegion = region;
    // stratum/main.ts and relay/main.ts name the instance; `--instance` is 0 in compose.
    const instance = `${role === "primary" ? "stratum" : "relay"}-${region}-0`;
    expected.push(JSON.stringify({ job: "ckpool", target, region, instance, role }));
  }
  for (const target of collectorTargets) {
    const instance = `collector-${primaryRegion}-0`;
    expected.push(JSON.stringify({
      job: "collector",
      target,
      region: primaryRegion,
      instance,
      role: "collector",
    }));
  }
  const actual: string[] = [];
  for (const job of config.scrape_configs) {
    assert.equal(job.metrics_path, "/metrics");
    // Keeps the region/instance labels the services export instead of renaming them.
    if (job.job_name === "ckpool") assert.equal(job.honor_labels, true);
    for (const group of job.static_configs) {
      for (const target of group.targets) {
        const labels = group.labels ?? {};
        actual.push(JSON.stringify({
          job: job.job_name,
          target,
          region: labels.region,
          instance: labels.instance,
          role: labels.role,
        }));
      }
    }
  }
  assert.equal(expected.length, 4, "primary, two relays, collector");
  assert.deepEqual(actual.sort(), expected.sort());
});

Deno.test({
  name:
    "the pool and a relay export every metric the rules and the dashboard read, with the labels prometheus.yml gives them",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const exported = await scrapeServices();
    const config = parse(await Deno.readTextFile(CONFIG_FILE)) as PrometheusConfig;
    const targetLabels = config.scrape_configs.flatMap((job) =>
      job.static_configs.map((group) => group.labels ?? {})
    );
    for (const scrape of [exported.primary, exported.relay]) {
      assert.equal(scrape.regions.size, 1);
      assert.equal(scrape.instances.size, 1);
      const region = [...scrape.regions][0]!;
      const instance = [...scrape.instances][0]!;
      assert.ok(
        targetLabels.some((labels) => labels.region === region && labels.instance === instance),
        `prometheus.yml has a target labelled region=${region}, instance=${instance}`,
      );
    }

    const queries = [
      ...(await allAlertRules()).map((rule) => ({ where: rule.alert, expr: rule.expr })),
      ...[...parseRecommended(await Deno.readTextFile(RECOMMENDED_FILE))].map(([where, expr]) => ({
        where: `recommended ${where}`,
        expr,
      })),
      ...dashboardQueries(JSON.parse(await Deno.readTextFile(DASHBOARD_FILE))),
    ];
    const unknown = queries.flatMap(({ where, expr }) =>
      metricNames(expr).filter((name) => !exported.all.has(name)).map((name) => `${where}: ${name}`)
    );
    assert.deepEqual(unknown, []);
    // The relay-only metrics really came from the relay, not from a registry nobody serves.
    for (
      const name of [
        "ckpool_relay_hub_unreachable_seconds",
        "ckpool_nats_replication_lag_ms",
        "ckpool_relay_independent_mode",
      ]
    ) {
      assert.ok(exported.relay.series.has(name) && !exported.primary.series.has(name), name);
    }
  },
});

Deno.test("runPromtool() names the Debian package when the binary is missing", async () => {
  await assert.rejects(
    runPromtool(["--version"], { binary: "promtool-not-installed-tbg" }),
    /install the Debian package "prometheus"/,
  );
});
