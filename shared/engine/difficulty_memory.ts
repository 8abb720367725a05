/**
 * Reconnect memory: the last difficulty of each `user.worker`, so a worker that reconnects
 * starts where vardiff had brought it instead of at startdiff (which for a small miner on
 * mainnet settings means minutes of idle decay).
 *
 * @module
 */

import type { Clock } from "./clock.ts";

/**
 * Where sessions remember and look up difficulties. Implementations: the in-memory one below
 * (one process), and a Redis one shared by the processes of a region.
 */
export interface DifficultyMemory {
  /**
   * The difficulty remembered for `key`, or undefined when none is remembered or it expired.
   * Called when a worker authorizes, never on the share path.
   */
  get(key: string): Promise<number | undefined>;
  /**
   * Remembers `diff` for `key` for `reconnect_memory_ttl` seconds from now. Fire-and-forget:
   * it returns at once and is never awaited on the share path; an implementation that does
   * I/O handles its own failures.
   */
  set(key: string, diff: number): void;
}

/** The `vardiff{}` config key the memory uses. */
export interface DifficultyMemoryOptions {
  /** Seconds a remembered difficulty stays valid after it was set (config default 86400). */
  readonly reconnect_memory_ttl: number;
}

/** Default bound on remembered workers in one process. */
export const DEFAULT_DIFFICULTY_MEMORY_ENTRIES = 100_000;

/** Expired entries dropped per `set`, so no single call pays for a large backlog. */
const EXPIRE_PER_SET = 4;

interface Entry {
  readonly diff: number;
  readonly expiresAtMs: number;
}

/**
 * Process-local {@linkcode DifficultyMemory}, bounded in size and time.
 *
 * Entries are kept in the order they were last set, which with one TTL for all is also the
 * order they expire in: each `set` drops a few expired entries from the old end and, when the
 * bound is reached, evicts the least recently set one. `get` neither refreshes the TTL nor the
 * order (as with a Redis key set with an expiry), so the bound evicts workers that have not
 * changed difficulty for the longest time.
 */
export class InMemoryDifficultyMemory implements DifficultyMemory {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  /**
   * @param opts the TTL setting.
   * @param clock time source.
   * @param maxEntries most workers remembered at once.
   * @throws {RangeError} when the TTL is negative or not finite, or `maxEntries` is not a
   *   positive integer.
   */
  constructor(
    opts: DifficultyMemoryOptions,
    clock: Clock,
    maxEntries: number = DEFAULT_DIFFICULTY_MEMORY_ENTRIES,
  ) {
    const ttl = opts.reconnect_memory_ttl;
    if (!(Number.isFinite(ttl) && ttl >= 0)) {
      throw new RangeError(`Cannot create difficulty memory: reconnect_memory_ttl ${ttl} < 0`);
    }
    if (!(Number.isSafeInteger(maxEntries) && maxEntries > 0)) {
      throw new RangeError(`Cannot create difficulty memory: maxEntries ${maxEntries} is not > 0`);
    }
    this.#ttlMs = ttl * 1000;
    this.#maxEntries = maxEntries;
    this.#clock = clock;
  }

  /** Entries held, including expired ones not yet dropped. */
  get size(): number {
    return this.#entries.size;
  }

  /** @inheritdoc */
  get(key: string): Promise<number | undefined> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    if (this.#clock.nowMs() >= entry.expiresAtMs) {
      this.#entries.delete(key);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(entry.diff);
  }

  /**
   * @inheritdoc
   * @throws {RangeError} when `diff` is not positive and finite (a caller bug).
   */
  set(key: string, diff: number): void {
    if (!(Number.isFinite(diff) && diff > 0)) {
      throw new RangeError(`Cannot remember difficulty for ${key}: ${diff} is not > 0`);
    }
    const now = this.#clock.nowMs();
    this.#dropExpired(now, EXPIRE_PER_SET);
    this.#entries.delete(key);
    this.#entries.set(key, { diff, expiresAtMs: now + this.#ttlMs });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  /**
   * Drops every expired entry; call from a periodic tick to release memory after a quiet
   * period.
   *
   * @returns how many entries were dropped.
   */
  purgeExpired(): number {
    return this.#dropExpired(this.#clock.nowMs(), Number.POSITIVE_INFINITY);
  }

  #dropExpired(now: number, budget: number): number {
    let dropped = 0;
    for (const [key, entry] of this.#entries) {
      if (dropped >= budget || now < entry.expiresAtMs) break;
      this.#entries.delete(key);
      dropped += 1;
    }
    return dropped;
  }
}
