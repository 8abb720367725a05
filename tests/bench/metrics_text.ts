/**
 * Reads values out of the pool's Prometheus text exposition (/metrics).
 */

/** Sum and count of a Prometheus histogram, added over all its label sets. */
export function histogramTotals(metricsText: string, name: string): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  for (const line of metricsText.split("\n")) {
    const value = () => Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith(`${name}_sum{`) || line.startsWith(`${name}_sum `)) sum += value();
    if (line.startsWith(`${name}_count{`) || line.startsWith(`${name}_count `)) count += value();
  }
  return { sum, count };
}

/** Cumulative bucket counts of a histogram: upper bound → observations at or below it. */
export type Buckets = ReadonlyMap<number, number>;

/** A histogram's cumulative `_bucket` counts by `le` (`+Inf` as Infinity), over all label sets. */
export function histogramBuckets(metricsText: string, name: string): Buckets {
  const buckets = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of metricsText.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const le = /[{,]le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === "+Inf" ? Infinity : Number(le);
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    buckets.set(bound, (buckets.get(bound) ?? 0) + value);
  }
  return new Map([...buckets].sort((a, b) => a[0] - b[0]));
}

/** The observations made between two scrapes (`after` − `before`, bucket by bucket). */
export function bucketDelta(before: Buckets, after: Buckets): Buckets {
  return new Map([...after].map(([bound, count]) => [bound, count - (before.get(bound) ?? 0)]));
}

/**
 * The `q` quantile of cumulative buckets, interpolated linearly inside the bucket that holds it
 * (as Prometheus `histogram_quantile` does; the lowest bucket starts at 0). Null when empty; the
 * highest finite bound when the quantile falls in `+Inf`.
 */
export function bucketQuantile(buckets: Buckets, q: number): number | null {
  const total = buckets.get(Infinity) ?? [...buckets.values()].at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      if (count === lowerCount) return bound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

/** Upper bound of the highest non-empty bucket: the maximum, as far as buckets can tell. */
export function bucketMaxBound(buckets: Buckets): number | null {
  let previous = 0;
  let max: number | null = null;
  for (const [bound, count] of buckets) {
    if (count > previous) max = bound;
    previous = count;
  }
  return max;
}

/** Share of observations at or below `bound` (which must be one of the bucket bounds). */
export function fractionAtOrBelow(buckets: Buckets, bound: number): number | null {
  const total = buckets.get(Infinity) ?? 0;
  const at = buckets.get(bound);
  if (total <= 0 || at === undefined) return null;
  return at / total;
}
