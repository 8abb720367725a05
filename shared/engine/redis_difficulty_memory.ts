/**
 * Reconnect difficulty memory in Redis, so a worker that reconnects to any pool process (or after
 * a restart) resumes near its last difficulty instead of ramping up from startdiff again.
 * Lookups happen at authorize time only; writes are fire-and-forget.
 */
import { Redis } from "ioredis";
import type { StructuredLogger } from "../log/mod.ts";
import type { DifficultyMemory, DifficultyMemoryOptions } from "./difficulty_memory.ts";

/** Key prefix of remembered difficulties. */
export const DIFFICULTY_KEY_PREFIX = "tbg:vardiff:";
/** A lookup slower than this answers "nothing remembered" rather than delaying the miner. */
export const LOOKUP_TIMEOUT_MS = 500;

/** DifficultyMemory over a Redis server. */
export class RedisDifficultyMemory implements DifficultyMemory {
  readonly #redis: Redis;
  readonly #ttlSeconds: number;
  readonly #log: StructuredLogger;
  #lastErrorLogMs = 0;

  /** @param url `redis://host:port[/db]` */
  constructor(url: string, options: DifficultyMemoryOptions, log: StructuredLogger) {
    this.#ttlSeconds = Math.max(1, Math.round(options.reconnect_memory_ttl));
    this.#log = log;
    // Commands issued while (re)connecting wait in ioredis' offline queue, which is flushed with
    // an error after each failed reconnect attempt (maxRetriesPerRequest), so it cannot pile up.
    this.#redis = new Redis(url, {
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
      retryStrategy: (times: number) => Math.min(times * 200, 5_000),
    });
    this.#redis.on("error", (e: unknown) => this.#logError("redis connection error", e));
  }

  /** @inheritdoc */
  async get(key: string): Promise<number | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const value = await Promise.race([
        this.#redis.get(DIFFICULTY_KEY_PREFIX + key),
        new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), LOOKUP_TIMEOUT_MS)),
      ]);
      if (value === null) return undefined;
      const diff = Number(value);
      return Number.isFinite(diff) && diff > 0 ? diff : undefined;
    } catch (e) {
      this.#logError("difficulty lookup failed", e);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** @inheritdoc */
  set(key: string, diff: number): void {
    this.#redis.set(DIFFICULTY_KEY_PREFIX + key, String(diff), "EX", this.#ttlSeconds)
      .catch((e: unknown) => this.#logError("difficulty store failed", e));
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }

  #logError(message: string, e: unknown): void {
    // At most one line per 10 s: a Redis outage must not flood the log.
    const now = Date.now();
    if (now - this.#lastErrorLogMs < 10_000) return;
    this.#lastErrorLogMs = now;
    this.#log.warn(message, { error: String(e) });
  }
}
