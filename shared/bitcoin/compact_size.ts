/**
 * Bitcoin's CompactSize (a.k.a. varint) length prefix.
 *
 * @module
 */

const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

/**
 * Encodes a CompactSize in its canonical (shortest) form.
 *
 * @param n Value from 0 to 2^64-1.
 * @returns 1, 3, 5 or 9 bytes.
 * @throws {RangeError} If `n` is negative, fractional or above 2^64-1.
 */
export function encodeCompactSize(n: number | bigint): Uint8Array {
  if (typeof n === "number") {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`Cannot encode CompactSize: ${n} is not a non-negative safe integer`);
    }
    if (n < 0xfd) return Uint8Array.of(n);
    if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
    if (n <= 0xffff_ffff) {
      const out = new Uint8Array(5);
      out[0] = 0xfe;
      new DataView(out.buffer).setUint32(1, n, true);
      return out;
    }
    n = BigInt(n);
  }
  if (n < 0n || n > MAX_UINT64) {
    throw new RangeError(`Cannot encode CompactSize: ${n} is outside 0..2^64-1`);
  }
  if (n <= 0xffff_ffffn) return encodeCompactSize(Number(n));
  const out = new Uint8Array(9);
  out[0] = 0xff;
  new DataView(out.buffer).setBigUint64(1, n, true);
  return out;
}

/**
 * Decodes a CompactSize, rejecting non-canonical encodings as Bitcoin Core's
 * ReadCompactSize does.
 *
 * @param bytes Buffer holding the encoding.
 * @param offset Index of the first byte of the encoding.
 * @returns The value and the number of bytes it took.
 * @throws {RangeError} If the buffer ends early, the encoding is not the
 *   shortest one, or the value is above Number.MAX_SAFE_INTEGER.
 */
export function decodeCompactSize(
  bytes: Uint8Array,
  offset: number,
): { value: number; size: number } {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= bytes.length) {
    throw new RangeError(
      `Cannot decode CompactSize: offset ${offset} is outside a ${bytes.length}-byte buffer`,
    );
  }
  const first = bytes[offset]!;
  if (first < 0xfd) return { value: first, size: 1 };
  const size = first === 0xfd ? 3 : first === 0xfe ? 5 : 9;
  if (offset + size > bytes.length) {
    throw new RangeError(
      `Cannot decode CompactSize: needs ${size} bytes at offset ${offset}, buffer has ${
        bytes.length - offset
      }`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, size - 1);
  let value: number;
  let minimum: number;
  if (size === 3) {
    value = view.getUint16(0, true);
    minimum = 0xfd;
  } else if (size === 5) {
    value = view.getUint32(0, true);
    minimum = 0x1_0000;
  } else {
    const big = view.getBigUint64(0, true);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(
        `Cannot decode CompactSize: ${big} is above Number.MAX_SAFE_INTEGER`,
      );
    }
    value = Number(big);
    minimum = 0x1_0000_0000;
  }
  if (value < minimum) {
    throw new RangeError(
      `Cannot decode CompactSize: non-canonical ${size}-byte encoding of ${value}`,
    );
  }
  return { value, size };
}
