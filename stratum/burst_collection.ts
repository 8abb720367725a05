/**
 * When to run one memory-reducing garbage collection after a burst of new connections: a
 * restart, a failover or a network blip makes thousands of miners connect within seconds, and
 * their handshakes (short-lived objects: about 4 KB per miner in the engine alone, more in the
 * socket layer) grow V8's young generation to its maximum and leave garbage that V8's own memory
 * reducer returns only a minute or more later, if the pool ever looks idle to it. One collection
 * once the burst is over returns it at once: with 10,000 miners RSS went down by 55–68 MB
 * (BENCHMARKS.md, idle_memory, with the pause and the bytes per connection).
 *
 * Only ticks with at least `busyOpensPerTick` new connections count as the burst, so the
 * steady trickle of reconnects a large pool always has never adds up to a collection; a burst
 * is over when that many new connections neither arrive nor wait to authorize (handshakes
 * still in the socket buffers of a busy process are part of it); and
 * collections are at least `minIntervalMs` apart whatever happens, so a pool under a
 * connection flood pauses at most once per interval.
 *
 * @module
 */

/** Thresholds of {@link BurstCollection}. */
export interface BurstCollectionOptions {
  /**
   * A tick with at least this many new connections, or as many connections waiting to
   * authorize, is part of a burst.
   */
  readonly busyOpensPerTick: number;
  /** Connections a burst must have opened to be worth a collection. */
  readonly minBurstOpens: number;
  /** Consecutive ticks below `busyOpensPerTick` that end a burst. */
  readonly quietTicks: number;
  /** Least time between two collections (ms). */
  readonly minIntervalMs: number;
}

/**
 * The pool's thresholds, for its once-a-second tick: a burst is 100 or more new connections a
 * second adding up to 5,000, over once two seconds pass with fewer; at most one collection a
 * minute. The pause grows with everything the process holds (0.35–0.5 s of CPU with 10,000
 * miners on a loaded 2-core machine), what it returns with the size of the burst: below a few
 * thousand connections V8's own memory reducer is left to it.
 */
export const POOL_BURST_COLLECTION: BurstCollectionOptions = {
  busyOpensPerTick: 100,
  minBurstOpens: 5_000,
  quietTicks: 2,
  minIntervalMs: 60_000,
};

/** Decides, tick by tick, whether a burst of connections just ended. */
export class BurstCollection {
  readonly #options: BurstCollectionOptions;
  #lastOpened: number | null = null;
  #burstOpens = 0;
  #quiet = 0;
  #lastCollectionMs = -Infinity;

  constructor(options: BurstCollectionOptions) {
    this.#options = options;
  }

  /** Connections counted toward the burst not yet followed by a collection. */
  get pendingBurstOpens(): number {
    return this.#burstOpens;
  }

  /**
   * Called once per tick with the engine's count of connections opened so far and of those open
   * but not yet authorized; true when the caller should collect now (the decision counts as
   * made: the next one is `minIntervalMs` away at the earliest).
   */
  onTick(nowMs: number, openedTotal: number, awaitingAuthorize: number): boolean {
    const opens = this.#lastOpened === null ? 0 : Math.max(0, openedTotal - this.#lastOpened);
    this.#lastOpened = openedTotal;
    const busy = this.#options.busyOpensPerTick;
    if (opens >= busy || awaitingAuthorize >= busy) {
      this.#burstOpens += opens;
      this.#quiet = 0;
      return false;
    }
    this.#quiet++;
    if (this.#burstOpens < this.#options.minBurstOpens) {
      // A short burst too small to matter is forgotten once it is over.
      if (this.#quiet >= this.#options.quietTicks) this.#burstOpens = 0;
      return false;
    }
    if (this.#quiet < this.#options.quietTicks) return false;
    if (nowMs - this.#lastCollectionMs < this.#options.minIntervalMs) return false;
    this.#burstOpens = 0;
    this.#lastCollectionMs = nowMs;
    return true;
  }
}
