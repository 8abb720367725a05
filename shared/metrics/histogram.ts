/**
 * Histograms whose observations are a bucket search and two additions on plain numbers.
 *
 * prom-client's `Histogram.observe()` allocates, validates and hashes labels on every call
 * (about 200 ns here), and offers no way to load bucket counts kept elsewhere. So this module
 * keeps the counts in {@linkcode HistogramCell}s and joins the registry as a metric that renders
 * them at scrape time, in the same shape prom-client's histograms have (`_bucket` series with cumulative `le` buckets and `+Inf`, then `_sum` and `_count`).
 *
 * @module
 */
import type { LabelValues, MetricSpec } from "./counter.ts";
import { seriesKey } from "./_series_key.ts";
import type { ExportedSample, ExportedValues } from "./registry.ts";

/** Bucket bounds for sub-millisecond latencies in microseconds (1 µs to 10 ms). */
export const MICROSECOND_BUCKETS: readonly number[] = Object.freeze([
  1,
  2,
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

/**
 * Finer bounds for a latency whose budget sits well below a millisecond (event emission: p99 <
 * 1 ms): every bound of {@link MICROSECOND_BUCKETS} plus steps in between, so percentiles read
 * from the buckets are close to the truth.
 */
export const FINE_MICROSECOND_BUCKETS: readonly number[] = Object.freeze([
  1,
  2,
  3,
  4,
  5,
  7.5,
  10,
  15,
  20,
  25,
  35,
  50,
  75,
  100,
  150,
  250,
  500,
  750,
  1000,
  2500,
  5000,
  10000,
]);

/** Bucket bounds for millisecond latencies (0.5 ms to 5 s). */
export const MILLISECOND_BUCKETS: readonly number[] = Object.freeze([
  0.5,
  1,
  2,
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
]);

/**
 * Counts of observations per bucket. Owned by whoever observes; read by the registry at scrape.
 */
export class HistogramCell {
  /** Upper bounds, ascending; shared by every cell of one histogram. */
  readonly #bounds: Float64Array;
  /** Observations per bucket (not cumulative); the last slot is the +Inf bucket. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  /** @param bounds ascending finite upper bounds, already checked by {@linkcode CellHistogram}. */
  constructor(bounds: Float64Array) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /**
   * Records one observation; it lands in the first bucket whose bound is `>=` it.
   *
   * @throws {RangeError} when `value` is not finite.
   */
  observe(value: number): void {
    if (!Number.isFinite(value)) {
      throw new RangeError(`Cannot observe histogram value: ${value} is not finite`);
    }
    const bounds = this.#bounds;
    const last = bounds.length;
    let index = 0;
    while (index < last && value > bounds[index]!) index++;
    this.#counts[index]! += 1;
    this.#sum += value;
    this.#count += 1;
  }

  /** Number of observations. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the observed values. */
  get sum(): number {
    return this.#sum;
  }

  /** Cumulative counts per bound, as Prometheus exports them; `+Inf` is {@linkcode count}. */
  cumulativeCounts(): number[] {
    const out: number[] = [];
    let running = 0;
    for (let index = 0; index < this.#bounds.length; index++) {
      running += this.#counts[index]!;
      out.push(running);
    }
    return out;
  }

  /** Forgets every observation. */
  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}

/** A {@linkcode MetricSpec} plus bucket bounds. */
export interface HistogramSpec<L extends string> extends MetricSpec<L> {
  /** Upper bounds, strictly ascending and finite; `+Inf` is always added. */
  readonly buckets: readonly number[];
}

interface HistogramSeries<L extends string> {
  readonly labels: LabelValues<L>;
  readonly cell: HistogramCell;
}

/** A Prometheus histogram backed by {@linkcode HistogramCell}s, one per label set. */
export class CellHistogram<L extends string = never> {
  /** The metric name (the exported series are `<name>_bucket`, `<name>_sum`, `<name>_count`). */
  readonly name: string;
  /** The HELP line. */
  readonly help: string;
  /** What the registry prints on the TYPE line. */
  readonly type = "histogram" as const;
  readonly #labelNames: readonly string[];
  readonly #bounds: Float64Array;
  readonly #series = new Map<string, HistogramSeries<L>>();

  /**
   * Registers the histogram with `spec.registry`.
   *
   * @throws {RangeError} when the buckets are empty, not finite or not strictly ascending.
   * @throws {TypeError} when a label is named `le` (Prometheus reserves it for buckets).
   * @throws {Error} when the registry already has a metric of that name.
   */
  constructor(spec: HistogramSpec<L>) {
    const buckets = spec.buckets;
    if (buckets.length === 0) {
      throw new RangeError(`Cannot create histogram ${spec.name}: no buckets`);
    }
    for (let index = 0; index < buckets.length; index++) {
      const bound = buckets[index]!;
      const previous = index === 0 ? -Infinity : buckets[index - 1]!;
      if (!Number.isFinite(bound) || bound <= previous) {
        throw new RangeError(
          `Cannot create histogram ${spec.name}: buckets must be finite and strictly ascending`,
        );
      }
    }
    if ((spec.labelNames ?? []).some((label) => label === "le")) {
      throw new TypeError(`Cannot create histogram ${spec.name}: "le" is a reserved label`);
    }
    this.name = spec.name;
    this.help = spec.help;
    this.#labelNames = spec.labelNames ?? [];
    this.#bounds = Float64Array.from(buckets);
    spec.registry.registerMetric(this);
  }

  /**
   * The cell for one label set, made on first request; callers keep it and observe into it.
   *
   * @throws {TypeError} for a label name the histogram does not declare.
   */
  child(labels: LabelValues<L> = {}): HistogramCell {
    const key = seriesKey(this.#labelNames, labels, this.name);
    const existing = this.#series.get(key);
    if (existing !== undefined) return existing.cell;
    const cell = new HistogramCell(this.#bounds);
    this.#series.set(key, { labels: { ...labels }, cell });
    return cell;
  }

  /** Renders every series for the registry (called on each scrape). */
  get(): ExportedValues {
    const values: ExportedSample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, cell } of this.#series.values()) {
      const base = labels as Readonly<Record<string, string>>;
      const cumulative = cell.cumulativeCounts();
      for (let index = 0; index < cumulative.length; index++) {
        values.push({
          metricName: bucketName,
          labels: { ...base, le: this.#bounds[index]! },
          value: cumulative[index]!,
        });
      }
      values.push({ metricName: bucketName, labels: { ...base, le: "+Inf" }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels: base, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: base, value: cell.count });
    }
    return { values };
  }

  /** Forgets every observation of every series (`registry.resetMetrics()`). */
  reset(): void {
    for (const { cell } of this.#series.values()) cell.reset();
  }
}
