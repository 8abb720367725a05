/**
 * Tunables of the event emitter and their defaults.
 *
 * @module
 */

/** Tunables of the emitter; every field has a default in {@linkcode DEFAULT_EMITTER_TUNING}. */
export interface EmitterTuning {
  /** Publishes awaiting acks at once. */
  readonly maxInFlight: number;
  /** How long a publish waits for its ack before it counts as failed. */
  readonly publishTimeoutMs: number;
  /** Spool size beyond which events wait in memory instead. */
  readonly maxSpoolBytes: number;
  /** Size at which a spool segment is sealed; a crash re-sends at most one segment. */
  readonly segmentMaxBytes: number;
  /** Payload bytes allowed in memory beyond the ring (while the spool is full or behind). */
  readonly maxOverflowBytes: number;
  /** Records appended to the spool before an fsync is forced. */
  readonly fsyncRecords: number;
  /** Longest time spooled records stay unsynced. */
  readonly fsyncIntervalMs: number;
  /** First delay before retrying NATS. */
  readonly retryInitialMs: number;
  /** Longest delay between NATS retries. */
  readonly retryMaxMs: number;
  /**
   * Longest delay between attempts to append to a spool that cannot be written (disk full): the
   * attempts back off from `retryInitialMs` to this, so the spooler resumes soon after space
   * returns without spinning while it is missing.
   */
  readonly spoolRetryMaxMs: number;
  /** Events moved from memory to the spool per write. */
  readonly spoolBatch: number;
  /** Spool left at or below which replay pauses spooling to hand over to direct publishing. */
  readonly handoffBytes: number;
  /**
   * Longest time an event waits in the buffer for others to share its socket write to NATS
   * (0: each turn's events go at once). Below a burst's worth of events the publisher waits
   * this long, so a pool answering one share at a time writes to NATS once per few shares
   * instead of once per share.
   */
  readonly publishLingerMs: number;
}

/** Defaults of {@linkcode EmitterTuning}. */
export const DEFAULT_EMITTER_TUNING: EmitterTuning = Object.freeze({
  maxInFlight: 512,
  publishTimeoutMs: 2_000,
  maxSpoolBytes: 1024 ** 3,
  segmentMaxBytes: 1024 ** 2,
  maxOverflowBytes: 256 * 1024 ** 2,
  fsyncRecords: 1_000,
  fsyncIntervalMs: 100,
  retryInitialMs: 100,
  retryMaxMs: 5_000,
  spoolRetryMaxMs: 1_000,
  spoolBatch: 512,
  handoffBytes: 512 * 1024,
  publishLingerMs: 5,
});
