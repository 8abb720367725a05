/**
 * Gauges whose updates are plain number writes, published when Prometheus scrapes (see
 * `counter.ts` for why the hot path avoids prom-client's per-call label hashing).
 *
 * @module
 */
import type { LabelValues, MetricSpec } from "./counter.ts";
import { seriesKey } from "./_series_key.ts";
import { checkMetricNames, type ExportedValues } from "./registry.ts";

/** A value that goes up and down. Owned by whoever sets it; read by the registry at scrape. */
export class GaugeCell {
  #value = 0;

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /**
   * Replaces the value.
   *
   * @throws {RangeError} when `value` is NaN (it would export as an unparsable sample).
   */
  set(value: number): void {
    if (Number.isNaN(value)) throw new RangeError("Cannot set gauge: value is NaN");
    this.#value = value;
  }

  /** Sets 1 for true and 0 for false, the Prometheus convention for a state. */
  setBoolean(on: boolean): void {
    this.#value = on ? 1 : 0;
  }

  /**
   * Adds to the value.
   *
   * @throws {RangeError} when `by` is not finite.
   */
  inc(by = 1): void {
    if (!Number.isFinite(by)) throw new RangeError(`Cannot change gauge: step ${by} is not finite`);
    this.#value += by;
  }

  /**
   * Subtracts from the value.
   *
   * @throws {RangeError} when `by` is not finite.
   */
  dec(by = 1): void {
    this.inc(-by);
  }
}

/** Where a series' value comes from: a cell that code sets, or a function read at scrape. */
export type GaugeSource = GaugeCell | (() => number);

interface GaugeSeries<L extends string> {
  readonly labels: LabelValues<L>;
  readonly source: GaugeSource;
}

/** A Prometheus gauge whose series read {@linkcode GaugeCell}s or functions at scrape time. */
export class CellGauge<L extends string = never> {
  /** The metric name. */
  readonly name: string;
  /** The HELP line. */
  readonly help: string;
  /** What the registry prints on the TYPE line. */
  readonly type = "gauge" as const;
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, GaugeSeries<L>>();

  /**
   * Registers the gauge with `spec.registry`.
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

  /** Reads every series from its cell or function (called on each scrape). */
  get(): ExportedValues {
    // An unlabelled gauge is exported at 0 before its source exists, as Prometheus clients do.
    if (this.#labelNames.length === 0 && this.#series.size === 0) {
      return { values: [{ labels: {}, value: 0 }] };
    }
    return {
      values: [...this.#series.values()].map(({ labels, source }) => ({
        labels,
        value: typeof source === "function" ? source() : source.value,
      })),
    };
  }

  /** Does nothing: the values live in the cells and functions, read again at the next scrape. */
  reset(): void {}

  /**
   * The cell for one label set, made on first request; callers keep it and set it directly.
   *
   * @param labels values for some or all of the label names.
   * @param cell an existing cell to publish under this series too, or a new one when omitted.
   * @throws {TypeError} for an unknown label name, or a label set already bound elsewhere.
   */
  child(labels: LabelValues<L> = {}, cell?: GaugeCell): GaugeCell {
    const existing = this.#series.get(this.#key(labels));
    if (existing !== undefined && existing.source instanceof GaugeCell) {
      if (cell !== undefined && cell !== existing.source) this.#conflict(labels);
      return existing.source;
    }
    if (existing !== undefined) this.#conflict(labels);
    const bound = cell ?? new GaugeCell();
    this.#series.set(this.#key(labels), { labels: { ...labels }, source: bound });
    return bound;
  }

  /**
   * Makes a series whose value is computed at each scrape (memory, uptime, ages).
   *
   * `read` runs inside the scrape, so it must be cheap and must not throw.
   *
   * @throws {TypeError} for an unknown label name, or a label set already bound.
   */
  sample(read: () => number, labels: LabelValues<L> = {}): void {
    const key = this.#key(labels);
    if (this.#series.has(key)) this.#conflict(labels);
    this.#series.set(key, { labels: { ...labels }, source: read });
  }

  #key(labels: LabelValues<L>): string {
    return seriesKey(this.#labelNames, labels, this.name);
  }

  #conflict(labels: LabelValues<L>): never {
    throw new TypeError(
      `Cannot bind series ${this.name}{${this.#key(labels)}}: it already has another source`,
    );
  }
}
