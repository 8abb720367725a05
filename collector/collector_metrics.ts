/**
 * The collector's Prometheus metrics, in its own registry, as cells the batch loop updates with
 * plain additions.
 *
 * @module
 */
import { ALL_EVENT_TYPES, type EventType } from "@tbg/shared/events";
import {
  CellCounter,
  CellGauge,
  CellHistogram,
  type CounterCell,
  type GaugeCell,
  type HistogramCell,
  MetricRegistry,
  MILLISECOND_BUCKETS,
} from "@tbg/shared/metrics";

/** Backends whose reachability is exported as `collector_backend_up{backend}`. */
export const Backend = {
  nats: "nats",
  postgres: "postgres",
  redis: "redis",
} as const;
/** A backend name. */
export type Backend = typeof Backend[keyof typeof Backend];

/** Where a dedup hit was detected (`collector_dedup_hits_total{store}`). */
export const DedupStore = {
  postgres: "postgres",
  redis: "redis",
} as const;
/** A dedup store name. */
export type DedupStore = typeof DedupStore[keyof typeof DedupStore];

/** Stages named in `collector_errors_total{stage}`. */
export const ErrorStage = {
  /** A message body that is not a valid event (also in collector_invalid_events_total). */
  parse: "parse",
  /** A failed PostgreSQL batch (retried). */
  postgres: "postgres",
  /** An event PostgreSQL refused as data (acked and dropped). */
  postgresEvent: "postgres_event",
  /** A failed Redis batch (retried). */
  redis: "redis",
  /** An event whose Redis side effect failed (its sequence was settled, so it is not retried). */
  redisEvent: "redis_event",
  /** NATS: stream/consumer setup, consumer info, acks. */
  nats: "nats",
  /** Partition upkeep (`tbg_ensure_partitions`), migrations, the settled record check. */
  maintenance: "maintenance",
} as const;
/** An error stage. */
export type ErrorStage = typeof ErrorStage[keyof typeof ErrorStage];

/**
 * Batch sizes, in events. The histograms themselves are the shared `CellHistogram`; these
 * bounds stay here because no shared set has them (`MICROSECOND_BUCKETS` adds a 2), and
 * changing them would change the exported `le` series.
 */
export const BATCH_SIZE_BUCKETS: readonly number[] = Object.freeze([
  1,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
]);

/** The collector's metrics. */
export class CollectorMetrics {
  /** The registry served on /metrics. */
  readonly registry: MetricRegistry;
  /** `collector_events_total{type}`: valid events processed (stored or found already stored). */
  readonly events: Readonly<Record<EventType, CounterCell>>;
  /** `collector_invalid_events_total`: message bodies that are not valid events (acked). */
  readonly invalidEvents: CounterCell;
  /** `collector_batch_size`: events per batch. */
  readonly batchSize: HistogramCell;
  /** `collector_batch_duration_ms`: parse to ack, retries included. */
  readonly batchDurationMs: HistogramCell;
  /** `collector_consumer_lag`: messages of the consumer not yet delivered (num_pending). */
  readonly consumerLag: GaugeCell;
  /** `collector_settled_floor`: every hub stream sequence up to it is settled in Redis. */
  readonly settledFloor: GaugeCell;
  /** `collector_settled_floor_lag`: consumer ack floor minus the settled floor, at the check. */
  readonly settledFloorLag: GaugeCell;
  /** `collector_settled_repaired_total`: acknowledged messages read back and applied. */
  readonly settledRepaired: CounterCell;
  /** `collector_settled_skipped_total`: sequences settled because the stream will not deliver them. */
  readonly settledSkipped: CounterCell;
  /** `collector_dedup_hits_total{store}`. */
  readonly dedupHits: Readonly<Record<DedupStore, CounterCell>>;
  /** `collector_errors_total{stage}`. */
  readonly errors: Readonly<Record<ErrorStage, CounterCell>>;
  /** `collector_backend_up{backend}`: 1 while the backend answers. */
  readonly backendUp: Readonly<Record<Backend, GaugeCell>>;

  /**
   * Registers every series, at zero.
   *
   * @param registry The registry to fill; a new one unless given.
   * @throws {Error} when the registry already holds one of these names.
   */
  constructor(registry: MetricRegistry = new MetricRegistry()) {
    this.registry = registry;
    const events = new CellCounter<"type">({
      registry,
      name: "collector_events_total",
      help: "Valid events processed (newly stored or found already stored), by event type.",
      labelNames: ["type"],
    });
    const byType = {} as Record<EventType, CounterCell>;
    for (const type of ALL_EVENT_TYPES) byType[type] = events.child({ type });
    this.events = Object.freeze(byType);

    this.invalidEvents = new CellCounter({
      registry,
      name: "collector_invalid_events_total",
      help: "Messages whose body is not a valid event; acknowledged and dropped.",
    }).child();

    this.batchSize = new CellHistogram({
      registry,
      name: "collector_batch_size",
      help: "Messages per batch.",
      buckets: BATCH_SIZE_BUCKETS,
    }).child();

    this.batchDurationMs = new CellHistogram({
      registry,
      name: "collector_batch_duration_ms",
      help: "Time from a batch's first parse to its acknowledgement, retries included, in ms.",
      buckets: MILLISECOND_BUCKETS,
    }).child();

    this.consumerLag = new CellGauge({
      registry,
      name: "collector_consumer_lag",
      help: "Messages in the stream not yet delivered to the durable consumer (num_pending).",
    }).child();

    this.settledFloor = new CellGauge({
      registry,
      name: "collector_settled_floor",
      help: "Hub stream sequence up to which every message is settled in Redis (side effects " +
        "applied once or skipped).",
    }).child();
    this.settledFloorLag = new CellGauge({
      registry,
      name: "collector_settled_floor_lag",
      help: "Consumer ack floor minus the settled floor at the last check: messages " +
        "acknowledged that Redis has not settled in order (0 when healthy).",
    }).child();
    this.settledRepaired = new CellCounter({
      registry,
      name: "collector_settled_repaired_total",
      help: "Acknowledged messages Redis had not settled (restored or flushed Redis), read " +
        "back from the stream and applied.",
    }).child();
    this.settledSkipped = new CellCounter({
      registry,
      name: "collector_settled_skipped_total",
      help: "Sequences settled without effects because the stream no longer holds them or " +
        "they are outside the consumer's filter.",
    }).child();

    const dedup = new CellCounter<"store">({
      registry,
      name: "collector_dedup_hits_total",
      help: "Events found already applied, by the store that detected it.",
      labelNames: ["store"],
    });
    this.dedupHits = Object.freeze({
      postgres: dedup.child({ store: DedupStore.postgres }),
      redis: dedup.child({ store: DedupStore.redis }),
    });

    const errors = new CellCounter<"stage">({
      registry,
      name: "collector_errors_total",
      help:
        "Errors by pipeline stage (failed batches are retried; failed events are counted once).",
      labelNames: ["stage"],
    });
    const byStage = {} as Record<ErrorStage, CounterCell>;
    for (const stage of Object.values(ErrorStage)) byStage[stage] = errors.child({ stage });
    this.errors = Object.freeze(byStage);

    const up = new CellGauge<"backend">({
      registry,
      name: "collector_backend_up",
      help: "1 while the backend answers, else 0.",
      labelNames: ["backend"],
    });
    this.backendUp = Object.freeze({
      nats: up.child({ backend: Backend.nats }),
      postgres: up.child({ backend: Backend.postgres }),
      redis: up.child({ backend: Backend.redis }),
    });
  }
}
