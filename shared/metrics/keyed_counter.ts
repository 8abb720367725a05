/**
 * A counter with one label whose values are names chosen by code (a rate-limit rule, a protocol
 * error kind), looked up by string without touching prom-client on the way.
 *
 * @module
 */
import { CellCounter, type CounterCell } from "./counter.ts";
import type { MetricRegistry } from "./registry.ts";

/** Series a {@linkcode KeyedCounter} makes for names it was not told about, at most. */
export const DEFAULT_MAX_EXTRA_KEYS = 32;

/** The label value that absorbs names beyond the cap. */
export const OVERFLOW_KEY = "other";

/** Settings of a {@linkcode KeyedCounter}. */
export interface KeyedCounterSpec {
  /** Prometheus metric name. */
  readonly name: string;
  /** The HELP line. */
  readonly help: string;
  /** The one label, e.g. `rule` or `kind`. */
  readonly label: string;
  /** Names whose series exist from the start at 0. */
  readonly known: readonly string[];
  /** Further names accepted before the rest share {@linkcode OVERFLOW_KEY}. */
  readonly maxExtraKeys?: number;
  /** The registry that exports it. */
  readonly registry: MetricRegistry;
}

/**
 * Counts events by a code-chosen name. Known names are made at construction so their series
 * read 0 rather than being absent; a name added later in the code still counts (it gets its own
 * series), but only up to a cap, so a bug cannot grow the label set without bound.
 */
export class KeyedCounter {
  readonly #counter: CellCounter<string>;
  readonly #label: string;
  readonly #cells = new Map<string, CounterCell>();
  readonly #maxSize: number;

  /**
   * Registers the counter.
   *
   * @throws {RangeError} when `maxExtraKeys` is negative or not an integer.
   * @throws {Error} when the registry already has a metric of that name.
   */
  constructor(spec: KeyedCounterSpec) {
    const extra = spec.maxExtraKeys ?? DEFAULT_MAX_EXTRA_KEYS;
    if (!Number.isInteger(extra) || extra < 0) {
      throw new RangeError(`Cannot create ${spec.name}: maxExtraKeys ${extra} is not a count`);
    }
    this.#label = spec.label;
    this.#counter = new CellCounter<string>({
      name: spec.name,
      help: spec.help,
      labelNames: [spec.label],
      registry: spec.registry,
    });
    for (const key of spec.known) this.#make(key);
    this.#maxSize = this.#cells.size + extra;
  }

  /** Adds `by` (1 unless given) to the series of `key`. */
  inc(key: string, by = 1): void {
    this.cell(key).inc(by);
  }

  /** The cell of `key`, for callers that want to hold it; names past the cap share one cell. */
  cell(key: string): CounterCell {
    const cell = this.#cells.get(key);
    if (cell !== undefined) return cell;
    if (this.#cells.size >= this.#maxSize) {
      return this.#cells.get(OVERFLOW_KEY) ?? this.#make(OVERFLOW_KEY);
    }
    return this.#make(key);
  }

  #make(key: string): CounterCell {
    const cell = this.#counter.child({ [this.#label]: key });
    this.#cells.set(key, cell);
    return cell;
  }
}
