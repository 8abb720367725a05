/**
 * The Redis side of a batch: one Lua script that settles each message's hub stream sequence in
 * the settled record (`settled_record.ts`) and, only for an "apply" entry whose sequence was not
 * settled before, appends the event to its Redis Stream and applies its real-time state changes.
 * The script runs atomically, so the record and the side effects change together: a redelivered
 * message, or one raced by two collectors, changes Redis state exactly once.
 *
 * Which entries apply is decided with PostgreSQL (the authority on event ids): the collector
 * sends an apply entry only for an event PostgreSQL inserted now or already held under the same
 * stream sequence (a redelivery of that message). A copy of an event published again under a new
 * sequence (in a later batch or the same one), an invalid message and an event PostgreSQL refused
 * are sent as mark entries: their sequences are settled with no side effect, so the floor can pass them.
 *
 * Keys (the contract; also in `collector/PIPELINE.md`):
 *
 * | key | type | written by | bounded by |
 * |---|---|---|---|
 * | `tbg:settled:{stream}:{created}:{filter}:floor` | string (a sequence) | every batch | one per stream incarnation and consumer filter |
 * | `tbg:settled:{stream}:{created}:{filter}:bits:{chunk}` | string bitmap, 8 KiB | every message above the floor | the messages in flight (chunks at or below the floor are deleted) |
 * | `tbg:dedup:{event_id}` | string, TTL 24 h | only legacy entries: events stored before migration 005 (no `stream_seq`) seen again | old-collector events in the last 24 h |
 * | `tbg:stream:{event_type}` | stream, `MAXLEN ~ 100000` | every applied event: fields `event_id`, `region`, `source`, `timestamp`, `data` (JSON) | MAXLEN per type |
 * | `tbg:worker:{user}:{worker}` | hash | share_submitted (`shares_accepted`, `shares_rejected`, `best_diff`, `last_share_at`), hashrate_update (`hashrate_1m`, `hashrate_5m`, `hashrate_1h`, `hashrate_at`), share_best_diff (`best_diff`), diff_updated (`diff`, `diff_at`), miner_connected (`connected_at`, `user_agent`), miner_disconnected (`disconnected_at`), block_found (`blocks_found`, accepted only), asicboost_detected (`asicboost`, `version_mask`, `version_bits`) | workers ever seen (no TTL) |
 * | `tbg:region:{region}:connected` | set of `{source}:{session_id}` | miner_connected adds, miner_disconnected removes | sessions connected now |
 * | `tbg:session:closed:{source}:{session_id}` | string (disconnect time), TTL 24 h | miner_disconnected; a connect older than it is not added back | sessions closed in the last 24 h |
 * | `tbg:blocks:recent` | list of JSON, newest first, capped at 100 | block_found | 100 entries |
 * | `tbg:network:tip` | hash (`height`, `hash`, `prev_hash`, `timestamp`) | new_block_network, highest height wins | one key |
 *
 * All times (`*_at`, `timestamp`) are the event's microseconds since the Unix epoch. Fields that
 * hold "the latest" value compare event times and `best_diff` keeps the maximum, so events
 * applied out of order (two collectors, redeliveries) leave the same state.
 *
 * Share counters are summed per worker inside the script and written once per worker per call
 * (an HINCRBY, one HMGET of both maxima, at most one HSET), which keeps the script's cost near
 * one SETBIT and one XADD per event.
 *
 * The script starts with a `#!lua` line, so Redis refuses it as a whole (before any write) when
 * out of memory, rather than failing half-way; likewise it answers `NOFLOOR` before any write
 * when the record has no floor yet (the collector creates it and sends the batch again). Side
 * effects use `pcall`: a key of the wrong type (someone wrote it by hand) costs that one update,
 * is counted and reported, and does not stop the rest of the batch. The keys are built inside
 * the script, so it suits a single Redis server (or a primary with replicas), not Redis Cluster.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { MiningEvent } from "@tbg/shared/events";
import { dataJson } from "./data_json.ts";
import { SETTLED_LUA } from "./settled_record.ts";

/**
 * Prefix of the per-event dedup keys of collectors before migration 005, still checked (and
 * set) for events PostgreSQL holds without a stream sequence.
 */
export const DEDUP_KEY_PREFIX = "tbg:dedup:";
/** Prefix of the per-type Redis Streams. */
export const STREAM_KEY_PREFIX = "tbg:stream:";
/** Prefix of per-worker hashes. */
export const WORKER_KEY_PREFIX = "tbg:worker:";
/** List of recent blocks, newest first. */
export const RECENT_BLOCKS_KEY = "tbg:blocks:recent";
/** Hash of the latest network block. */
export const NETWORK_TIP_KEY = "tbg:network:tip";

/** How long a session tombstone (and a legacy dedup key) lives: the stream's own max age, 24 h. */
export const DEDUP_TTL_SECONDS = 86_400;
/** Approximate length bound of each Redis Stream. */
export const STREAM_MAXLEN = 100_000;
/** Entries kept in {@link RECENT_BLOCKS_KEY}. */
export const RECENT_BLOCKS_LIMIT = 100;
/** Fields per event in the script's JSON argument (after an entry's sequence and mode). */
export const FIELDS_PER_EVENT = 10;

/** How an entry settles its sequence, as the script reads it. */
export const EntryMode = {
  /** Apply the event's side effects if the sequence was not settled. */
  apply: "a",
  /** As apply, and only if the event's legacy dedup key was absent (sets it). */
  legacy: "l",
  /** Settle the sequence with no side effect. */
  mark: "m",
} as const;
/** An entry mode. */
export type EntryMode = typeof EntryMode[keyof typeof EntryMode];

/** One message's line in a script call. */
export type RedisEntry =
  | {
    /** Hub stream sequence of the message. */
    readonly seq: number;
    readonly mode: typeof EntryMode.apply | typeof EntryMode.legacy;
    /** The valid event it carries. */
    readonly event: MiningEvent;
  }
  | {
    /** Hub stream sequence of the message. */
    readonly seq: number;
    readonly mode: typeof EntryMode.mark;
  };

/** Key of a worker's hash. */
export function workerKey(user: string, worker: string): string {
  return `${WORKER_KEY_PREFIX}${user}:${worker}`;
}

/** Key of a region's set of connected sessions. */
export function connectedKey(region: string): string {
  return `tbg:region:${region}:connected`;
}

/** Key of a closed session's tombstone; `member` is `{source}:{session_id}`. */
export function sessionClosedKey(member: string): string {
  return `tbg:session:closed:${member}`;
}

/**
 * The script. ARGV: 1 settled-record key prefix (`settledKeyPrefix`), 2 tombstone and legacy
 * dedup TTL s, 3 stream MAXLEN, 4 recent-blocks limit, 5 the entries as one JSON array: a mark
 * entry is `[seq, "m"]`, an apply or legacy entry `[seq, "a"|"l", …]` followed by the
 * {@link FIELDS_PER_EVENT} strings of {@link eventScriptFields}: type, event_id, region, source,
 * timestamp µs, data JSON, worker key (or ""), and three type-specific values. One JSON argument
 * instead of ten per event halves the client's cost of sending a batch; Redis decodes it with
 * its built-in cjson (sequences are exact up to 2^53).
 *
 * Returns `{flags, errors, first_error, floor}`: `flags` has one character per entry, `1`
 * applied now or `0` not (settled before, or a mark entry); `errors` counts side effects Redis
 * refused; `floor` is the settled floor after the call.
 */
export const BATCH_SCRIPT = `#!lua
local settled_prefix, ttl, maxlen = ARGV[1], ARGV[2], ARGV[3]
local recent_limit = tonumber(ARGV[4])
local rows = cjson.decode(ARGV[5])
local flags, errors, first_error = {}, 0, ''
${SETTLED_LUA}
local floor = tonumber(redis.call('GET', floor_key))
if floor == nil then return redis.error_reply('NOFLOOR no settled floor at ' .. floor_key) end

local function call(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    errors = errors + 1
    if first_error == '' then first_error = reply.err end
    return nil
  end
  return reply
end
-- The stored value is at most as new as ts (or absent, or unreadable).
local function newer(key, field, ts)
  local stored = tonumber(call('HGET', key, field))
  return stored == nil or ts >= stored
end
local function raise(key, field, value)
  local stored = tonumber(call('HGET', key, field))
  if stored == nil or tonumber(value) > stored then call('HSET', key, field, value) end
end
-- Settles seq; true when it was not settled before.
local function settle(seq)
  if seq <= floor then return false end
  local c = math.floor(seq / CHUNK)
  return redis.call('SETBIT', chunk_key(c), seq - c * CHUNK, 1) == 0
end

local shares = {}
for i, row in ipairs(rows) do
  local mode = row[2]
  local kind, id, region, source = row[3], row[4], row[5], row[6]
  local ts_text, data, wkey = row[7], row[8], row[9]
  local a1, a2, a3 = row[10], row[11], row[12]
  local fresh = settle(row[1]) and mode ~= 'm'
  if fresh and mode == 'l' then
    fresh = redis.call('SET', '${DEDUP_KEY_PREFIX}' .. id, '1', 'NX', 'EX', ttl) ~= false
  end
  if fresh then
    flags[i] = '1'
    call('XADD', '${STREAM_KEY_PREFIX}' .. kind, 'MAXLEN', '~', maxlen, '*', 'event_id', id,
      'region', region, 'source', source, 'timestamp', ts_text, 'data', data)
    local ts = tonumber(ts_text)
    if kind == 'share_submitted' then
      local s = shares[wkey]
      if s == nil then
        s = { acc = 0, rej = 0, best = nil, best_text = nil, last = -1, last_text = nil }
        shares[wkey] = s
      end
      if a1 == '1' then
        s.acc = s.acc + 1
        local diff = tonumber(a2)
        if s.best == nil or diff > s.best then s.best, s.best_text = diff, a2 end
      else
        s.rej = s.rej + 1
      end
      if ts > s.last then s.last, s.last_text = ts, ts_text end
    elseif kind == 'hashrate_update' then
      if newer(wkey, 'hashrate_at', ts) then
        call('HSET', wkey, 'hashrate_1m', a1, 'hashrate_5m', a2, 'hashrate_1h', a3,
          'hashrate_at', ts_text)
      end
    elseif kind == 'share_best_diff' then
      raise(wkey, 'best_diff', a1)
    elseif kind == 'diff_updated' then
      if newer(wkey, 'diff_at', ts) then call('HSET', wkey, 'diff', a1, 'diff_at', ts_text) end
    elseif kind == 'miner_connected' then
      local closed = tonumber(call('GET', 'tbg:session:closed:' .. a1))
      if closed == nil or ts > closed then
        call('SADD', 'tbg:region:' .. region .. ':connected', a1)
      end
      if newer(wkey, 'connected_at', ts) then
        call('HSET', wkey, 'connected_at', ts_text, 'user_agent', a2)
      end
    elseif kind == 'miner_disconnected' then
      call('SREM', 'tbg:region:' .. region .. ':connected', a1)
      local tomb = 'tbg:session:closed:' .. a1
      local closed = tonumber(call('GET', tomb))
      if closed == nil or ts > closed then call('SET', tomb, ts_text, 'EX', ttl) end
      if newer(wkey, 'disconnected_at', ts) then call('HSET', wkey, 'disconnected_at', ts_text) end
    elseif kind == 'block_found' then
      call('LPUSH', '${RECENT_BLOCKS_KEY}', a2)
      call('LTRIM', '${RECENT_BLOCKS_KEY}', 0, recent_limit - 1)
      if a1 == '1' then call('HINCRBY', wkey, 'blocks_found', 1) end
    elseif kind == 'new_block_network' then
      local height = tonumber(call('HGET', '${NETWORK_TIP_KEY}', 'height'))
      if height == nil or tonumber(a1) >= height then
        call('HSET', '${NETWORK_TIP_KEY}', 'height', a1, 'hash', a2, 'prev_hash', a3,
          'timestamp', ts_text)
      end
    elseif kind == 'asicboost_detected' then
      call('HSET', wkey, 'asicboost', '1', 'version_mask', a1, 'version_bits', a2)
    end
  else
    flags[i] = '0'
  end
end

for wkey, s in pairs(shares) do
  if s.acc > 0 then call('HINCRBY', wkey, 'shares_accepted', s.acc) end
  if s.rej > 0 then call('HINCRBY', wkey, 'shares_rejected', s.rej) end
  -- Both maxima with one read and at most one write (this loop runs once per worker per call).
  local stored = call('HMGET', wkey, 'best_diff', 'last_share_at')
  if stored ~= nil then
    local changes = {}
    local best = tonumber(stored[1])
    if s.best_text ~= nil and (best == nil or s.best > best) then
      changes[#changes + 1] = 'best_diff'
      changes[#changes + 1] = s.best_text
    end
    local last = tonumber(stored[2])
    if last == nil or s.last > last then
      changes[#changes + 1] = 'last_share_at'
      changes[#changes + 1] = s.last_text
    end
    if #changes > 0 then call('HSET', wkey, unpack(changes)) end
  end
end
local settled = advance(floor)
store_floor(floor, settled)
return { table.concat(flags), errors, first_error, int_text(settled) }
`;

/** SHA-1 of {@link BATCH_SCRIPT}, the name EVALSHA calls it by. */
export const BATCH_SCRIPT_SHA1: string = createHash("sha1").update(BATCH_SCRIPT).digest("hex");

function flag(value: boolean): string {
  return value ? "1" : "0";
}

/**
 * The {@link FIELDS_PER_EVENT} script arguments of one event.
 *
 * @param event A validated event.
 * @returns type, event_id, region, source, timestamp, data JSON, worker key, and three
 *   type-specific values (empty when unused).
 */
export function eventScriptFields(event: MiningEvent): string[] {
  const head = [
    event.event,
    event.event_id,
    event.region,
    event.source,
    String(event.timestamp),
    dataJson(event),
  ];
  switch (event.event) {
    case "share_submitted": {
      const d = event.data;
      return [...head, workerKey(d.user, d.worker), flag(d.accepted), String(d.share_diff), ""];
    }
    case "hashrate_update": {
      const d = event.data;
      return [
        ...head,
        workerKey(d.user, d.worker),
        String(d.hashrate_1m),
        String(d.hashrate_5m),
        String(d.hashrate_1h),
      ];
    }
    case "share_best_diff": {
      const d = event.data;
      return [...head, workerKey(d.user, d.worker), String(d.best_diff), "", ""];
    }
    case "diff_updated": {
      const d = event.data;
      return [...head, workerKey(d.user, d.worker), String(d.new_diff), "", ""];
    }
    case "miner_connected": {
      const d = event.data;
      return [
        ...head,
        workerKey(d.user, d.worker),
        `${event.source}:${d.session_id}`,
        d.user_agent,
        "",
      ];
    }
    case "miner_disconnected": {
      const d = event.data;
      return [...head, workerKey(d.user, d.worker), `${event.source}:${d.session_id}`, "", ""];
    }
    case "block_found": {
      const d = event.data;
      const entry = JSON.stringify({
        event_id: event.event_id,
        timestamp: event.timestamp,
        source: event.source,
        ...d,
      });
      return [...head, workerKey(d.user, d.worker), flag(d.accepted), entry, ""];
    }
    case "new_block_network": {
      const d = event.data;
      return [...head, "", String(d.height), d.hash, d.prev_hash];
    }
    case "asicboost_detected": {
      const d = event.data;
      return [...head, workerKey(d.user, d.worker), d.version_mask, d.version_bits, ""];
    }
  }
}

/**
 * ARGV of one script call.
 *
 * @param settledPrefix The settled record's key prefix (`settledKeyPrefix`).
 * @param entries One per message, in batch order.
 * @returns The four settings and the entries as one JSON array.
 */
export function batchScriptArgs(settledPrefix: string, entries: readonly RedisEntry[]): string[] {
  return [
    settledPrefix,
    String(DEDUP_TTL_SECONDS),
    String(STREAM_MAXLEN),
    String(RECENT_BLOCKS_LIMIT),
    JSON.stringify(
      entries.map((entry) =>
        entry.mode === EntryMode.mark
          ? [entry.seq, entry.mode]
          : [entry.seq, entry.mode, ...eventScriptFields(entry.event)]
      ),
    ),
  ];
}
