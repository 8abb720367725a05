/**
 * Applies batches to Redis with the batch script ({@link BATCH_SCRIPT}): one EVALSHA per chunk
 * of entries, chunks pipelined in one round trip. Each call is atomic (settled record plus side
 * effects), so a batch cut short by a lost connection is simply sent again: the sequences
 * already settled answer "seen". Also reads and moves the settled floor ({@link FLOOR_SCRIPT}).
 *
 * @module
 */
import { Redis } from "ioredis";
import {
  BATCH_SCRIPT,
  BATCH_SCRIPT_SHA1,
  batchScriptArgs,
  EntryMode,
  type RedisEntry,
} from "./redis_batch_script.ts";
import {
  FLOOR_SCRIPT,
  FLOOR_SCRIPT_SHA1,
  NO_FLOOR_ERROR,
  settledKeyPrefix,
  type StreamIdentity,
} from "./settled_record.ts";

/** Most entries per script call: bounds how long one call holds Redis (about 5 ms here). */
export const MAX_EVENTS_PER_CALL = 500;

/** Thrown when the settled record has no floor yet: create it ({@link RedisStore.initFloor}). */
export class MissingFloorError extends Error {
  override name = "MissingFloorError";
}

/** Outcome of {@link RedisStore.apply}. */
export interface RedisApplyResult {
  /** Apply entries applied now. */
  readonly applied: number;
  /** Apply entries whose sequence (or legacy dedup key) was settled before. */
  readonly duplicates: number;
  /** The settled floor after the last call. */
  readonly floor: number;
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

/** What the batch script returns: per-entry flags, refused side effects, first refusal, floor. */
type ScriptReply = [flags: string, refused: number, firstError: string, floor: number];

function isMissingScript(error: Error): boolean {
  return error.message.startsWith("NOSCRIPT");
}

function asError(error: Error): Error {
  return error.message.startsWith(NO_FLOOR_ERROR) ? new MissingFloorError(error.message) : error;
}

function parseReply(reply: unknown): ScriptReply | Error {
  if (
    Array.isArray(reply) && reply.length === 4 && typeof reply[0] === "string" &&
    typeof reply[1] === "number" && typeof reply[2] === "string" &&
    typeof reply[3] === "string" && /^[0-9]+$/.test(reply[3])
  ) {
    return [reply[0], reply[1], reply[2], Number(reply[3])];
  }
  return new TypeError(`Cannot read batch script reply: ${JSON.stringify(reply)}`);
}

function parseFloor(reply: unknown): number | null {
  if (reply === null) return null;
  if (typeof reply === "string" && /^[0-9]+$/.test(reply)) return Number(reply);
  throw new TypeError(`Cannot read settled floor: ${JSON.stringify(reply)}`);
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
   * Settles each entry's sequence in `identity`'s record; applies each apply entry whose
   * sequence was not settled before.
   *
   * @param identity The stream incarnation and filter the sequences belong to.
   * @param entries One per message, in batch order.
   * @returns Counts of applied and already-settled apply entries, refused side effects, floor.
   * @throws {MissingFloorError} When the record has no floor (nothing was written).
   * @throws When Redis is unreachable or answers that it cannot serve now (loading, busy, out
   *   of memory, read-only); some chunks may have been applied, the rest not, so the caller
   *   retries the whole batch.
   */
  async apply(
    identity: StreamIdentity,
    entries: readonly RedisEntry[],
  ): Promise<RedisApplyResult> {
    const prefix = settledKeyPrefix(identity);
    if (entries.length === 0) {
      const floor = await this.floor(identity);
      if (floor === null) throw new MissingFloorError(`${NO_FLOOR_ERROR} no settled floor`);
      return { applied: 0, duplicates: 0, errors: 0, floor };
    }
    const chunks: (readonly RedisEntry[])[] = [];
    for (let i = 0; i < entries.length; i += MAX_EVENTS_PER_CALL) {
      chunks.push(entries.slice(i, i + MAX_EVENTS_PER_CALL));
    }
    let replies = await this.#run(prefix, chunks);
    if (replies.some((reply) => reply instanceof Error && isMissingScript(reply))) {
      // Redis restarted (or SCRIPT FLUSH): load it and send again; applied chunks answer "seen".
      await this.#redis.script("LOAD", BATCH_SCRIPT);
      replies = await this.#run(prefix, chunks);
    }
    let applied = 0;
    let duplicates = 0;
    let errors = 0;
    let floor = 0;
    let firstError: string | undefined;
    for (let c = 0; c < replies.length; c++) {
      const reply = replies[c]!;
      if (reply instanceof Error) throw asError(reply);
      const [flags, refused, message, settled] = reply;
      const chunk = chunks[c]!;
      for (let i = 0; i < flags.length; i++) {
        if (flags.charCodeAt(i) === ONE) applied++;
        else if (chunk[i]?.mode !== EntryMode.mark) duplicates++;
      }
      errors += refused;
      if (refused > 0) firstError ??= message;
      floor = Math.max(floor, settled);
    }
    return {
      applied,
      duplicates,
      floor,
      errors,
      ...(firstError === undefined ? {} : { firstError }),
    };
  }

  /** One EVALSHA per chunk, pipelined; a reply is the script's result or the chunk's error. */
  async #run(
    prefix: string,
    chunks: readonly (readonly RedisEntry[])[],
  ): Promise<(ScriptReply | Error)[]> {
    const pipeline = this.#redis.pipeline();
    for (const chunk of chunks) {
      pipeline.evalsha(BATCH_SCRIPT_SHA1, 0, ...batchScriptArgs(prefix, chunk));
    }
    const results = await pipeline.exec();
    if (results === null) throw new Error("Cannot apply events to Redis: pipeline was discarded");
    return results.map(([error, reply]) => error ?? parseReply(reply));
  }

  /**
   * The settled floor of `identity`.
   *
   * @returns Every sequence up to it is settled; `null` when the record has none.
   */
  async floor(identity: StreamIdentity): Promise<number | null> {
    return parseFloor(await this.#floorScript(identity, "get", 0));
  }

  /**
   * Creates the floor at `seq` unless the record has one (a Redis that never held it, or lost
   * it): what the consumer acknowledged before is then taken as settled.
   *
   * @returns The floor now in place.
   */
  async initFloor(identity: StreamIdentity, seq: number): Promise<number> {
    return parseFloor(await this.#floorScript(identity, "init", seq)) ?? seq;
  }

  /**
   * Settles every sequence up to `seq` without side effects, for sequences that can never be
   * delivered (gone from the stream, or outside the consumer's filter), then moves over the
   * settled ones above.
   *
   * @returns The new floor.
   * @throws {MissingFloorError} When the record has no floor.
   */
  async raiseFloor(identity: StreamIdentity, seq: number): Promise<number> {
    return parseFloor(await this.#floorScript(identity, "raise", seq)) ?? seq;
  }

  async #floorScript(identity: StreamIdentity, action: string, seq: number): Promise<unknown> {
    const args = [settledKeyPrefix(identity), action, String(seq)];
    try {
      try {
        return await this.#redis.evalsha(FLOOR_SCRIPT_SHA1, 0, ...args);
      } catch (error: unknown) {
        if (!(error instanceof Error && isMissingScript(error))) throw error;
        await this.#redis.script("LOAD", FLOOR_SCRIPT);
        return await this.#redis.evalsha(FLOOR_SCRIPT_SHA1, 0, ...args);
      }
    } catch (error: unknown) {
      throw error instanceof Error ? asError(error) : error;
    }
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
