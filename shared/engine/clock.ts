/**
 * Time source for the pure engine modules (vardiff, rate limits, difficulty memory).
 *
 * The modules read time only through this interface so tests can drive them with a
 * {@linkcode ManualClock} and never sleep.
 *
 * @module
 */

/** A source of wall-clock-like time in milliseconds. */
export interface Clock {
  /** Milliseconds since the Unix epoch (may be fractional); must never go backwards. */
  nowMs(): number;
}

/**
 * The process clock: `performance.timeOrigin + performance.now()`.
 *
 * Monotonic for the life of the process (unlike `Date.now()`, it does not jump when NTP
 * steps the system clock), yet close to epoch time so values can be logged and compared
 * with timestamps from other processes.
 */
export const systemClock: Clock = {
  nowMs: (): number => performance.timeOrigin + performance.now(),
};

/** A clock that moves only when a test tells it to. */
export class ManualClock implements Clock {
  #nowMs: number;

  /**
   * @param startMs the initial reading, 0 unless given.
   * @throws {RangeError} when `startMs` is not finite.
   */
  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) {
      throw new RangeError(`Cannot create clock: start ${startMs} is not finite`);
    }
    this.#nowMs = startMs;
  }

  /** The current reading in milliseconds. */
  nowMs(): number {
    return this.#nowMs;
  }

  /**
   * Moves the clock forward.
   *
   * @param ms how far, in milliseconds (may be fractional or 0).
   * @throws {RangeError} when `ms` is negative or not finite: a clock must not go backwards.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`Cannot advance clock: step ${ms} ms is negative or not finite`);
    }
    this.#nowMs += ms;
  }

  /**
   * Moves the clock forward to an absolute reading.
   *
   * @param ms the new reading in milliseconds.
   * @throws {RangeError} when `ms` lies before the current reading or is not finite.
   */
  advanceTo(ms: number): void {
    if (!Number.isFinite(ms) || ms < this.#nowMs) {
      throw new RangeError(`Cannot advance clock: ${ms} ms lies before ${this.#nowMs} ms`);
    }
    this.#nowMs = ms;
  }
}
