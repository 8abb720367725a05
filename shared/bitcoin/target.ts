/**
 * Proof-of-work targets: nBits compact encoding, pool difficulty and hash
 * comparison. Hashes are in internal byte order, read as little-endian 256-bit
 * integers.
 *
 * @module
 */

/** The difficulty-1 target, 0xffff × 2^208 (nBits 0x1d00ffff). */
export const DIFF1_TARGET = 0x00000000ffff0000000000000000000000000000000000000000000000000000n;

const MAX_TARGET = (1n << 256n) - 1n;
const DIFF1_DOUBLE = Number(DIFF1_TARGET);
const TWO_POW_32 = 2 ** 32;

/**
 * Share checks within this relative distance of a boundary are settled exactly.
 * {@link hashDifficulty} is within about 2^-51 of the true value, far inside it.
 */
const BOUNDARY_TOLERANCE = 2 ** -40;

function assertUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`Cannot decode ${what}: ${value} is not a 32-bit unsigned integer`);
  }
}

function assertHash(hash: Uint8Array): void {
  if (hash.length !== 32) {
    throw new RangeError(`Cannot read hash: ${hash.length} bytes, expected 32`);
  }
}

/**
 * Decodes compact nBits into a target, as Bitcoin Core's SetCompact.
 *
 * @param bits The header's nBits as an unsigned 32-bit number.
 * @returns The target (0 if the mantissa is zero).
 * @throws {RangeError} If the sign bit is set on a non-zero mantissa, or the
 *   target would not fit in 256 bits.
 */
export function bitsToTarget(bits: number): bigint {
  assertUint32(bits, "nBits");
  const size = bits >>> 24;
  let word = bits & 0x007f_ffff;
  // As in Core, the sign and overflow checks look at the mantissa after the
  // shift, so a small exponent can discard a set sign bit's companions.
  if (size <= 3) word >>>= 8 * (3 - size);
  if (word !== 0 && (bits & 0x0080_0000) !== 0) {
    throw new RangeError(`Cannot decode nBits 0x${bits.toString(16)}: target is negative`);
  }
  if (
    word !== 0 &&
    (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))
  ) {
    throw new RangeError(`Cannot decode nBits 0x${bits.toString(16)}: target overflows 256 bits`);
  }
  if (size <= 3) return BigInt(word);
  return BigInt(word) << BigInt(8 * (size - 3));
}

/**
 * Encodes a target as canonical compact nBits, as Bitcoin Core's GetCompact
 * (precision below the top 23 bits is dropped).
 *
 * @param target A target from 0 to 2^256-1.
 * @returns nBits as an unsigned 32-bit number.
 * @throws {RangeError} If the target is negative or above 2^256-1.
 */
export function targetToBits(target: bigint): number {
  if (target < 0n || target > MAX_TARGET) {
    throw new RangeError(`Cannot encode target as nBits: ${target} is outside 0..2^256-1`);
  }
  let size = Math.ceil(target.toString(2).length / 8);
  if (target === 0n) size = 0;
  let compact = size <= 3
    ? Number(target) * 2 ** (8 * (3 - size))
    : Number((target >> BigInt(8 * (size - 3))) & 0xff_ffffn);
  // The mantissa's top bit is a sign bit, so a mantissa that would set it
  // moves one byte down and the exponent grows.
  if (compact & 0x0080_0000) {
    compact >>>= 8;
    size += 1;
  }
  return ((size << 24) | compact) >>> 0;
}

/**
 * Pool difficulty to share target: floor(DIFF1_TARGET / difficulty), computed
 * exactly from the double's binary value. Difficulties below 1 give targets
 * above DIFF1_TARGET (e.g. 0.0001 for CPU miners on regtest).
 *
 * @param difficulty A finite number above zero.
 * @returns The target, capped at 2^256-1 (0 when the difficulty exceeds DIFF1_TARGET).
 * @throws {RangeError} If the difficulty is not finite or not above zero.
 */
export function difficultyToTarget(difficulty: number): bigint {
  if (!Number.isFinite(difficulty) || difficulty <= 0) {
    throw new RangeError(
      `Cannot convert difficulty to target: ${difficulty} is not a positive finite number`,
    );
  }
  const { mantissa, exponent } = decomposeDouble(difficulty);
  const target = exponent >= 0
    ? DIFF1_TARGET / (mantissa << BigInt(exponent))
    : (DIFF1_TARGET << BigInt(-exponent)) / mantissa;
  return target > MAX_TARGET ? MAX_TARGET : target;
}

/** Splits a positive finite double into an integer mantissa and a power of two. */
function decomposeDouble(value: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const biasedExponent = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0x000f_ffff) << 32n) | BigInt(low);
  if (biasedExponent === 0) return { mantissa, exponent: -1074 };
  mantissa |= 1n << 52n;
  return { mantissa, exponent: biasedExponent - 1075 };
}

/**
 * Share target to pool difficulty, DIFF1_TARGET / target as a double.
 *
 * @param target A target from 0 to 2^256-1.
 * @returns The difficulty (Infinity for a zero target).
 * @throws {RangeError} If the target is negative or above 2^256-1.
 */
export function targetToDifficulty(target: bigint): number {
  if (target < 0n || target > MAX_TARGET) {
    throw new RangeError(`Cannot convert target to difficulty: ${target} is outside 0..2^256-1`);
  }
  return DIFF1_DOUBLE / Number(target);
}

/**
 * Reads a hash in internal byte order as the integer compared against targets.
 *
 * @param hashInternalOrder 32-byte hash as produced by sha256d.
 * @returns The little-endian value.
 * @throws {RangeError} If the hash is not 32 bytes.
 */
export function hashToBigInt(hashInternalOrder: Uint8Array): bigint {
  assertHash(hashInternalOrder);
  let hex = "0x";
  for (let i = 31; i >= 0; i--) {
    const b = hashInternalOrder[i]!;
    hex += (b < 16 ? "0" : "") + b.toString(16);
  }
  return BigInt(hex);
}

/**
 * The hash's value as a double, from its 8 most significant bytes starting at
 * the first non-zero one: the top 32 bits are exact, adding the next 32 rounds
 * once, and the scaling by a power of two is exact. The result is within 1 ulp
 * (2^-52 relative) of the true value.
 */
function hashToDouble(hash: Uint8Array): number {
  let top = 31;
  while (top >= 0 && hash[top] === 0) top--;
  if (top < 0) return 0;
  let high = 0;
  let low = 0;
  for (let i = top; i > top - 4; i--) high = high * 256 + (i >= 0 ? hash[i]! : 0);
  for (let i = top - 4; i > top - 8; i--) low = low * 256 + (i >= 0 ? hash[i]! : 0);
  return (high * TWO_POW_32 + low) * 2 ** (8 * (top - 7));
}

/**
 * The share difficulty a hash achieves, DIFF1_TARGET / hash, as a double.
 * Runs per share, so it avoids BigInt: the result is within about 2^-51
 * relative of the exact quotient. Comparing it against a difficulty is
 * therefore exact except when the two agree to ~15 significant digits; use
 * {@link hashMeetsDifficulty} for an always-exact verdict and
 * {@link hashMeetsTarget} for block detection.
 *
 * @param hashInternalOrder 32-byte hash as produced by sha256d.
 * @returns The difficulty (Infinity for an all-zero hash).
 * @throws {RangeError} If the hash is not 32 bytes.
 */
export function hashDifficulty(hashInternalOrder: Uint8Array): number {
  assertHash(hashInternalOrder);
  return DIFF1_DOUBLE / hashToDouble(hashInternalOrder);
}

/**
 * Exact test of hash ≤ target, for block detection. Settles clear cases with
 * doubles and falls back to BigInt only near the boundary.
 *
 * @param hashInternalOrder 32-byte hash as produced by sha256d.
 * @param target Target from {@link bitsToTarget} or {@link difficultyToTarget}.
 * @returns `true` if the hash's value is at most the target.
 * @throws {RangeError} If the hash is not 32 bytes.
 */
export function hashMeetsTarget(hashInternalOrder: Uint8Array, target: bigint): boolean {
  assertHash(hashInternalOrder);
  const hash = hashToDouble(hashInternalOrder);
  const limit = Number(target);
  if (hash > limit * (1 + BOUNDARY_TOLERANCE)) return false;
  if (hash < limit * (1 - BOUNDARY_TOLERANCE)) return true;
  return hashToBigInt(hashInternalOrder) <= target;
}

/**
 * Exact test of whether a hash reaches a pool difficulty, i.e.
 * hash ≤ floor(DIFF1_TARGET / difficulty), the same verdict as
 * `hashMeetsTarget(hash, difficultyToTarget(difficulty))`. The double fast
 * path decides almost every share; BigInt is used only near the boundary.
 *
 * @param hashInternalOrder 32-byte hash as produced by sha256d.
 * @param difficulty A finite number above zero.
 * @returns `true` if the share meets the difficulty.
 * @throws {RangeError} If the hash is not 32 bytes or the difficulty is not
 *   a positive finite number.
 */
export function hashMeetsDifficulty(hashInternalOrder: Uint8Array, difficulty: number): boolean {
  if (!Number.isFinite(difficulty) || difficulty <= 0) {
    throw new RangeError(
      `Cannot compare hash with difficulty: ${difficulty} is not a positive finite number`,
    );
  }
  const achieved = hashDifficulty(hashInternalOrder);
  if (achieved > difficulty * (1 + BOUNDARY_TOLERANCE)) return true;
  if (achieved < difficulty * (1 - BOUNDARY_TOLERANCE)) return false;
  return hashToBigInt(hashInternalOrder) <= difficultyToTarget(difficulty);
}
