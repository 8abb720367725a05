/**
 * Rate limits of the Stratum server (Phase 5 seed §2.4), as pure state machines: each call
 * returns a verdict, and the caller acts on it (reset the socket, disconnect, reject the
 * submit) and counts it in a metric labelled by the rule's name ({@linkcode RateLimitRule}:
 * a connection refusal names its rule; each per-connection method has exactly one rule).
 *
 * | rule (config key)             | limit | window     | verdict                            |
 * |-------------------------------|-------|------------|------------------------------------|
 * | connections_per_ip_per_minute | 10    | 60 s       | refuse (reset with TCP RST)        |
 * | max_connections_per_ip        | 50    | concurrent | refuse                             |
 * | max_subscribes_per_minute     | 3     | 60 s       | disconnect                         |
 * | max_authorizes_per_minute     | 5     | 60 s       | disconnect                         |
 * | max_shares_per_minute         | 1000  | 60 s       | soft-ban for submit_ban_seconds    |
 * | max_invalid_shares_per_minute | 100   | 60 s       | disconnect                         |
 * | max_requests_per_minute       | 2000¹ | 60 s       | disconnect                         |
 * | max_invalid_requests_per_minute | 100 | 60 s       | disconnect                         |
 * | max_configures_per_minute     | 10    | 60 s       | disconnect                         |
 * | max_suggest_difficulty_per_minute | 10 | 60 s      | disconnect                         |
 * | maxclients                    | 100k  | concurrent | refuse (or evict, caller's choice) |
 *
 * ¹ Unless configured: twice max_shares_per_minute ({@linkcode defaultRequestBudget}).
 *
 * The seed's table names four request classes; the last four per-connection rows close the rest
 * (issue 10, finding 3). max_requests_per_minute counts every line a connection sends, whatever
 * it is (submits refused during a soft-ban, client replies, extranonce.subscribe included), so no
 * class of request is unbounded; its default leaves room for max_shares_per_minute submits and as
 * many lines again. max_invalid_requests_per_minute counts requests answered with a
 * protocol error (malformed or unknown, a submit before subscribe or for a worker not authorized
 * on the connection, a refused address). Real miners send `mining.configure` once per connection
 * and `mining.suggest_difficulty` at most every 30 s (NerdMiner's keepalive), so 10 a minute of
 * each is far above any of them.
 *
 * "Per IP" is per address group: each IPv4 address (`ipv4_prefix_length` 32) and each IPv6 /64
 * (`ipv6_prefix_length`), an IPv4-mapped IPv6 peer counting as its IPv4 address.
 *
 * Windows: every per-minute rule uses a sliding window of {@linkcode RATE_WINDOW_BUCKETS}
 * buckets of 5 s (13 slots, so the full minute is always covered). Counting every bucket that
 * overlaps the last minute means that, for any 60-second span, at most the limit is ever
 * admitted (no 2× burst across a boundary as with fixed windows, nor the 2× of a token bucket
 * holding N tokens that refill at N per minute), and an event stops counting between 60 and
 * 65 s after it happened. The price is that a perfectly steady stream is held to
 * 12/13 of the limit (923 of 1000 submits per minute). Memory is fixed: one 16-bit counter
 * per slot, with no per-event log. Refused events are not counted, as in the seed's token
 * bucket, so a client retrying after a refusal is admitted once its old events age out.
 *
 * @module
 */

import { BlockSlab } from "./block_slab.ts";
import type { Clock } from "./clock.ts";
import { type AddressGrouping, addressGroupKey, validateAddressGrouping } from "../net/mod.ts";

/** Length of every per-minute window. */
export const RATE_WINDOW_MS = 60_000;

/** Buckets per window (5 s each): the granularity with which events age out. */
export const RATE_WINDOW_BUCKETS = 12;

const BUCKET_MS = RATE_WINDOW_MS / RATE_WINDOW_BUCKETS;
/** One more slot than buckets per window, so the oldest partly covered bucket is kept. */
const SLOTS = RATE_WINDOW_BUCKETS + 1;
/** Largest count a 16-bit slot can hold; limits above it are refused at construction. */
const MAX_LIMIT = 0xffff;

/** The `rate_limits{}` config keys. */
export interface RateLimitOptions {
  /** New connections accepted per IP per minute (default 10). */
  readonly connections_per_ip_per_minute: number;
  /** Concurrent connections per IP (default 50). */
  readonly max_connections_per_ip: number;
  /** IPv4 peers are counted per prefix of this many bits (default 32: each address). */
  readonly ipv4_prefix_length: number;
  /** IPv6 peers are counted per prefix of this many bits (default 64: one subscriber's LAN). */
  readonly ipv6_prefix_length: number;
  /** `mining.subscribe` per connection per minute; beyond: disconnect (default 3). */
  readonly max_subscribes_per_minute: number;
  /** `mining.authorize` per connection per minute; beyond: disconnect (default 5). */
  readonly max_authorizes_per_minute: number;
  /** `mining.submit` per connection per minute; beyond: soft-ban (default 1000). */
  readonly max_shares_per_minute: number;
  /** Length of the soft-ban in seconds (default 300). */
  readonly submit_ban_seconds: number;
  /** Invalid shares per connection per minute; beyond: disconnect (default 100). */
  readonly max_invalid_shares_per_minute: number;
  /** Lines of any kind per connection per minute; beyond: disconnect (default 2 × submits). */
  readonly max_requests_per_minute: number;
  /** Requests answered with a protocol error per connection per minute; beyond: disconnect (100). */
  readonly max_invalid_requests_per_minute: number;
  /** `mining.configure` per connection per minute; beyond: disconnect (default 10). */
  readonly max_configures_per_minute: number;
  /** `mining.suggest_difficulty` per connection per minute; beyond: disconnect (default 10). */
  readonly max_suggest_difficulty_per_minute: number;
}

/**
 * max_requests_per_minute when the config leaves it out: twice the submit limit, so a miner at
 * the submit limit still has as many lines again for everything else (soft-banned submits
 * included), and a config that raised max_shares_per_minute keeps working. Capped at the
 * largest limit a counter holds.
 *
 * @param maxSharesPerMinute the submit limit.
 * @returns the line budget per connection per minute.
 */
export function defaultRequestBudget(maxSharesPerMinute: number): number {
  return Math.min(MAX_LIMIT, 2 * maxSharesPerMinute);
}

/** Settings of the process-wide {@linkcode IpLimiter} (besides maxclients). */
export type IpLimitOptions = Pick<
  RateLimitOptions,
  | "connections_per_ip_per_minute"
  | "max_connections_per_ip"
  | "ipv4_prefix_length"
  | "ipv6_prefix_length"
>;

/** Settings of a per-connection {@linkcode ConnectionLimiter}. */
export type ConnectionLimitOptions = Pick<
  RateLimitOptions,
  | "max_subscribes_per_minute"
  | "max_authorizes_per_minute"
  | "max_shares_per_minute"
  | "submit_ban_seconds"
  | "max_invalid_shares_per_minute"
  | "max_requests_per_minute"
  | "max_invalid_requests_per_minute"
  | "max_configures_per_minute"
  | "max_suggest_difficulty_per_minute"
>;

/** Rule names, as config keys; used as the metric label of every rejection. */
export const RateLimitRule = {
  connectionsPerIpPerMinute: "connections_per_ip_per_minute",
  maxConnectionsPerIp: "max_connections_per_ip",
  maxclients: "maxclients",
  maxSubscribesPerMinute: "max_subscribes_per_minute",
  maxAuthorizesPerMinute: "max_authorizes_per_minute",
  maxSharesPerMinute: "max_shares_per_minute",
  maxInvalidSharesPerMinute: "max_invalid_shares_per_minute",
  maxRequestsPerMinute: "max_requests_per_minute",
  maxInvalidRequestsPerMinute: "max_invalid_requests_per_minute",
  maxConfiguresPerMinute: "max_configures_per_minute",
  maxSuggestDifficultyPerMinute: "max_suggest_difficulty_per_minute",
} as const;

/** A rule name. */
export type RateLimitRule = typeof RateLimitRule[keyof typeof RateLimitRule];

/** The rules {@linkcode IpLimiter.onConnect} may refuse by. */
export type ConnectRule =
  | typeof RateLimitRule.connectionsPerIpPerMinute
  | typeof RateLimitRule.maxConnectionsPerIp
  | typeof RateLimitRule.maxclients;

/** Verdict on a new connection. */
export type ConnectVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly rule: ConnectRule };

/**
 * Verdict on a request or an invalid share: "disconnect" means the connection must be closed
 * (by the rule the method called is named for).
 */
export type LimitAction = "ok" | "disconnect";

/**
 * Verdict on `mining.submit`: "banned" means reject this submit, the connection being
 * soft-banned (rule max_shares_per_minute).
 */
export type SubmitAction = "ok" | "banned";

// Connection verdicts are shared frozen constants, so no call allocates.
const ALLOWED: ConnectVerdict = Object.freeze({ allowed: true });
const REFUSE_RATE: ConnectVerdict = Object.freeze({
  allowed: false,
  rule: RateLimitRule.connectionsPerIpPerMinute,
});
const REFUSE_PER_IP: ConnectVerdict = Object.freeze({
  allowed: false,
  rule: RateLimitRule.maxConnectionsPerIp,
});
const REFUSE_FULL: ConnectVerdict = Object.freeze({
  allowed: false,
  rule: RateLimitRule.maxclients,
});
function checkLimit(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > MAX_LIMIT) {
    throw new RangeError(
      `Cannot use rate limit ${name}: ${value} is not an integer in [${min}, ${MAX_LIMIT}]`,
    );
  }
}

/**
 * Checks the settings of an {@linkcode IpLimiter}.
 *
 * @param opts the per-IP limits.
 * @param maxclients the total limit, 0 for none.
 * @throws {RangeError} when a limit is not a positive integer that fits a 16-bit counter, a
 *   prefix length exceeds its address family, or maxclients is negative or not an integer.
 */
export function validateIpLimitOptions(opts: IpLimitOptions, maxclients: number): void {
  checkLimit("connections_per_ip_per_minute", opts.connections_per_ip_per_minute, 1);
  checkLimit("max_connections_per_ip", opts.max_connections_per_ip, 1);
  validateAddressGrouping({
    ipv4PrefixLength: opts.ipv4_prefix_length,
    ipv6PrefixLength: opts.ipv6_prefix_length,
  });
  if (!Number.isSafeInteger(maxclients) || maxclients < 0) {
    throw new RangeError(`Cannot use rate limit maxclients: ${maxclients} is not >= 0`);
  }
}

/**
 * Checks the settings of a {@linkcode ConnectionLimiter}.
 *
 * @throws {RangeError} when a limit is not a positive integer that fits a 16-bit counter, or
 *   the ban length is negative or not finite.
 */
export function validateConnectionLimitOptions(opts: ConnectionLimitOptions): void {
  checkLimit("max_subscribes_per_minute", opts.max_subscribes_per_minute, 1);
  checkLimit("max_authorizes_per_minute", opts.max_authorizes_per_minute, 1);
  checkLimit("max_shares_per_minute", opts.max_shares_per_minute, 1);
  checkLimit("max_invalid_shares_per_minute", opts.max_invalid_shares_per_minute, 1);
  checkLimit("max_requests_per_minute", opts.max_requests_per_minute, 1);
  checkLimit("max_invalid_requests_per_minute", opts.max_invalid_requests_per_minute, 1);
  checkLimit("max_configures_per_minute", opts.max_configures_per_minute, 1);
  checkLimit("max_suggest_difficulty_per_minute", opts.max_suggest_difficulty_per_minute, 1);
  if (!(Number.isFinite(opts.submit_ban_seconds) && opts.submit_ban_seconds >= 0)) {
    throw new RangeError(
      `Cannot use rate limit submit_ban_seconds: ${opts.submit_ban_seconds} is not >= 0`,
    );
  }
}

/**
 * Moves a group of sliding windows that share one bucket clock forward to `bucket`, clearing
 * the slots of buckets that left the window.
 *
 * Layout of `counts`: `rules` rows of SLOTS per-bucket counts, then one running total per
 * rule. Returns the new last bucket, never an earlier one (so a clock that stepped back
 * cannot make a slot count for the wrong bucket).
 */
function advanceWindows(counts: Uint16Array, rules: number, last: number, bucket: number): number {
  if (bucket <= last) return last;
  const totals = rules * SLOTS;
  if (bucket - last >= SLOTS) {
    counts.fill(0);
    return bucket;
  }
  for (let b = last + 1; b <= bucket; b++) {
    const slot = b % SLOTS;
    for (let r = 0; r < rules; r++) {
      const i = r * SLOTS + slot;
      const n = counts[i]!;
      if (n !== 0) {
        counts[totals + r] = counts[totals + r]! - n;
        counts[i] = 0;
      }
    }
  }
  return bucket;
}

/** Counts one event of rule `r` if its window holds fewer than `limit`; true when admitted. */
function admit(
  counts: Uint16Array,
  rules: number,
  r: number,
  bucket: number,
  limit: number,
): boolean {
  const t = rules * SLOTS + r;
  if (counts[t]! >= limit) return false;
  counts[t] = counts[t]! + 1;
  const i = r * SLOTS + (bucket % SLOTS);
  counts[i] = counts[i]! + 1;
  return true;
}

function bucketOf(nowMs: number): number {
  return Math.floor(nowMs / BUCKET_MS);
}

/** Per-IP state: concurrent connections and the window of recent accepted connections. */
interface IpEntry {
  active: number;
  lastBucket: number;
  /** Last connect or disconnect; the map of entries is kept in this order. */
  touchedMs: number;
  /** One window: SLOTS bucket counts and one total. */
  readonly counts: Uint16Array;
}

/**
 * An entry with no connection can go once its newest event has left every window: after the
 * window plus one bucket.
 */
const IP_ENTRY_TTL_MS = RATE_WINDOW_MS + BUCKET_MS;

/** Entries examined for expiry on each connect, so stale ones go without a full scan. */
const SWEEP_PER_CONNECT = 4;

/**
 * Process-wide connection limits: new connections per IP per minute, concurrent connections
 * per IP, and concurrent connections in total (maxclients).
 *
 * "Per IP" means per address group ({@linkcode addressGroupKey}): an IPv6 peer counts under its
 * /64 (ipv6_prefix_length), since one subscriber holds 2^64 addresses and could otherwise open
 * unlimited connections, and an IPv4-mapped IPv6 address counts as its IPv4 address.
 *
 * Memory: an IP is tracked only while it has a connection or accepted one within the last
 * 65 s; entries are kept in order of last activity and stale ones are dropped a few at a time
 * on each connect (and all at once by {@linkcode IpLimiter.purge}). Refused connections never
 * create an entry, so a flood from many addresses cannot grow the table beyond what was
 * admitted.
 */
export class IpLimiter {
  readonly #opts: IpLimitOptions;
  readonly #maxclients: number;
  readonly #clock: Clock;
  readonly #grouping: AddressGrouping;
  readonly #entries = new Map<string, IpEntry>();
  #active = 0;

  /**
   * @param opts per-IP limits (the `rate_limits{}` config object will do).
   * @param maxclients concurrent connections for the whole process; 0 means no limit.
   * @param clock time source.
   * @throws {RangeError} when a limit is out of range.
   */
  constructor(opts: IpLimitOptions, maxclients: number, clock: Clock) {
    validateIpLimitOptions(opts, maxclients);
    this.#opts = opts;
    this.#maxclients = maxclients;
    this.#clock = clock;
    this.#grouping = {
      ipv4PrefixLength: opts.ipv4_prefix_length,
      ipv6PrefixLength: opts.ipv6_prefix_length,
    };
  }

  /** The key `ip` is counted under (its address group). */
  keyOf(ip: string): string {
    return addressGroupKey(ip, this.#grouping);
  }

  /** Connections currently admitted and not yet disconnected, over all IPs. */
  get activeConnections(): number {
    return this.#active;
  }

  /** Address groups currently tracked (for memory metrics and tests). */
  get trackedIps(): number {
    return this.#entries.size;
  }

  /**
   * True when maxclients is reached: a new connection will be refused unless the caller
   * frees a slot first (e.g. evicts its lowest-priority connection and reports it with
   * {@linkcode IpLimiter.onDisconnect}).
   */
  isFull(): boolean {
    return this.#maxclients > 0 && this.#active >= this.#maxclients;
  }

  /** Concurrent connections of the address group `ip` belongs to. */
  activeFor(ip: string): number {
    return this.#entries.get(this.keyOf(ip))?.active ?? 0;
  }

  /**
   * Decides on a new connection from `ip`. When allowed, the connection is counted (against
   * the per-minute window and as active) until {@linkcode IpLimiter.onDisconnect}. Checked in
   * order: maxclients, max_connections_per_ip, connections_per_ip_per_minute.
   *
   * @param peer the peer address as the socket reports it; it counts under its address group.
   * @returns allowed, or the rule that refuses it (reset the socket).
   */
  onConnect(peer: string): ConnectVerdict {
    const ip = this.keyOf(peer);
    const now = this.#clock.nowMs();
    this.#sweep(now, SWEEP_PER_CONNECT);
    if (this.isFull()) return REFUSE_FULL;
    const bucket = bucketOf(now);
    let entry = this.#entries.get(ip);
    if (entry !== undefined) {
      entry.lastBucket = advanceWindows(entry.counts, 1, entry.lastBucket, bucket);
      if (entry.active >= this.#opts.max_connections_per_ip) return REFUSE_PER_IP;
      const limit = this.#opts.connections_per_ip_per_minute;
      if (!admit(entry.counts, 1, 0, entry.lastBucket, limit)) {
        return REFUSE_RATE;
      }
      this.#entries.delete(ip);
    } else {
      entry = { active: 0, lastBucket: bucket, touchedMs: now, counts: new Uint16Array(SLOTS + 1) };
      admit(entry.counts, 1, 0, bucket, this.#opts.connections_per_ip_per_minute);
    }
    entry.active += 1;
    entry.touchedMs = now;
    this.#entries.set(ip, entry);
    this.#active += 1;
    return ALLOWED;
  }

  /**
   * Records the end of a connection that {@linkcode IpLimiter.onConnect} allowed.
   *
   * @param peer the same address passed to onConnect.
   * @throws {RangeError} when `peer`'s group has no active connection (a caller bug: a double
   *   disconnect, or a disconnect for a connection that was refused).
   */
  onDisconnect(peer: string): void {
    const ip = this.keyOf(peer);
    const entry = this.#entries.get(ip);
    if (entry === undefined || entry.active === 0) {
      throw new RangeError(`Cannot record disconnect: ${ip} has no active connection`);
    }
    entry.active -= 1;
    this.#active -= 1;
    entry.touchedMs = this.#clock.nowMs();
    this.#entries.delete(ip);
    this.#entries.set(ip, entry);
  }

  /**
   * Drops every entry whose IP has no connection and whose window is empty. Connects already
   * do this a few entries at a time; call this from a periodic tick to release memory after a
   * burst that is followed by silence.
   *
   * @returns how many entries were dropped.
   */
  purge(): number {
    return this.#sweep(this.#clock.nowMs(), Number.POSITIVE_INFINITY);
  }

  /**
   * Examines up to `budget` entries from the least recently touched end. Stale ones go; ones
   * that still hold connections move to the back with a fresh touch time, so the map stays
   * ordered by touch time and each entry is looked at about once per TTL.
   */
  #sweep(now: number, budget: number): number {
    let dropped = 0;
    for (const [ip, entry] of this.#entries) {
      if (budget-- <= 0 || now - entry.touchedMs < IP_ENTRY_TTL_MS) break;
      this.#entries.delete(ip);
      if (entry.active > 0) {
        entry.touchedMs = now;
        this.#entries.set(ip, entry);
      } else {
        dropped += 1;
      }
    }
    return dropped;
  }
}

const SUBSCRIBES = 0;
const AUTHORIZES = 1;
const SUBMITS = 2;
const INVALID = 3;
const REQUESTS = 4;
const INVALID_REQUESTS = 5;
const CONFIGURES = 6;
const SUGGESTS = 7;
const CONNECTION_RULES = 8;
/** Counters of one connection: a window of buckets per rule. */
const CONNECTION_COUNTS = CONNECTION_RULES * (SLOTS + 1);

/**
 * Every connection's counters, as blocks of shared chunks: a Uint16Array of its own would cost an
 * ArrayBuffer and a malloc'd backing store per miner (about 550 B whatever its size).
 */
const connectionCounts = new BlockSlab(Uint16Array, CONNECTION_COUNTS);

/** Connections' counter blocks handed out and not yet released, process-wide (for tests). */
export function connectionCountsInUse(): number {
  return connectionCounts.inUse;
}
/**
 * What a released limiter points at: never read for a decision (its session is closed), so every
 * released limiter can share it.
 */
const RELEASED_COUNTS = new Uint16Array(CONNECTION_COUNTS);

/**
 * Per-connection limits on every request class: all lines, subscribes, authorizes, configures,
 * difficulty suggestions, submits, invalid shares and requests answered with a protocol error.
 *
 * Small by design (one 224-byte block of counters and three numbers) since there is one per
 * connection; the options object is shared, never copied. Owned by one session and called in
 * its request order; `release()` returns the counters when the connection has ended.
 */
export class ConnectionLimiter {
  readonly #opts: ConnectionLimitOptions;
  readonly #clock: Clock;
  #counts = connectionCounts.allocate();
  #lastBucket: number;
  #bannedUntilMs = Number.NEGATIVE_INFINITY;

  /**
   * @param opts limits, shared by all connections.
   * @param clock time source.
   * @throws {RangeError} when a limit is out of range.
   */
  constructor(opts: ConnectionLimitOptions, clock: Clock) {
    validateConnectionLimitOptions(opts);
    this.#opts = opts;
    this.#clock = clock;
    this.#lastBucket = bucketOf(clock.nowMs());
  }

  /**
   * Clock reading at which the current soft-ban ends (in the past when not banned). A submit
   * answered "banned" started the ban when this equals its time plus submit_ban_seconds.
   */
  get bannedUntilMs(): number {
    return this.#bannedUntilMs;
  }

  /** Whether submits are being refused now. */
  isBanned(): boolean {
    return this.#clock.nowMs() < this.#bannedUntilMs;
  }

  /**
   * Call on each `mining.subscribe`.
   *
   * @returns "disconnect" beyond max_subscribes_per_minute: close the connection.
   */
  onSubscribe(): LimitAction {
    const ok = this.#hit(SUBSCRIBES, this.#opts.max_subscribes_per_minute, this.#clock.nowMs());
    return ok ? "ok" : "disconnect";
  }

  /**
   * Call on each `mining.authorize`.
   *
   * @returns "disconnect" beyond max_authorizes_per_minute: close the connection.
   */
  onAuthorize(): LimitAction {
    const ok = this.#hit(AUTHORIZES, this.#opts.max_authorizes_per_minute, this.#clock.nowMs());
    return ok ? "ok" : "disconnect";
  }

  /**
   * Call on each `mining.submit`, before validating it. The submit that exceeds
   * max_shares_per_minute starts a soft-ban; it and every submit during the ban are to be
   * rejected (the connection stays open). Exactly `submit_ban_seconds` after the ban started,
   * submits are admitted again. Submits refused during the ban are not counted.
   *
   * @returns "banned" when this submit must be rejected.
   */
  onSubmit(): SubmitAction {
    const now = this.#clock.nowMs();
    if (now < this.#bannedUntilMs) return "banned";
    if (this.#hit(SUBMITS, this.#opts.max_shares_per_minute, now)) return "ok";
    this.#bannedUntilMs = now + this.#opts.submit_ban_seconds * 1000;
    return "banned";
  }

  /**
   * Call on every line the connection sends, before anything else is done with it.
   *
   * @returns "disconnect" beyond max_requests_per_minute: close the connection.
   */
  onRequest(): LimitAction {
    const ok = this.#hit(REQUESTS, this.#opts.max_requests_per_minute, this.#clock.nowMs());
    return ok ? "ok" : "disconnect";
  }

  /**
   * Call on each request answered with a protocol error (not a share verdict).
   *
   * @returns "disconnect" beyond max_invalid_requests_per_minute: close the connection.
   */
  onInvalidRequest(): LimitAction {
    const limit = this.#opts.max_invalid_requests_per_minute;
    return this.#hit(INVALID_REQUESTS, limit, this.#clock.nowMs()) ? "ok" : "disconnect";
  }

  /**
   * Call on each `mining.configure`.
   *
   * @returns "disconnect" beyond max_configures_per_minute: close the connection.
   */
  onConfigure(): LimitAction {
    const ok = this.#hit(CONFIGURES, this.#opts.max_configures_per_minute, this.#clock.nowMs());
    return ok ? "ok" : "disconnect";
  }

  /**
   * Call on each `mining.suggest_difficulty`.
   *
   * @returns "disconnect" beyond max_suggest_difficulty_per_minute: close the connection.
   */
  onSuggestDifficulty(): LimitAction {
    const limit = this.#opts.max_suggest_difficulty_per_minute;
    return this.#hit(SUGGESTS, limit, this.#clock.nowMs()) ? "ok" : "disconnect";
  }

  /**
   * Call on each share rejected as invalid (in addition to onSubmit for the submit).
   *
   * @returns "disconnect" beyond max_invalid_shares_per_minute: close the connection.
   */
  onInvalidShare(): LimitAction {
    const ok = this.#hit(INVALID, this.#opts.max_invalid_shares_per_minute, this.#clock.nowMs());
    return ok ? "ok" : "disconnect";
  }

  /**
   * Returns the counters to the shared slab once the connection has ended. Idempotent; a released
   * limiter still answers (from counters it shares with other released ones) but its answers no
   * longer mean anything.
   */
  release(): void {
    if (this.#counts === RELEASED_COUNTS) return;
    connectionCounts.release(this.#counts);
    this.#counts = RELEASED_COUNTS;
  }

  #hit(rule: number, limit: number, now: number): boolean {
    const counts = this.#counts;
    this.#lastBucket = advanceWindows(counts, CONNECTION_RULES, this.#lastBucket, bucketOf(now));
    return admit(counts, CONNECTION_RULES, rule, this.#lastBucket, limit);
  }
}
