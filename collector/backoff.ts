/**
 * Retry pacing while a backend is down: exponential delays with jitter, and a log throttle so an
 * outage writes a line every few seconds rather than one per attempt.
 *
 * @module
 */

/** Settings of {@link Backoff}. */
export interface BackoffOptions {
  /** First delay. */
  readonly initialMs: number;
  /** Largest delay. */
  readonly maxMs: number;
  /** Uniform random number in [0, 1); `Math.random` unless given (tests pass a fixed one). */
  readonly random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": each delay is half the current step plus a random
 * share of the other half, so several collectors that lost the same backend do not retry in step.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #stepMs: number;
  #attempts = 0;

  /**
   * Creates a backoff at its initial delay.
   *
   * @param options Initial and largest delay, random source.
   * @throws {RangeError} If the delays are not positive or `maxMs < initialMs`.
   */
  constructor(options: BackoffOptions) {
    const { initialMs, maxMs } = options;
    if (!(initialMs > 0) || !(maxMs >= initialMs) || !Number.isFinite(maxMs)) {
      throw new RangeError(
        `Cannot create backoff: need 0 < initialMs <= maxMs, got ${initialMs} and ${maxMs}`,
      );
    }
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#random = options.random ?? Math.random;
    this.#stepMs = initialMs;
  }

  /** Failed attempts since the last {@link reset}. */
  get attempts(): number {
    return this.#attempts;
  }

  /**
   * Records a failed attempt.
   *
   * @returns Milliseconds to wait before the next attempt.
   */
  next(): number {
    this.#attempts++;
    const step = this.#stepMs;
    this.#stepMs = Math.min(this.#maxMs, step * 2);
    return Math.round(step / 2 + (step / 2) * this.#random());
  }

  /** Starts over after a success. */
  reset(): void {
    this.#attempts = 0;
    this.#stepMs = this.#initialMs;
  }
}

/**
 * Lets one log line through per interval and counts the ones held back.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastMs = -Infinity;
  #suppressed = 0;

  /**
   * Creates a throttle that lets the first line through.
   *
   * @param intervalMs Shortest time between two lines.
   * @param now Clock in milliseconds; `Date.now` unless given.
   */
  constructor(intervalMs: number, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Asks whether a line may be written now.
   *
   * @returns `undefined` when the line must be dropped, else how many lines were dropped since
   *   the last one written (to put in the line).
   */
  take(): number | undefined {
    const now = this.#now();
    if (now - this.#lastMs < this.#intervalMs) {
      this.#suppressed++;
      return undefined;
    }
    this.#lastMs = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return suppressed;
  }
}
