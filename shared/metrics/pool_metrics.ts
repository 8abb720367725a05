/**
 * The Stratum engine's Prometheus metrics, with the names the Grafana dashboards and alert rules
 * use (`ckpool_*`, kept from the C pool so existing dashboards work unchanged).
 *
 * Hot-path fields are cells: `metrics.sharesValid.inc()` is one addition on a plain number, and
 * the registry reads the cells only when Prometheus scrapes. Values that are cheap to read
 * (memory, uptime, template age) are computed at scrape time instead of being kept up to date.
 *
 * ```ts
 * const metrics = new PoolMetrics({ region: "eu", instance: "eu-1" });
 * metrics.sharesValid.inc();
 * metrics.sharesRejected.low_difficulty.inc();
 * metrics.submitLatencyUs.observe(18.5);
 * const text = await metrics.registry.metrics();
 * ```
 *
 * @module
 */
import { MetricRegistry } from "./registry.ts";
import { type Clock, systemClock } from "../engine/clock.ts";
import { RejectReason } from "../engine/share.ts";
import { CellCounter, type CounterCell } from "./counter.ts";
import { CellGauge, type GaugeCell } from "./gauge.ts";
import { logFileWriteFailures } from "../log/log_file_stream.ts";
import {
  CellHistogram,
  FINE_MICROSECOND_BUCKETS,
  type HistogramCell,
  MICROSECOND_BUCKETS,
  MILLISECOND_BUCKETS,
} from "./histogram.ts";
import { KeyedCounter } from "./keyed_counter.ts";

/**
 * Rate-limit rules as the engine names them (the `rate_limits` config keys, plus `maxclients`
 * for the global connection cap and `dropidle` for connections closed as idle). Their series
 * exist from the start at 0.
 */
export const RATE_LIMIT_RULES: readonly string[] = Object.freeze([
  "connections_per_ip_per_minute",
  "max_connections_per_ip",
  "maxclients",
  "max_subscribes_per_minute",
  "max_authorizes_per_minute",
  "max_shares_per_minute",
  "max_invalid_shares_per_minute",
  "max_requests_per_minute",
  "max_invalid_requests_per_minute",
  "max_configures_per_minute",
  "max_suggest_difficulty_per_minute",
  "dropidle",
]);

/** Protocol error kinds the engine reports. Their series exist from the start at 0. */
export const PROTOCOL_ERROR_KINDS: readonly string[] = Object.freeze([
  "invalid_json",
  "invalid_request",
  "line_too_long",
  "not_subscribed",
  "unauthorized",
  "bad_address",
  "second_address",
]);

/** Where a block was submitted when the submission failed. */
export const BlockSubmitTarget = {
  /** A bitcoind this instance talks to (`submitblock`). */
  bitcoind: "bitcoind",
  /** The primary region, from a relay (NATS request/reply). */
  primary: "primary",
} as const;

/** Union of block submission targets. */
export type BlockSubmitTarget = typeof BlockSubmitTarget[keyof typeof BlockSubmitTarget];

/** Settings of {@linkcode PoolMetrics}. */
export interface PoolMetricsOptions {
  /** Region slug; becomes the `region` label on every series. */
  readonly region: string;
  /** Instance name; becomes the `instance` label on every series. */
  readonly instance: string;
  /**
   * The registry to fill; a new one unless given. Its default labels are replaced with
   * `region` and `instance`.
   */
  readonly registry?: MetricRegistry;
  /** Time source for uptime and template age; the process clock unless given. */
  readonly clock?: Clock;
  /** Resident set size in bytes, read at scrape; `Deno.memoryUsage().rss` unless given. */
  readonly rssBytes?: () => number;
  /** The V8 heap's used, total and external bytes, read at scrape; `Deno.memoryUsage()` unless given. */
  readonly heapBytes?: () => HeapBytes;
  /** Rule names besides {@linkcode RATE_LIMIT_RULES} whose series should exist from the start. */
  readonly rateLimitRules?: readonly string[];
  /** Kinds besides {@linkcode PROTOCOL_ERROR_KINDS} whose series should exist from the start. */
  readonly protocolErrorKinds?: readonly string[];
}

/** The V8 heap's figures, as `Deno.memoryUsage()` gives them. */
export interface HeapBytes {
  /** Live and not yet collected objects. */
  readonly heapUsed: number;
  /** The heap's reserved size (used plus free space V8 keeps). */
  readonly heapTotal: number;
  /** Memory outside the heap that V8 objects hold (ArrayBuffers' backing stores). */
  readonly external: number;
}

/** Counts of shares answered since start, for ratios such as the relay's stale percentage. */
export interface ShareCounts {
  /** Every share answered, accepted or not. */
  readonly total: number;
  /** Shares refused. */
  readonly rejected: number;
  /** Shares refused as stale (work on a superseded job). */
  readonly stale: number;
}

/** Metrics of one Stratum engine instance (primary pool or relay), on their own registry. */
export class PoolMetrics {
  /** The registry to serve; relay metrics and service extras may join it. */
  readonly registry: MetricRegistry;
  /** `ckpool_connected_miners`: open Stratum connections. */
  readonly connectedMiners: GaugeCell;
  /** `ckpool_shares_total{valid="true"}`. */
  readonly sharesValid: CounterCell;
  /**
   * `ckpool_shares_total{valid="false",reason=...}`, one cell per reject reason. The `stale`
   * cell is also exported as `ckpool_stale_shares_total`.
   */
  readonly sharesRejected: Readonly<Record<RejectReason, CounterCell>>;
  /** `ckpool_blocks_found_total`: shares that met the network target. */
  readonly blocksFound: CounterCell;
  /** `ckpool_hashrate_total`: estimated pool hashrate in hashes per second. */
  readonly hashrateHps: GaugeCell;
  /** `ckpool_bitcoin_height` (also exported as `ckpool_block_height`): the tip height. */
  readonly bitcoinHeight: GaugeCell;
  /** `ckpool_bitcoin_connected`: 1 while bitcoind (or the template feed) answers, else 0. */
  readonly bitcoinConnected: GaugeCell;
  /** `ckpool_block_submit_failures_total{target=...}`. */
  readonly blockSubmitFailures: Readonly<Record<BlockSubmitTarget, CounterCell>>;
  /** `ckpool_event_emit_latency_us`: share verdict → event handed to the publisher. */
  readonly eventEmitLatencyUs: HistogramCell;
  /** `ckpool_event_buffer_depth`: events waiting in the emitter's memory buffer. */
  readonly eventBufferDepth: GaugeCell;
  /** `ckpool_event_spool_bytes`: bytes of events spooled on disk while NATS is unreachable. */
  readonly eventSpoolBytes: GaugeCell;
  /** `ckpool_event_publish_errors_total`: event publishes to JetStream that failed. */
  readonly eventPublishErrors: CounterCell;
  /** `ckpool_events_published_total`: events acknowledged by JetStream. */
  readonly eventsPublished: CounterCell;
  /** `ckpool_events_spooled_total`: events written to the spool. */
  readonly eventsSpooled: CounterCell;
  /** `ckpool_events_dropped_total`: events lost because buffer and spool were both full. */
  readonly eventsDropped: CounterCell;
  /** `ckpool_disk_write_failures_total{kind="spool"}`: spool appends that failed. */
  readonly spoolWriteFailures: CounterCell;
  /** `ckpool_disk_write_failures_total{kind="blocks"}`: found blocks that could not be kept. */
  readonly blockKeepFailures: CounterCell;
  /** `ckpool_submit_latency_us`: submit line received → response written, inside the engine. */
  readonly submitLatencyUs: HistogramCell;
  /** `ckpool_notify_broadcast_ms`: new template → mining.notify sent to every miner. */
  readonly notifyBroadcastMs: HistogramCell;
  /** `ckpool_rate_limit_rejections_total{rule=...}`. */
  readonly rateLimitRejections: KeyedCounter;
  /** `ckpool_protocol_errors_total{kind=...}`. */
  readonly protocolErrors: KeyedCounter;
  readonly #clock: Clock;
  readonly #startedAtMs: number;
  #templateAtMs: number | null = null;
  #nodeClockOffsetS = 0;

  /**
   * Creates every metric and registers it.
   *
   * @throws {Error} when the registry already holds one of these names.
   */
  constructor(options: PoolMetricsOptions) {
    const registry = options.registry ?? new MetricRegistry();
    registry.setDefaultLabels({ region: options.region, instance: options.instance });
    this.registry = registry;
    this.#clock = options.clock ?? systemClock;
    this.#startedAtMs = this.#clock.nowMs();
    const rssBytes = options.rssBytes ?? ((): number => Deno.memoryUsage().rss);

    this.connectedMiners = new CellGauge({
      registry,
      name: "ckpool_connected_miners",
      help: "Open Stratum connections.",
    }).child();

    const shares = new CellCounter<"valid" | "reason">({
      registry,
      name: "ckpool_shares_total",
      help: 'Shares answered; valid="false" carries the reject reason.',
      labelNames: ["valid", "reason"],
    });
    this.sharesValid = shares.child({ valid: "true" });
    const rejected = {} as Record<RejectReason, CounterCell>;
    for (const reason of Object.values(RejectReason)) {
      rejected[reason] = shares.child({ valid: "false", reason });
    }
    this.sharesRejected = Object.freeze(rejected);
    new CellCounter({
      registry,
      name: "ckpool_stale_shares_total",
      help: "Shares refused as stale (work on a superseded job).",
    }).child({}, rejected[RejectReason.stale]);

    this.blocksFound = new CellCounter({
      registry,
      name: "ckpool_blocks_found_total",
      help: "Shares that met the network target (block candidates).",
    }).child();

    this.hashrateHps = new CellGauge({
      registry,
      name: "ckpool_hashrate_total",
      help: "Estimated hashrate of all connected miners, in hashes per second.",
    }).child();

    this.bitcoinHeight = new CellGauge({
      registry,
      name: "ckpool_bitcoin_height",
      help: "Height of the chain tip the current template builds on.",
    }).child();
    new CellGauge({
      registry,
      name: "ckpool_block_height",
      help: "Same as ckpool_bitcoin_height (the name the scaling runbook checks).",
    }).child({}, this.bitcoinHeight);

    this.bitcoinConnected = new CellGauge({
      registry,
      name: "ckpool_bitcoin_connected",
      help: "1 while the template source (bitcoind or the primary) answers, else 0.",
    }).child();

    const submitFailures = new CellCounter<"target">({
      registry,
      name: "ckpool_block_submit_failures_total",
      help: "Block submissions that failed, by target.",
      labelNames: ["target"],
    });
    this.blockSubmitFailures = Object.freeze({
      bitcoind: submitFailures.child({ target: BlockSubmitTarget.bitcoind }),
      primary: submitFailures.child({ target: BlockSubmitTarget.primary }),
    });

    this.eventEmitLatencyUs = new CellHistogram({
      registry,
      name: "ckpool_event_emit_latency_us",
      help: "Share verdict to event handed to the publisher, in microseconds.",
      buckets: FINE_MICROSECOND_BUCKETS,
    }).child();
    this.eventBufferDepth = new CellGauge({
      registry,
      name: "ckpool_event_buffer_depth",
      help: "Events waiting in the emitter's memory buffer for the publisher.",
    }).child();
    this.eventSpoolBytes = new CellGauge({
      registry,
      name: "ckpool_event_spool_bytes",
      help: "Bytes of events spooled on disk while NATS or JetStream is unreachable.",
    }).child();
    this.eventPublishErrors = new CellCounter({
      registry,
      name: "ckpool_event_publish_errors_total",
      help: "Event publishes to JetStream that failed (timeout, no responders, disconnect).",
    }).child();
    this.eventsPublished = new CellCounter({
      registry,
      name: "ckpool_events_published_total",
      help: "Events acknowledged by JetStream (stored or recognised as duplicates).",
    }).child();
    this.eventsSpooled = new CellCounter({
      registry,
      name: "ckpool_events_spooled_total",
      help: "Events written to the on-disk spool.",
    }).child();
    this.eventsDropped = new CellCounter({
      registry,
      name: "ckpool_events_dropped_total",
      help: "Events lost because the memory buffer and the spool were both full.",
    }).child();
    // One series per kind from the start (at 0), so increase() sees the first failure. The log
    // kind is the process-wide count of the log file's stream (shared/log/log_file_stream.ts).
    const diskWriteFailures = new CellCounter<"kind">({
      registry,
      name: "ckpool_disk_write_failures_total",
      help: "Writes to local disk that failed (full or broken file system), by what was " +
        "written: spool (events), log (log lines, dropped), blocks (found blocks kept on disk).",
      labelNames: ["kind"],
    });
    this.spoolWriteFailures = diskWriteFailures.child({ kind: "spool" });
    diskWriteFailures.child({ kind: "log" }, logFileWriteFailures);
    this.blockKeepFailures = diskWriteFailures.child({ kind: "blocks" });
    this.submitLatencyUs = new CellHistogram({
      registry,
      name: "ckpool_submit_latency_us",
      help: "mining.submit received to response written, inside the engine, in microseconds.",
      buckets: MICROSECOND_BUCKETS,
    }).child();
    this.notifyBroadcastMs = new CellHistogram({
      registry,
      name: "ckpool_notify_broadcast_ms",
      help: "New template to mining.notify written to every miner, in milliseconds.",
      buckets: MILLISECOND_BUCKETS,
    }).child();

    this.rateLimitRejections = new KeyedCounter({
      registry,
      name: "ckpool_rate_limit_rejections_total",
      help: "Requests or connections refused by a rate limit, by rule.",
      label: "rule",
      known: [...RATE_LIMIT_RULES, ...(options.rateLimitRules ?? [])],
    });
    this.protocolErrors = new KeyedCounter({
      registry,
      name: "ckpool_protocol_errors_total",
      help: "Malformed or out-of-order Stratum requests answered with an error, by kind.",
      label: "kind",
      known: [...PROTOCOL_ERROR_KINDS, ...(options.protocolErrorKinds ?? [])],
    });

    new CellGauge({
      registry,
      name: "ckpool_memory_bytes",
      help: "Resident set size of the process in bytes.",
    }).sample(rssBytes);
    // Beside RSS so that growth can be told apart: live objects, garbage awaiting a collection
    // (used grows, then drops at each major GC), free heap V8 keeps, or memory outside V8.
    const heapBytes = options.heapBytes ?? ((): HeapBytes => Deno.memoryUsage());
    const heap = new CellGauge<"kind">({
      registry,
      name: "ckpool_heap_bytes",
      help: 'V8 heap of the process in bytes: kind="used" (objects, live or not yet collected), ' +
        '"total" (reserved) and "external" (buffers held by JavaScript objects).',
      labelNames: ["kind"],
    });
    heap.sample(() => heapBytes().heapUsed, { kind: "used" });
    heap.sample(() => heapBytes().heapTotal, { kind: "total" });
    heap.sample(() => heapBytes().external, { kind: "external" });
    new CellGauge({
      registry,
      name: "ckpool_uptime_seconds",
      help: "Seconds since the metrics were created (process start).",
    }).sample(() => (this.#clock.nowMs() - this.#startedAtMs) / 1000);
    new CellGauge({
      registry,
      name: "ckpool_template_age_seconds",
      help: "Seconds since the current block template arrived; +Inf before the first.",
    }).sample(() => this.templateAgeMs() / 1000);
    new CellGauge({
      registry,
      name: "ckpool_node_clock_offset_seconds",
      help: "The node's clock minus this host's, from the current template's curtime when it " +
        "arrived (positive: this host is behind); 0 before the first template.",
    }).sample(() => this.#nodeClockOffsetS);
  }

  /**
   * Records the node's clock as the template's `curtime` shows it, to export how far this host's
   * clock is from the node's (`ckpool_node_clock_offset_seconds`). Share ntime rules follow the
   * template, so a skewed host still mines; the offset is what reveals the skew (broken NTP).
   *
   * @param curtimeSec the template's `curtime`, seconds since the epoch by the node's clock.
   * @param atMs when the template arrived, by this host's clock.
   */
  noteNodeClock(curtimeSec: number, atMs: number = this.#clock.nowMs()): void {
    // Whole seconds: curtime has no finer resolution, so sub-second digits would be noise.
    this.#nodeClockOffsetS = Math.round(curtimeSec - atMs / 1000);
  }

  /**
   * Records that a new block template arrived (resets `ckpool_template_age_seconds`).
   *
   * @param atMs when, by the metrics clock; now unless given.
   */
  noteTemplate(atMs: number = this.#clock.nowMs()): void {
    this.#templateAtMs = atMs;
  }

  /** Milliseconds since the current template arrived, or `Infinity` before the first. */
  templateAgeMs(): number {
    return this.#templateAtMs === null ? Infinity : this.#clock.nowMs() - this.#templateAtMs;
  }

  /** Shares answered since start (sums of the share cells). */
  shareCounts(): ShareCounts {
    let rejected = 0;
    for (const cell of Object.values(this.sharesRejected)) rejected += cell.value;
    return {
      total: this.sharesValid.value + rejected,
      rejected,
      stale: this.sharesRejected[RejectReason.stale].value,
    };
  }
}
