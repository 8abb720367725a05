/**
 * The event collector: JetStream events into PostgreSQL and Redis, exactly once per `event_id`
 * (Redis side effects once per hub stream sequence, chosen with PostgreSQL).
 * `main.ts` starts it; the parts are exported for tests and tools.
 *
 * @module
 */
export {
  BATCHES_IN_FLIGHT,
  type Collector,
  type CollectorOptions,
  DEFAULT_DRAIN_TIMEOUT_MS,
  type MigrateFn,
  PARTITION_DAYS_AHEAD,
  PARTITION_INTERVAL_MS,
  RETRY_MAX_MS,
  startCollector,
} from "./collector.ts";
export {
  Backend,
  BATCH_SIZE_BUCKETS,
  CollectorMetrics,
  DedupStore,
  ErrorStage,
} from "./collector_metrics.ts";
export {
  ACK_WAIT_MS,
  consumerConfig,
  consumerFilter,
  ensureConsumer,
  ensureStream,
  MAX_ACK_PENDING,
  type StreamOutcome,
} from "./jetstream_setup.ts";
export {
  isDataError,
  PostgresStore,
  type PostgresStoreOptions,
  type PostgresWriteResult,
  RECONNECT_DELAY_S,
  type RejectedEvent,
  type Sql,
} from "./postgres_store.ts";
export {
  MAX_EVENTS_PER_CALL,
  MissingFloorError,
  type RedisApplyResult,
  RedisStore,
  type RedisStoreOptions,
} from "./redis_store.ts";
export * from "./redis_batch_script.ts";
export * from "./settled_record.ts";
export {
  type Delivery,
  SETTLED_REPAIR_MAX,
  SettledCheck,
  type SettledCheckOptions,
} from "./settled_check.ts";
export { type BatchEntries, batchEntries } from "./redis_entries.ts";
export {
  aggregateBatch,
  type BatchAggregates,
  type BlockRow,
  MICROS_PER_HOUR,
  type MinerDelta,
  type WorkerHourDelta,
} from "./aggregates.ts";
export { type EventRow, eventRowsJson, microsToIso } from "./event_rows.ts";
export {
  type Delay,
  type DelayFn,
  MessageBatcher,
  type MessageBatcherOptions,
  realDelay,
} from "./message_batcher.ts";
export { Backoff, type BackoffOptions, LogThrottle } from "./backoff.ts";
