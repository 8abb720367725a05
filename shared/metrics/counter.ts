/**
 * Counters whose hot-path increments are plain number additions.
 *
 * prom-client's own `counter.labels(...).inc()` hashes and validates the label set on every call
 * (about 150 ns here); the share path cannot afford that several times per submit. So each label
 * set gets a {@linkcode CounterCell} once, at construction, and the prom-client counter reads the
 * cells only when Prometheus scrapes.
 *
 * @module
 */
import client from "prom-client";
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
  readonly registry: client.Registry;
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
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, CounterSeries<L>>();
  readonly #counter: client.Counter<L>;

  /**
   * Registers the counter with `spec.registry`.
   *
   * @throws {Error} from prom-client when the registry already has a metric of that name.
   */
  constructor(spec: MetricSpec<L>) {
    this.name = spec.name;
    this.#labelNames = spec.labelNames ?? [];
    const series = this.#series;
    this.#counter = new client.Counter<L>({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      registers: [spec.registry],
      // Rebuilt from the cells on every scrape, so the cells are the only state.
      collect(this: client.Counter<L>): void {
        this.reset();
        for (const { labels, cell } of series.values()) {
          this.inc(labels, cell.value);
        }
      },
    });
  }

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
