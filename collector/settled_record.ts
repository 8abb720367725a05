/**
 * The settled record: which hub stream sequences have had their Redis side effects settled
 * (applied, or deliberately skipped), kept in Redis next to the state it guards. It replaces a
 * dedup key per event (251 B each for 24 h) with memory bounded by the messages in flight.
 *
 * For one stream identity (see {@link settledKeyPrefix}):
 *
 * - `…:floor` (string): every sequence ≤ F is settled;
 * - `…:bits:{chunk}` (string bitmap, {@link SETTLED_CHUNK_BITS} bits = 8 KiB): bit `seq mod
 *   2^16` of chunk `⌊seq / 2^16⌋` is set once `seq` (above F) is settled.
 *
 * A script settles a sequence with `SETBIT` (it was new iff the old bit was 0) and afterwards
 * moves F over the contiguous set bits and deletes the chunks wholly at or below F, so the keys
 * held are the floor plus the chunks spanning the messages in flight (max_ack_pending = 20,000
 * sequences span at most two chunks). A sequence at or below F is never written again, so a
 * deleted chunk never comes back.
 *
 * The Lua here is spliced into the batch script and into {@link FLOOR_SCRIPT}; both take the
 * key prefix as an argument and build the keys themselves (single server or primary/replica,
 * not Redis Cluster, like the rest of the collector's keys).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Prefix of every settled-record key. */
export const SETTLED_KEY_PREFIX = "tbg:settled:";
/** Sequences per bitmap chunk: 2^16 bits, an 8 KiB string. */
export const SETTLED_CHUNK_BITS = 65_536;

/** What a settled record belongs to: a stream incarnation and the subjects consumed from it. */
export interface StreamIdentity {
  /** Stream name, e.g. `MINING_EVENTS`. */
  readonly stream: string;
  /**
   * The stream's creation time from its info (`created`), which a deleted and re-created stream
   * (sequences restarting at 1) does not share.
   */
  readonly created: string;
  /** The consumer's filter subject: collectors with disjoint filters keep disjoint records. */
  readonly filter: string;
}

/**
 * Common prefix of one identity's keys.
 *
 * @returns `tbg:settled:{stream}:{created}:{filter}:`.
 */
export function settledKeyPrefix(identity: StreamIdentity): string {
  return `${SETTLED_KEY_PREFIX}${identity.stream}:${identity.created}:${identity.filter}:`;
}

/** Key of an identity's floor. */
export function settledFloorKey(identity: StreamIdentity): string {
  return `${settledKeyPrefix(identity)}floor`;
}

/** Key of an identity's bitmap chunk `chunk`. */
export function settledChunkKey(identity: StreamIdentity, chunk: number): string {
  return `${settledKeyPrefix(identity)}bits:${chunk}`;
}

/** Error text the scripts answer when the identity has no floor yet (nothing written). */
export const NO_FLOOR_ERROR = "NOFLOOR";

/**
 * Lua functions over the record whose key prefix is in the local `settled_prefix`:
 * `chunk_key(c)`, `advance(f)` (the highest F' ≥ f with every sequence in (f, F'] set) and
 * `store_floor(f0, f)` (saves F = f and deletes the chunks wholly in (f0, f]). BITPOS is given
 * a range inside the string, because past the string's end Redis answers -1 for "no clear bit"
 * when an end is given, although those bits read as 0.
 */
export const SETTLED_LUA = `
local CHUNK = ${SETTLED_CHUNK_BITS}
local floor_key = settled_prefix .. 'floor'
local function int_text(n) return string.format('%.0f', n) end
local function chunk_key(c) return settled_prefix .. 'bits:' .. int_text(c) end
local function advance(f)
  while true do
    local c = math.floor((f + 1) / CHUNK)
    local offset = f + 1 - c * CHUNK
    local key = chunk_key(c)
    local bits = redis.call('STRLEN', key) * 8
    if offset >= bits then return f end
    local pos = redis.call('BITPOS', key, 0, offset, bits - 1, 'BIT')
    if pos ~= -1 then return c * CHUNK + pos - 1 end
    f = c * CHUNK + bits - 1
    if bits < CHUNK then return f end
  end
end
local function store_floor(f0, f)
  if f <= f0 then return end
  for c = math.floor((f0 + 1) / CHUNK), math.floor((f + 1) / CHUNK) - 1 do
    redis.call('DEL', chunk_key(c))
  end
  redis.call('SET', floor_key, int_text(f))
end
`;

/**
 * Reads or moves an identity's floor. ARGV: 1 key prefix ({@link settledKeyPrefix}), 2 action,
 * 3 sequence:
 *
 * - `get`: the floor, or `false` when the identity has none;
 * - `init`: creates the floor at the sequence unless one exists (SET NX); returns the floor;
 * - `raise`: for sequences known never to be delivered again (gone from the stream, or not
 *   ours): F = max(F, sequence), then over the set bits above it; returns the floor, or the
 *   {@link NO_FLOOR_ERROR} error when there is none.
 */
export const FLOOR_SCRIPT = `#!lua
local settled_prefix, action, seq = ARGV[1], ARGV[2], tonumber(ARGV[3])
${SETTLED_LUA}
local f = tonumber(redis.call('GET', floor_key))
if action == 'get' then
  if f == nil then return false end
  return int_text(f)
elseif action == 'init' then
  if f ~= nil then return int_text(f) end
  redis.call('SET', floor_key, int_text(seq))
  return int_text(seq)
end
if f == nil then return redis.error_reply('${NO_FLOOR_ERROR} no settled floor') end
local raised = f
if seq > raised then raised = seq end
raised = advance(raised)
store_floor(f, raised)
return int_text(raised)
`;

/** SHA-1 of {@link FLOOR_SCRIPT}. */
export const FLOOR_SCRIPT_SHA1: string = createHash("sha1").update(FLOOR_SCRIPT).digest("hex");
