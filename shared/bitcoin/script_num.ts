/**
 * Script numbers (CScriptNum) as pushed in coinbase scriptSigs, BIP34 in
 * particular.
 *
 * @module
 */

const OP_0 = 0x00;
const OP_1NEGATE = 0x4f;
const OP_1 = 0x51;
const OP_16 = 0x60;
const MAX_BIP34_HEIGHT = 0x7fff_ffff;

/**
 * Encodes `n` as a data push of its minimal script-number serialization
 * (little-endian magnitude, sign in the top bit of the last byte). Zero becomes
 * the empty push, OP_0. Unlike {@link encodeBip34Height} this never uses the
 * OP_1..OP_16 opcodes, so 5 becomes `01 05`.
 *
 * @param n A safe integer, negative allowed.
 * @returns Push opcode (the byte count) followed by the serialized number.
 * @throws {RangeError} If `n` is not a safe integer.
 */
export function encodeScriptNumPush(n: number): Uint8Array {
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`Cannot encode script number: ${n} is not a safe integer`);
  }
  if (n === 0) return Uint8Array.of(OP_0);
  const negative = n < 0;
  let magnitude = Math.abs(n);
  const digits: number[] = [];
  while (magnitude > 0) {
    digits.push(magnitude % 256);
    magnitude = Math.floor(magnitude / 256);
  }
  const top = digits.length - 1;
  if (digits[top]! & 0x80) {
    // The top bit is taken by the magnitude, so the sign needs its own byte.
    digits.push(negative ? 0x80 : 0x00);
  } else if (negative) {
    digits[top] = digits[top]! | 0x80;
  }
  return Uint8Array.of(digits.length, ...digits);
}

/**
 * Encodes a block height exactly as Bitcoin Core's `CScript() << nHeight`,
 * which is the prefix BIP34 requires of a coinbase scriptSig: OP_0 for 0,
 * OP_1..OP_16 for 1..16, otherwise a minimal script-number push
 * (e.g. 100000 → `03a08601`, 128 → `028000`).
 *
 * Heights 0..16 give a one-byte script while consensus wants coinbase
 * scriptSigs of 2..100 bytes, so callers append something (Core appends OP_0).
 *
 * @param height Block height, 0..2^31-1.
 * @returns The scriptSig prefix.
 * @throws {RangeError} If `height` is not an integer in range.
 */
export function encodeBip34Height(height: number): Uint8Array {
  if (!Number.isInteger(height) || height < 0 || height > MAX_BIP34_HEIGHT) {
    throw new RangeError(`Cannot encode BIP34 height: ${height} is outside 0..${MAX_BIP34_HEIGHT}`);
  }
  if (height >= 1 && height <= 16) return Uint8Array.of(OP_1 + height - 1);
  return encodeScriptNumPush(height);
}

/**
 * Reads the BIP34 height at the start of a coinbase scriptSig. Only the
 * encoding {@link encodeBip34Height} produces is accepted, because that exact
 * prefix is what Bitcoin Core checks.
 *
 * @param scriptSig The coinbase input's scriptSig (bytes after it are ignored).
 * @returns The height.
 * @throws {RangeError} If the script does not start with a canonical
 *   non-negative height push of at most 4 bytes.
 */
export function decodeBip34Height(scriptSig: Uint8Array): number {
  if (scriptSig.length === 0) {
    throw new RangeError("Cannot decode BIP34 height: scriptSig is empty");
  }
  const op = scriptSig[0]!;
  if (op === OP_0) return 0;
  if (op >= OP_1 && op <= OP_16) return op - OP_1 + 1;
  if (op === OP_1NEGATE) {
    throw new RangeError("Cannot decode BIP34 height: height is negative (OP_1NEGATE)");
  }
  if (op < 1 || op > 4) {
    throw new RangeError(
      `Cannot decode BIP34 height: opcode 0x${op.toString(16)} is not a 1..4 byte push`,
    );
  }
  if (scriptSig.length < 1 + op) {
    throw new RangeError(
      `Cannot decode BIP34 height: push of ${op} bytes but only ${scriptSig.length - 1} follow`,
    );
  }
  const last = scriptSig[op]!;
  if (last & 0x80) throw new RangeError("Cannot decode BIP34 height: height is negative");
  if (last === 0 && (op === 1 || (scriptSig[op - 1]! & 0x80) === 0)) {
    throw new RangeError("Cannot decode BIP34 height: number is not minimally encoded");
  }
  let height = 0;
  for (let i = op; i >= 1; i--) height = height * 256 + scriptSig[i]!;
  if (height <= 16) {
    throw new RangeError(
      `Cannot decode BIP34 height: ${height} must be encoded as ${
        height === 0 ? "OP_0" : `OP_${height}`
      }`,
    );
  }
  return height;
}
