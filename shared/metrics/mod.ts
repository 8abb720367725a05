/**
 * Prometheus metrics and the metrics/health HTTP listener shared by the pool, the relay and the
 * collector.
 *
 * Hot-path updates go to plain-number cells (`CounterCell`, `GaugeCell`, `HistogramCell`) that
 * the registry reads only when scraped:
 *
 * ```ts
 * const metrics = new PoolMetrics({ region: "eu", instance: "eu-1" });
 * const server = startMetricsServer({
 *   hostname: "127.0.0.1",
 *   port: 9100,
 *   path: "/metrics",
 *   registry: metrics.registry,
 *   health: stratumHealth({
 *     listening: () => listener.open,
 *     templateAgeMs: () => metrics.templateAgeMs(),
 *     maxTemplateAgeMs: 120_000,
 *     bitcoindConnected: () => metrics.bitcoinConnected.value === 1,
 *   }),
 * });
 * ```
 *
 * @module
 */
export { CellCounter, CounterCell, type LabelValues, type MetricSpec } from "./counter.ts";
export { CellGauge, GaugeCell, type GaugeSource } from "./gauge.ts";
export {
  CellHistogram,
  FINE_MICROSECOND_BUCKETS,
  HistogramCell,
  type HistogramSpec,
  MICROSECOND_BUCKETS,
  MILLISECOND_BUCKETS,
} from "./histogram.ts";
export {
  checkMetricNames,
  type ExportedMetric,
  type ExportedSample,
  type ExportedValues,
  formatValue,
  MetricRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "./registry.ts";
export {
  DEFAULT_MAX_EXTRA_KEYS,
  KeyedCounter,
  type KeyedCounterSpec,
  OVERFLOW_KEY,
} from "./keyed_counter.ts";
export {
  BlockSubmitTarget,
  PoolMetrics,
  type PoolMetricsOptions,
  PROTOCOL_ERROR_KINDS,
  RATE_LIMIT_RULES,
  type ShareCounts,
} from "./pool_metrics.ts";
export {
  DEFAULT_STALE_WINDOW_MS,
  RelayMetrics,
  type RelayMetricsOptions,
  RelaySubmitOutcome,
  RelaySubmitPath,
} from "./relay_metrics.ts";
export {
  combineHealth,
  failingChecks,
  type HealthCheck,
  type HealthReport,
  type HealthSource,
  StratumCheck,
  stratumHealth,
  type StratumHealthOptions,
} from "./health_checks.ts";
export {
  HEALTH_PATH,
  type HealthBody,
  type MetricsServer,
  type MetricsServerOptions,
  startMetricsServer,
} from "./http_server.ts";
export { metricsObserver } from "./engine_observer.ts";
export {
  BITCOIN_RPC_METHODS,
  BitcoinNodeMetrics,
  OTHER_RPC_METHOD,
  RPC_LATENCY_MS_BUCKETS,
} from "./bitcoin_node_metrics.ts";
export {
  type BitcoinNodeWatch,
  type BitcoinNodeWatchOptions,
  watchBitcoinNode,
} from "./bitcoin_node_watch.ts";
export { registerTlsMetrics, TlsHandshakeResult } from "./tls_metrics.ts";
