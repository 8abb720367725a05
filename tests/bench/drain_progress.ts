/**
 * How fast a durable consumer's backlog is acknowledged: samples of (time, events acknowledged)
 * and the sustained rate between two fractions of the backlog, which leaves out the start-up
 * (connections, first pulls, cold caches) and the tail (the last partial batches).
 *
 * @module
 */

/** One reading of the consumer. */
export interface DrainSample {
  /** `performance.timeOrigin + now()` of the reading. */
  readonly epochMs: number;
  /** Messages acknowledged so far. */
  readonly acked: number;
}

/** The rate between two fractions of the backlog. */
export interface SustainedRate {
  /** Events per second. */
  readonly perS: number;
  /** When the lower fraction was crossed. */
  readonly fromEpochMs: number;
  /** When the upper fraction was crossed. */
  readonly toEpochMs: number;
}

/** Time at which `acked` first reached `target`, interpolated between samples; null if never. */
export function crossingTime(samples: readonly DrainSample[], target: number): number | null {
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]!;
    if (sample.acked < target) continue;
    const before = samples[i - 1];
    if (before === undefined || sample.acked === before.acked) return sample.epochMs;
    const share = (target - before.acked) / (sample.acked - before.acked);
    return before.epochMs + share * (sample.epochMs - before.epochMs);
  }
  return null;
}

/**
 * The acknowledgement rate between `from` and `to` of `total` (e.g. 0.1 and 0.9).
 *
 * @throws {RangeError} when the fractions are not 0 ≤ from < to ≤ 1, or the samples never
 *   reach `to` of the total.
 */
export function sustainedRate(
  samples: readonly DrainSample[],
  total: number,
  from: number,
  to: number,
): SustainedRate {
  if (!(from >= 0 && from < to && to <= 1)) {
    throw new RangeError(
      `Cannot compute a drain rate: fractions ${from} and ${to} are not ordered`,
    );
  }
  const fromEpochMs = crossingTime(samples, from * total);
  const toEpochMs = crossingTime(samples, to * total);
  if (fromEpochMs === null || toEpochMs === null) {
    throw new RangeError(
      `Cannot compute a drain rate: ${samples.at(-1)?.acked ?? 0} of ${total} acknowledged`,
    );
  }
  const seconds = (toEpochMs - fromEpochMs) / 1000;
  return { perS: seconds > 0 ? ((to - from) * total) / seconds : Infinity, fromEpochMs, toEpochMs };
}
