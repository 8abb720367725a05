/**
 * Counters whose hot-path increments are plain number additions.
 *
 * A registry-side counter that hashes and validates the label set on every increment (prom-client's
 * `counter.labels(...).inc()`, about 150 ns here) is more than the share path can afford several
 * times per submit. So each label set gets a {@linkcode CounterCell} once, at construction, and
 * the counter reads the cells only when Prometheus scrapes.
 *
 * @module
 */
import { checkMetricNames, type ExportedValues, type MetricRegistry } from "./registry.ts";
import { seriesKey } from "./_series_key.ts";

/** The label values of one series; label names absent from the object are left off the series. */
export type LabelValues<L extends string> = Partial<Record<L, string>>;

/**
 * A count that only goes up. Owned by whoever increments it; read by the registry at scrape.
 */
export class CounterCell {
  #value = 0;

  /** The count so far. */
  get value(): number {
    return this.#value;
  }

  /**
   * Adds to the count.
   *
   * @param by how much, 1 unless given.
   * @throws {RangeError} when `by` is negative or not finite: a counter never goes down.
   */
  inc(by = 1): void {
    if (!(by >= 0 && by !== Infinity)) {
      throw new RangeError(`Cannot increment counter: ${by} is negative or not finite`);
    }
    this.#value += by;
  }
}

/** Name, help text and label names of one metric, and the registry it joins. */
export interface MetricSpec<L extends string> {
  /** Prometheus metric name, e.g. `ckpool_shares_total`. */
  readonly name: string;
  /** The HELP line. */
  readonly help: string;
  /** Label names its series may carry (besides the registry's default labels). */
  readonly labelNames?: readonly L[];
  /** The registry that exports it. */
  readonly registry: MetricRegistry;
}

interface CounterSeries<L extends string> {
  readonly labels: LabelValues<L>;
  readonly cell: CounterCell;
}

/**
 * A Prometheus counter backed by {@linkcode CounterCell}s, one per label set.
 *
 * Every series exists (at 0) from the moment its cell is made, so `rate()` and `increase()` see
 * a zero rather than an absent series before the first event.
 */
export class CellCounter<L extends string = never> {
  /** The metric name. */
  readonly name: string;
  /** The HELP line. */
  readonly help: string;
  /** What the registry prints on the TYPE line. */
  readonly type = "counter" as const;
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, CounterSeries<L>>();

  /**
   * Registers the counter with `spec.registry`.
   *
   * @throws {Error} for an invalid metric or label name, or when the registry already has a
   *   metric of that name.
   */
  constructor(spec: MetricSpec<L>) {
    checkMetricNames(spec.name, spec.labelNames ?? []);
    if (spec.help === "") throw new Error("Missing mandatory help parameter");
    this.name = spec.name;
    this.help = spec.help;
    this.#labelNames = spec.labelNames ?? [];
    spec.registry.registerMetric(this);
  }

  /** Reads every series from its cell (called on each scrape); the cells are the only state. */
  get(): ExportedValues {
    // An unlabelled counter is exported at 0 before its cell exists, as Prometheus clients do.
    if (this.#labelNames.length === 0 && this.#series.size === 0) {
      return { values: [{ labels: {}, value: 0 }] };
    }
    return {
      values: [...this.#series.values()].map(({ labels, cell }) => ({ labels, value: cell.value })),
    };
  }

  /**
   * Does nothing: the counts live in the cells their holders own, and the next scrape reads them
   * again (as the prom-client counter rebuilt from them did).
   */
  reset(): void {}

  /**
   * The cell for one label set, made on first request; callers keep it and increment it directly.
   *
   * @param labels values for some or all of the label names.
   * @param cell an existing cell to publish under this series too (one count, two names), or a new
   *   one when omitted.
   * @throws {TypeError} when `labels` names a label the counter does not have, or when the label
   *   set is already bound to a different cell.
   */
  child(labels: LabelValues<L> = {}, cell?: CounterCell): CounterCell {
    const key = seriesKey(this.#labelNames, labels, this.name);
    const existing = this.#series.get(key);
    if (existing !== undefined) {
      if (cell !== undefined && cell !== existing.cell) {
        throw new TypeError(
          `Cannot bind cell to ${this.name}{${key}}: the series already has another cell`,
        );
      }
      return existing.cell;
    }
    const bound = cell ?? new CounterCell();
    this.#series.set(key, { labels: { ...labels }, cell: bound });
    return bound;
  }
}
