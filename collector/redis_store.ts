/**
 * Applies batches of events to Redis with the batch script ({@link BATCH_SCRIPT}): one EVALSHA
 * per chunk of events, chunks pipelined in one round trip. Each call is atomic (dedup keys plus
 * side effects), so a batch cut short by a lost connection is simply sent again: the events
 * already applied answer "seen".
 *
 * @module
 */
import { Redis } from "ioredis";
import type { MiningEvent } from "@tbg/shared/events";
import { BATCH_SCRIPT, BATCH_SCRIPT_SHA1, batchScriptArgs } from "./redis_batch_script.ts";

/** Most events per script call: bounds how long one call holds Redis (about 5 ms here). */
export const MAX_EVENTS_PER_CALL = 500;

/** Outcome of {@link RedisStore.apply}. */
export interface RedisApplyResult {
  /** Events applied now. */
  readonly applied: number;
  /** Events whose dedup key already existed (applied before). */
  readonly duplicates: number;
  /** Side effects Redis refused (e.g. a key of the wrong type); not retried. */
  readonly errors: number;
  /** The first refusal's message, when `errors > 0`. */
  readonly firstError?: string;
}

/** Settings of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** Told about connection errors (the client reconnects by itself). */
  readonly onConnectionError?: (error: unknown) => void;
  /** Longest wait for one pipeline's replies. Default 15 s. */
  readonly commandTimeoutMs?: number;
}

const ONE = "1".charCodeAt(0);

/** What the batch script returns: per-event flags, refused side effects, first refusal. */
type ScriptReply = [flags: string, refused: number, firstError: string];

function isMissingScript(error: Error): boolean {
  return error.message.startsWith("NOSCRIPT");
}

function parseReply(reply: unknown): ScriptReply | Error {
  if (
    Array.isArray(reply) && reply.length === 3 && typeof reply[0] === "string" &&
    typeof reply[1] === "number" && typeof reply[2] === "string"
  ) {
    return [reply[0], reply[1], reply[2]];
  }
  return new TypeError(`Cannot read batch script reply: ${JSON.stringify(reply)}`);
}

/** Redis side of the pipeline. */
export class RedisStore {
  readonly #redis: Redis;

  /**
   * Creates the client; it connects at once and reconnects forever. Commands fail immediately
   * while disconnected (no offline queue), so the caller's retry loop owns the pacing.
   *
   * @param url `redis://[user:password@]host[:port][/db]`.
   * @param options Connection error callback, command timeout.
   */
  constructor(url: string, options: RedisStoreOptions = {}) {
    this.#redis = new Redis(url, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 15_000,
      connectTimeout: 5_000,
      retryStrategy: (times: number) => Math.min(100 * times, 2_000),
    });
    const onError = options.onConnectionError ?? (() => {});
    this.#redis.on("error", onError);
  }

  /** The client (tests and tooling). */
  get client(): Redis {
    return this.#redis;
  }

  /** Whether the connection is established and ready for commands. */
  get ready(): boolean {
    return this.#redis.status === "ready";
  }

  /**
   * Applies each event once.
   *
   * @param events Valid events.
   * @returns Counts of applied and already-seen events, and of refused side effects.
   * @throws When Redis is unreachable or answers that it cannot serve now (loading, busy, out
   *   of memory, read-only); some chunks may have been applied, the rest not, so the caller
   *   retries the whole batch.
   */
  async apply(events: readonly MiningEvent[]): Promise<RedisApplyResult> {
    if (events.length === 0) return { applied: 0, duplicates: 0, errors: 0 };
    const chunks: (readonly MiningEvent[])[] = [];
    for (let i = 0; i < events.length; i += MAX_EVENTS_PER_CALL) {
      chunks.push(events.slice(i, i + MAX_EVENTS_PER_CALL));
    }
    let replies = await this.#run(chunks);
    if (replies.some((reply) => reply instanceof Error && isMissingScript(reply))) {
      // Redis restarted (or SCRIPT FLUSH): load it and send again; applied chunks answer "seen".
      await this.#redis.script("LOAD", BATCH_SCRIPT);
      replies = await this.#run(chunks);
    }
    let applied = 0;
    let duplicates = 0;
    let errors = 0;
    let firstError: string | undefined;
    for (const reply of replies) {
      if (reply instanceof Error) throw reply;
      const [flags, refused, message] = reply;
      for (let i = 0; i < flags.length; i++) {
        if (flags.charCodeAt(i) === ONE) applied++;
        else duplicates++;
      }
      errors += refused;
      if (refused > 0) firstError ??= message;
    }
    return { applied, duplicates, errors, ...(firstError === undefined ? {} : { firstError }) };
  }

  /** One EVALSHA per chunk, pipelined; a reply is the script's result or the chunk's error. */
  async #run(chunks: readonly (readonly MiningEvent[])[]): Promise<(ScriptReply | Error)[]> {
    const pipeline = this.#redis.pipeline();
    for (const chunk of chunks) pipeline.evalsha(BATCH_SCRIPT_SHA1, 0, ...batchScriptArgs(chunk));
    const results = await pipeline.exec();
    if (results === null) throw new Error("Cannot apply events to Redis: pipeline was discarded");
    return results.map(([error, reply]) => error ?? parseReply(reply));
  }

  /** Sends PING. @throws when Redis cannot be reached. */
  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  /** Closes the connection (QUIT, or a hard disconnect when that fails). */
  async close(): Promise<void> {
    try {
      if (this.#redis.status === "ready") await this.#redis.quit();
      else this.#redis.disconnect();
    } catch {
      this.#redis.disconnect();
    }
  }
}
