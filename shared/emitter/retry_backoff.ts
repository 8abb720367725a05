/**
 * Delays between attempts to reach NATS again: exponential with "equal jitter", so many
 * instances that lost the same hub do not reconnect in lock step.
 *
 * @module
 */

/** Settings of {@linkcode backoffDelayMs}. */
export interface BackoffOptions {
  /** Delay around the first retry. */
  readonly initialMs: number;
  /** Upper bound of the delay. */
  readonly maxMs: number;
}

/**
 * The delay before retry number `attempt` (0 for the first).
 *
 * @param random a number in [0, 1); `Math.random()` unless given (tests pass a constant).
 * @returns a delay in `[base / 2, base]` where `base = min(maxMs, initialMs * 2^attempt)`.
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  random: number = Math.random(),
): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return base / 2 + (base / 2) * random;
}
