/**
 * The metric cells the emitter updates. `PoolMetrics` (shared/metrics) has all of them under
 * these names, so a pool passes its metrics object as is.
 *
 * @module
 */
import type { CounterCell, GaugeCell, HistogramCell } from "../metrics/mod.ts";

/** Cells written by the event emitter. */
export interface EmitterMetrics {
  /**
   * `ckpool_event_emit_latency_us`: share verdict (or, for events without one, the `emit()`
   * call) → event in the buffer.
   */
  readonly eventEmitLatencyUs: Pick<HistogramCell, "observe">;
  /** `ckpool_event_buffer_depth`: events waiting in memory. */
  readonly eventBufferDepth: Pick<GaugeCell, "set">;
  /** `ckpool_event_spool_bytes`: bytes in spool segments on disk. */
  readonly eventSpoolBytes: Pick<GaugeCell, "set">;
  /** `ckpool_event_publish_errors_total`: publishes that failed. */
  readonly eventPublishErrors: Pick<CounterCell, "inc">;
  /** `ckpool_events_published_total`: events acknowledged by JetStream. */
  readonly eventsPublished: Pick<CounterCell, "inc">;
  /** `ckpool_events_spooled_total`: events written to the spool. */
  readonly eventsSpooled: Pick<CounterCell, "inc">;
  /** `ckpool_events_dropped_total`: events lost because memory and spool were both full. */
  readonly eventsDropped: Pick<CounterCell, "inc">;
  /**
   * `ckpool_disk_write_failures_total{kind="spool"}`: spool appends that failed (disk full or
   * broken); the events wait in memory and the append is retried.
   */
  readonly spoolWriteFailures: Pick<CounterCell, "inc">;
}
