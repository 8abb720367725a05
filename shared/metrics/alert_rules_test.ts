/**
 * Dashboards and alert rules must never query a metric we do not export: this reads the seeds'
 * alert rules and dashboard queries (copied verbatim into testdata/) and checks every `ckpool_*`
 * name they reference against a real scrape of the pool and relay metrics.
 */
import assert from "node:assert/strict";
import { PoolMetrics } from "./pool_metrics.ts";
import { RelayMetrics } from "./relay_metrics.ts";
import { type Exposition, parseExposition } from "./_exposition.ts";

const TESTDATA = new URL("./testdata/", import.meta.url);
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"] as const;

/** The `expr:` values of a Prometheus rules file, including folded (`>`) and literal blocks. */
function alertExpressions(yaml: string): string[] {
  const lines = yaml.split("\n");
  const out: string[] = [];
  for (let index = 0; index < lines.length; index++) {
    const match = /^(\s*)(?:- )?expr:\s*(.*)$/.exec(lines[index]!);
    if (match === null) continue;
    const indent = match[1]!.length;
    const inline = match[2]!.trim();
    if (!/^[>|][+-]?$/.test(inline)) {
      out.push(inline);
      continue;
    }
    const block: string[] = [];
    while (index + 1 < lines.length) {
      const next = lines[index + 1]!;
      if (next.trim() !== "" && next.length - next.trimStart().length <= indent) break;
      block.push(next.trim());
      index++;
    }
    out.push(block.join(" ").trim());
  }
  return out;
}

/** Backtick-quoted spans of a Markdown table. */
function quotedQueries(markdown: string): string[] {
  return [...markdown.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
}

/** Metric names with the `ckpool_` prefix in a PromQL expression. */
function ckpoolNames(expression: string): string[] {
  return [...expression.matchAll(/\bckpool_[a-zA-Z0-9_:]+/g)].map((match) => match[0]);
}

/** Whether `name` is a family in the scrape, or a series of an exported histogram. */
function isExported(exposition: Exposition, name: string): boolean {
  if (exposition.type.has(name)) return true;
  return HISTOGRAM_SUFFIXES.some((suffix) =>
    name.endsWith(suffix) &&
    exposition.type.get(name.slice(0, -suffix.length)) === "histogram"
  );
}

async function exportedByPoolAndRelay(): Promise<Exposition> {
  const pool = new PoolMetrics({ region: "eu", instance: "eu-1", rssBytes: () => 1 });
  new RelayMetrics({ registry: pool.registry, shareCounts: () => pool.shareCounts() });
  return parseExposition(await pool.registry.metrics());
}

function missing(exposition: Exposition, expressions: readonly string[]): string[] {
  return [...new Set(expressions.flatMap(ckpoolNames))].filter((name) =>
    !isExported(exposition, name)
  );
}

Deno.test("every ckpool_* metric in the seed's alert rules is exported", async () => {
  const yaml = await Deno.readTextFile(new URL("seed_alert_rules.yml", TESTDATA));
  const expressions = alertExpressions(yaml);
  assert.equal(expressions.length, 9, "the seed file has nine alert rules");
  assert.equal(
    expressions[4],
    'rate(ckpool_shares_total{valid="false"}[5m]) / rate(ckpool_shares_total[5m]) > 0.05',
    "folded expressions are read whole",
  );
  assert.deepEqual(
    new Set(expressions.flatMap(ckpoolNames)),
    new Set([
      "ckpool_bitcoin_connected",
      "ckpool_shares_total",
      "ckpool_connected_miners",
      "ckpool_block_submit_failures_total",
      "ckpool_event_emit_latency_us",
      "ckpool_relay_template_latency_ms",
      "ckpool_memory_bytes",
      "ckpool_relay_independent_mode",
    ]),
  );
  assert.deepEqual(missing(await exportedByPoolAndRelay(), expressions), []);
});

Deno.test("every ckpool_* metric in the seeds' dashboards and relay latency table is exported", async () => {
  const text = await Deno.readTextFile(new URL("seed_dashboard_queries.txt", TESTDATA));
  const queries = quotedQueries(text);
  assert.deepEqual(
    new Set(queries.flatMap(ckpoolNames)),
    new Set([
      "ckpool_connected_miners",
      "ckpool_hashrate_total",
      "ckpool_blocks_found_total",
      "ckpool_shares_total",
      "ckpool_event_emit_latency_us",
      "ckpool_relay_template_latency_ms",
      "ckpool_relay_stale_shares_percent",
      "ckpool_nats_replication_lag_ms",
      "ckpool_relay_independent_mode",
      "ckpool_bitcoin_height",
      "ckpool_bitcoin_connected",
      "ckpool_relay_primary_rtt_ms",
    ]),
  );
  assert.deepEqual(missing(await exportedByPoolAndRelay(), queries), []);
});

Deno.test("every ckpool_* metric in the recommended alert expressions is exported", async () => {
  const text = await Deno.readTextFile(new URL("recommended_alert_expressions.txt", TESTDATA));
  const expressions = text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  assert.ok(expressions.length >= 9);
  assert.ok(expressions.some((line) => line.includes("ckpool_event_emit_latency_us_bucket")));
  assert.deepEqual(missing(await exportedByPoolAndRelay(), expressions), []);
});

Deno.test("the name check rejects what the metrics do not export", async () => {
  const exposition = await exportedByPoolAndRelay();
  assert.deepEqual(
    missing(exposition, [
      "ckpool_relay_stale_percent > 1",
      "ckpool_connected_miners_bucket",
      "rate(ckpool_submit_latency_us_count[5m])",
    ]),
    ["ckpool_relay_stale_percent", "ckpool_connected_miners_bucket"],
  );
});
