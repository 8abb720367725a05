/**
 * A relay's own metrics (seed Phase 4 §8.3), added to the registry of its {@linkcode PoolMetrics}
 * so one endpoint serves both.
 *
 * @module
 */
import type { MetricRegistry } from "./registry.ts";
import { type Clock, systemClock } from "../engine/clock.ts";
import { CellCounter, type CounterCell } from "./counter.ts";
import { CellGauge, type GaugeCell } from "./gauge.ts";
import { CellHistogram, type HistogramCell, MILLISECOND_BUCKETS } from "./histogram.ts";
import type { ShareCounts } from "./pool_metrics.ts";

/** The two ways a relay submits a block it found. */
export const RelaySubmitPath = {
  /** The relay's own bitcoind (`submitblock`). */
  local: "local",
  /** The primary, by NATS request/reply. */
  primary: "primary",
} as const;

/** One of {@linkcode RelaySubmitPath}. */
export type RelaySubmitPath = typeof RelaySubmitPath[keyof typeof RelaySubmitPath];

/** How one submission path ended. */
export const RelaySubmitOutcome = {
  accepted: "accepted",
  rejected: "rejected",
  /** The path could not be asked (unreachable, timeout). */
  error: "error",
} as const;

/** One of {@linkcode RelaySubmitOutcome}. */
export type RelaySubmitOutcome = typeof RelaySubmitOutcome[keyof typeof RelaySubmitOutcome];

/** Default span of `ckpool_relay_stale_shares_percent`: five minutes, like the alert windows. */
export const DEFAULT_STALE_WINDOW_MS = 300_000;

/** Settings of {@linkcode RelayMetrics}. */
export interface RelayMetricsOptions {
  /** The registry to add to, normally `poolMetrics.registry` (it carries the default labels). */
  readonly registry: MetricRegistry;
  /** Share counts since start, normally `() => poolMetrics.shareCounts()`. */
  readonly shareCounts: () => ShareCounts;
  /** Time source for the stale window; the process clock unless given. */
  readonly clock?: Clock;
  /** Span of the stale percentage in milliseconds; {@linkcode DEFAULT_STALE_WINDOW_MS} unless given. */
  readonly staleWindowMs?: number;
}

interface ShareSnapshot {
  readonly atMs: number;
  readonly total: number;
  readonly stale: number;
}

/** Snapshots per window: the stale percentage's time resolution is window / this. */
const SNAPSHOTS_PER_WINDOW = 30;

/** Metrics only a relay has: template sync, link to the primary, independent mode. */
export class RelayMetrics {
  /** `ckpool_relay_template_latency_ms`: primary's send stamp → receipt, for the last template. */
  readonly templateLatencyMs: GaugeCell;
  /** `ckpool_relay_primary_rtt_ms`: last measured round trip to the primary. */
  readonly primaryRttMs: GaugeCell;
  /** `ckpool_relay_independent_mode`: 1 while serving templates from the local bitcoind. */
  readonly independentMode: GaugeCell;
  /** `ckpool_nats_replication_lag_ms`: age of the oldest event not yet stored on the hub. */
  readonly replicationLagMs: GaugeCell;
  /** `ckpool_relay_templates_received_total`: templates received from the primary. */
  readonly templatesReceived: CounterCell;
  /** `ckpool_relay_preemptive_clean_jobs_total`: clean_jobs sent on a local ZMQ block first. */
  readonly preemptiveCleanJobs: CounterCell;
  /** `ckpool_relay_template_propagation_ms`: distribution of the template latency. */
  readonly templateLatencyHistogram: HistogramCell;
  /** `ckpool_relay_independent_mode_activations_total`: switches to independent mode. */
  readonly independentActivations: CounterCell;
  /** `ckpool_relay_primary_ping_failures_total`: RTT probes the primary did not answer. */
  readonly primaryPingFailures: CounterCell;
  /** `ckpool_relay_block_submit_total{path,outcome}`: block submissions per path. */
  readonly blockSubmits: Readonly<
    Record<RelaySubmitPath, Readonly<Record<RelaySubmitOutcome, CounterCell>>>
  >;
  /** `ckpool_relay_block_submit_ms{path}`: time to each path's answer. */
  readonly blockSubmitMs: Readonly<Record<RelaySubmitPath, HistogramCell>>;
  readonly #clock: Clock;
  readonly #shareCounts: () => ShareCounts;
  readonly #windowMs: number;
  readonly #snapshots: ShareSnapshot[];
  /** When the hub first failed to answer in the current outage; null while it answers. */
  #hubUnreachableSinceMs: number | null = null;

  /**
   * Creates the relay metrics on `options.registry`.
   *
   * @throws {RangeError} when `staleWindowMs` is not a positive finite number.
   * @throws {Error} when the registry already holds one of these names.
   */
  constructor(options: RelayMetricsOptions) {
    const windowMs = options.staleWindowMs ?? DEFAULT_STALE_WINDOW_MS;
    if (!(windowMs > 0 && windowMs !== Infinity)) {
      throw new RangeError(`Cannot create relay metrics: stale window ${windowMs} ms is not > 0`);
    }
    const registry = options.registry;
    this.#clock = options.clock ?? systemClock;
    this.#shareCounts = options.shareCounts;
    this.#windowMs = windowMs;
    this.#snapshots = [this.#snapshot(this.#clock.nowMs())];

    this.templateLatencyMs = new CellGauge({
      registry,
      name: "ckpool_relay_template_latency_ms",
      help: "Primary's template send time to receipt here, in milliseconds (last template).",
    }).child();
    this.primaryRttMs = new CellGauge({
      registry,
      name: "ckpool_relay_primary_rtt_ms",
      help: "Round-trip time to the primary in milliseconds (last measurement).",
    }).child();
    this.independentMode = new CellGauge({
      registry,
      name: "ckpool_relay_independent_mode",
      help:
        "1 while the relay builds templates from its local bitcoind, 0 while fed by the primary.",
    }).child();
    this.replicationLagMs = new CellGauge({
      registry,
      name: "ckpool_nats_replication_lag_ms",
      help: "Age in milliseconds of the oldest event not yet replicated to the hub.",
    }).child();
    new CellGauge({
      registry,
      name: "ckpool_relay_hub_unreachable_seconds",
      help:
        "Seconds the NATS hub has not answered through this region's leaf node (0 while it answers).",
    }).sample(() => this.hubUnreachableMs() / 1000);
    new CellGauge({
      registry,
      name: "ckpool_relay_stale_shares_percent",
      help: "Percentage of shares refused as stale over the recent window (should stay < 0.5).",
    }).sample(() => this.stalePercent());
    this.templatesReceived = new CellCounter({
      registry,
      name: "ckpool_relay_templates_received_total",
      help: "Block templates received from the primary.",
    }).child();
    this.preemptiveCleanJobs = new CellCounter({
      registry,
      name: "ckpool_relay_preemptive_clean_jobs_total",
      help: "clean_jobs broadcasts sent because the local node saw a block before the primary.",
    }).child();
    this.templateLatencyHistogram = new CellHistogram({
      registry,
      name: "ckpool_relay_template_propagation_ms",
      help: "Distribution of the primary's template send time to receipt here, in milliseconds.",
      buckets: MILLISECOND_BUCKETS,
    }).child();
    this.independentActivations = new CellCounter({
      registry,
      name: "ckpool_relay_independent_mode_activations_total",
      help: "Times the relay switched to templates from its local bitcoind.",
    }).child();
    this.primaryPingFailures = new CellCounter({
      registry,
      name: "ckpool_relay_primary_ping_failures_total",
      help: "Round-trip probes to the primary that got no answer in time.",
    }).child();
    const submits = new CellCounter<"path" | "outcome">({
      registry,
      name: "ckpool_relay_block_submit_total",
      help: "Block submissions by this relay, per path (local bitcoind, primary) and outcome.",
      labelNames: ["path", "outcome"],
    });
    const submitMs = new CellHistogram<"path">({
      registry,
      name: "ckpool_relay_block_submit_ms",
      help: "Milliseconds from a block submission to each path's answer.",
      labelNames: ["path"],
      buckets: MILLISECOND_BUCKETS,
    });
    const paths = Object.values(RelaySubmitPath);
    const outcomes = Object.values(RelaySubmitOutcome);
    this.blockSubmits = Object.freeze(Object.fromEntries(paths.map((path) => [
      path,
      Object.freeze(Object.fromEntries(outcomes.map((outcome) => [
        outcome,
        submits.child({ path, outcome }),
      ]))),
    ]))) as RelayMetrics["blockSubmits"];
    this.blockSubmitMs = Object.freeze(Object.fromEntries(paths.map((path) => [
      path,
      submitMs.child({ path }),
    ]))) as RelayMetrics["blockSubmitMs"];
  }

  /** Records how one block submission path ended and how long it took. */
  noteBlockSubmit(path: RelaySubmitPath, outcome: RelaySubmitOutcome, ms: number): void {
    this.blockSubmits[path][outcome].inc();
    this.blockSubmitMs[path].observe(ms);
  }

  /**
   * Records a template from the primary: sets the latency and counts it.
   *
   * @param sentAtMs the primary's send stamp (epoch milliseconds).
   * @param receivedAtMs when it arrived here; now unless given. Clock skew between regions can
   *   make the difference negative; it is exported as measured.
   */
  noteTemplateFromPrimary(sentAtMs: number, receivedAtMs: number = this.#clock.nowMs()): void {
    const latencyMs = receivedAtMs - sentAtMs;
    this.templateLatencyMs.set(latencyMs);
    // A histogram bucket cannot hold a negative (clock skew); the gauge still shows it.
    this.templateLatencyHistogram.observe(Math.max(0, latencyMs));
    this.templatesReceived.inc();
  }

  /**
   * Records whether the hub answered a replication probe sent through the leaf node, which
   * drives `ckpool_relay_hub_unreachable_seconds` (the seed's "NATS leaf disconnected"; the
   * leaf's own monitoring is JSON, not Prometheus).
   *
   * @param reachable whether the hub's JetStream API answered
   * @param atMs when the probe ran; now unless given. An outage counts from its first failed probe.
   */
  noteHubReachable(reachable: boolean, atMs: number = this.#clock.nowMs()): void {
    if (reachable) this.#hubUnreachableSinceMs = null;
    else this.#hubUnreachableSinceMs ??= atMs;
  }

  /** Milliseconds since the hub stopped answering, or 0 while it answers (or was never asked). */
  hubUnreachableMs(): number {
    const since = this.#hubUnreachableSinceMs;
    return since === null ? 0 : Math.max(0, this.#clock.nowMs() - since);
  }

  /**
   * Stale shares as a percentage of all shares answered over about the last window; 0 when no
   * share was answered in it. Called at each scrape; it keeps a few dozen snapshots of the
   * share counts, so the window is measured in time, whatever the number of scrapers.
   */
  stalePercent(): number {
    const nowMs = this.#clock.nowMs();
    const snapshots = this.#snapshots;
    const latest = this.#snapshot(nowMs);
    const newest = snapshots[snapshots.length - 1]!;
    if (nowMs - newest.atMs >= this.#windowMs / SNAPSHOTS_PER_WINDOW) snapshots.push(latest);
    // Keep as baseline the newest snapshot that is at least a window old.
    while (snapshots.length > 1 && nowMs - snapshots[1]!.atMs >= this.#windowMs) {
      snapshots.shift();
    }
    const base = snapshots[0]!;
    const total = latest.total - base.total;
    return total > 0 ? (100 * (latest.stale - base.stale)) / total : 0;
  }

  #snapshot(atMs: number): ShareSnapshot {
    const { total, stale } = this.#shareCounts();
    return { atMs, total, stale };
  }
}
