/**
 * Hex encoding for consensus bytes. Hand-written table lookups instead of a
 * library because these run per share (nonce, ntime and extranonce checks) and
 * must not allocate more than the result.
 *
 * @module
 */

const HEX_DIGITS = "0123456789abcdef";

/** Char code → nibble value, or -1 for a character that is not a hex digit. */
const CHAR_TO_NIBBLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) table[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    table[0x41 + i] = 10 + i;
    table[0x61 + i] = 10 + i;
  }
  return table;
})();

function nibbleAt(hex: string, index: number): number {
  const code = hex.charCodeAt(index);
  return code < 128 ? CHAR_TO_NIBBLE[code]! : -1;
}

/**
 * Decodes a hex string (either case) into bytes.
 *
 * @param hex Hex digits, two per byte, no prefix or separators.
 * @returns A new byte array of `hex.length / 2` bytes.
 * @throws {SyntaxError} If the length is odd or a character is not a hex digit.
 */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) {
    throw new SyntaxError(`Cannot decode hex: odd length ${hex.length}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibbleAt(hex, i * 2);
    const lo = nibbleAt(hex, i * 2 + 1);
    if (hi < 0 || lo < 0) {
      const at = hi < 0 ? i * 2 : i * 2 + 1;
      throw new SyntaxError(
        `Cannot decode hex: character ${JSON.stringify(hex[at])} at index ${at} is not a hex digit`,
      );
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Char codes of the hex digits. */
const HEX_CODES: Uint8Array = Uint8Array.from(HEX_DIGITS, (c) => c.charCodeAt(0));
/** Bytes encoded per String.fromCharCode call (its arguments are bounded). */
const HEX_CHUNK_BYTES = 4096;
const hexScratch = new Uint16Array(HEX_CHUNK_BYTES * 2);

/**
 * Encodes bytes as lowercase hex.
 *
 * The result is a flat string: appending digit pairs one by one would leave a chain of one
 * rope node per byte, about 700 bytes of heap for a 22-byte script kept as a map key per miner.
 *
 * @param bytes Bytes to encode.
 * @returns Two lowercase hex digits per byte.
 */
export function bytesToHex(bytes: Uint8Array): string {
  let out = "";
  for (let start = 0; start < bytes.length; start += HEX_CHUNK_BYTES) {
    const end = Math.min(bytes.length, start + HEX_CHUNK_BYTES);
    for (let i = start, j = 0; i < end; i++, j += 2) {
      const b = bytes[i]!;
      hexScratch[j] = HEX_CODES[b >> 4]!;
      hexScratch[j + 1] = HEX_CODES[b & 15]!;
    }
    out += String.fromCharCode.apply(
      null,
      hexScratch.subarray(0, (end - start) * 2) as unknown as number[],
    );
  }
  return out;
}

/**
 * Returns a reversed copy, e.g. to turn an internal-order hash into display order.
 *
 * @param bytes Bytes to reverse; left untouched.
 * @returns A new array with the bytes in reverse order.
 */
export function reverseBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0, j = bytes.length - 1; j >= 0; i++, j--) out[i] = bytes[j]!;
  return out;
}

/**
 * Tells whether a string is exactly `chars` hex digits (either case), as
 * Stratum fields like nonce (8) and extranonce2 must be.
 *
 * @param s Candidate string.
 * @param chars Required length in characters.
 * @returns `true` if `s` has that length and only contains `[0-9a-fA-F]`.
 */
export function isHexOfLength(s: string, chars: number): boolean {
  if (s.length !== chars) return false;
  for (let i = 0; i < s.length; i++) {
    if (nibbleAt(s, i) < 0) return false;
  }
  return true;
}
