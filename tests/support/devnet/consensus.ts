/**
 * Regtest consensus parameters and the arithmetic on them (compact bits, work, subsidy).
 *
 * @module
 */

/** Blocks a coinbase output must wait before it can be spent (Core's COINBASE_MATURITY). */
export const COINBASE_MATURITY = 100;
/** Regtest halving interval (Core's regtest nSubsidyHalvingInterval). */
export const HALVING_INTERVAL_BLOCKS = 150;
/** Initial block subsidy, 50 BTC. */
export const INITIAL_SUBSIDY_SATS = 5_000_000_000n;
/** Largest amount a single value may carry (Core's MAX_MONEY). */
export const MAX_MONEY_SATS = 21_000_000n * 100_000_000n;
/** Core's MAX_BLOCK_WEIGHT. */
export const MAX_BLOCK_WEIGHT = 4_000_000;
/** Core's MAX_BLOCK_SIGOPS_COST. */
export const MAX_BLOCK_SIGOPS_COST = 80_000;
/** Weight Core's block assembler keeps free for the header and coinbase. */
export const COINBASE_RESERVED_WEIGHT = 4_000;
/** Core's WITNESS_SCALE_FACTOR. */
export const WITNESS_SCALE_FACTOR = 4;
/** Core's MAX_FUTURE_BLOCK_TIME in seconds. */
export const MAX_FUTURE_BLOCK_TIME_SECONDS = 2 * 60 * 60;
/** Number of previous blocks the median-time-past covers. */
export const MEDIAN_TIME_SPAN = 11;
/** Regtest proof-of-work limit as compact bits (also genesis and default block bits). */
export const REGTEST_POW_LIMIT_BITS = 0x207fffff;
/** Block header version Core's block assembler uses when no soft fork is signalling. */
export const BLOCK_VERSION = 0x20000000;

/** The result of decoding compact bits, mirroring arith_uint256::SetCompact. */
export interface CompactTarget {
  readonly target: bigint;
  readonly negative: boolean;
  readonly overflow: boolean;
}

/** Decodes compact nBits exactly as Core's `SetCompact`. */
export function decodeCompact(bits: number): CompactTarget {
  const size = bits >>> 24;
  let word = bits & 0x007fffff;
  let target: bigint;
  if (size <= 3) {
    word >>>= 8 * (3 - size);
    target = BigInt(word);
  } else {
    target = BigInt(word) << BigInt(8 * (size - 3));
  }
  const negative = word !== 0 && (bits & 0x00800000) !== 0;
  const overflow = word !== 0 &&
    (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
  return { target: target & ((1n << 256n) - 1n), negative, overflow };
}

/** Regtest proof-of-work limit as a 256-bit number. */
export const REGTEST_POW_LIMIT = decodeCompact(REGTEST_POW_LIMIT_BITS).target;

/**
 * Target for valid bits.
 *
 * @throws {RangeError} when the bits are negative, zero or overflow.
 */
export function bitsToTarget(bits: number): bigint {
  const decoded = decodeCompact(bits);
  if (decoded.negative || decoded.overflow || decoded.target === 0n) {
    throw new RangeError(`Cannot use bits ${bits.toString(16)}: invalid compact target`);
  }
  return decoded.target;
}

/** Work a block with this target proves, as Core's `GetBlockProof`: 2^256 / (target + 1). */
export function targetToWork(target: bigint): bigint {
  return (1n << 256n) / (target + 1n);
}

/**
 * Core's `GetDifficulty` for compact bits (difficulty 1 is bits 0x1d00ffff), rounded to the 16
 * significant digits Core's JSON writer prints.
 */
export function bitsToDifficulty(bits: number): number {
  let shift = (bits >>> 24) & 0xff;
  let difficulty = 0x0000ffff / (bits & 0x00ffffff);
  while (shift < 29) {
    difficulty *= 256.0;
    shift++;
  }
  while (shift > 29) {
    difficulty /= 256.0;
    shift--;
  }
  return Number(difficulty.toPrecision(16));
}

/** Block subsidy at a height on regtest. */
export function subsidyAt(height: number): bigint {
  const halvings = Math.floor(height / HALVING_INTERVAL_BLOCKS);
  if (halvings >= 64) return 0n;
  return INITIAL_SUBSIDY_SATS >> BigInt(halvings);
}

/** Target as 64 hex characters, the way GBT's `target` field shows it. */
export function targetToHex(target: bigint): string {
  return target.toString(16).padStart(64, "0");
}

/** Compact bits as 8 hex characters. */
export function bitsToHex(bits: number): string {
  return (bits >>> 0).toString(16).padStart(8, "0");
}

/** Satoshis as a BTC number, the way Core's `ValueFromAmount` prints amounts. */
export function satsToBtc(valueSats: bigint): number {
  return Number(valueSats) / 1e8;
}
