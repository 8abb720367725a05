/**
 * Bech32 and bech32m (BIP173, BIP350) checksum verification and 5-to-8-bit conversion that work
 * on the string in place: no words array, no per-character strings. Every miner's authorize
 * decodes its payout address, and the general-purpose decoder left about 2.8 KB of garbage per
 * address (arrays of words, copies of the data part) that a burst of reconnecting miners turns
 * into young-generation growth.
 *
 * @module
 */

/** The bech32 data alphabet, value = index. */
export const BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/** Which checksum a string carries. */
export type Bech32Variant = "bech32" | "bech32m";

const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;
/** Longest bech32 string BIP173 allows. */
const MAX_LENGTH = 90;
const CHECKSUM_CHARS = 6;

/** Character code → 5-bit value, −1 outside the alphabet (lower case only). */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < BECH32_CHARSET.length; i++) VALUES[BECH32_CHARSET.charCodeAt(i)] = i;

function polymodStep(pre: number): number {
  const b = pre >>> 25;
  let chk = (pre & 0x1ffffff) << 5;
  if (b & 1) chk ^= 0x3b6a57b2;
  if (b & 2) chk ^= 0x26508e6d;
  if (b & 4) chk ^= 0x1ea119fa;
  if (b & 8) chk ^= 0x3d4233dd;
  if (b & 16) chk ^= 0x2a1462b3;
  return chk;
}

/** The 5-bit value of `s[i]` read case-insensitively, or −1. */
function valueAt(s: string, i: number): number {
  // Every alphabet character is a digit or a letter, and `| 0x20` maps only upper-case letters
  // onto alphabet characters; any other character it changes lands outside the alphabet.
  const code = s.charCodeAt(i) | 0x20;
  return code < 128 ? VALUES[code]! : -1;
}

/** The exact lower-case code of a prefix character (only A–Z change). */
function lowerCode(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code | 0x20 : code;
}

/**
 * Whether `s` is a valid bech32 or bech32m string (BIP173's rules: 8 to 90 characters, one case,
 * a non-empty prefix of printable ASCII before the last "1", at least the 6 checksum characters
 * after it, all in the alphabet) and which; null if it is neither.
 */
export function bech32Variant(s: string): Bech32Variant | null {
  if (s.length < 8 || s.length > MAX_LENGTH) return null;
  let lower = false;
  let upper = false;
  let separator = -1;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 33 || code > 126) return null;
    if (code >= 0x61 && code <= 0x7a) lower = true;
    else if (code >= 0x41 && code <= 0x5a) upper = true;
    if (code === 0x31) separator = i;
  }
  if (lower && upper) return null;
  if (separator < 1 || s.length - separator - 1 < CHECKSUM_CHARS) return null;
  for (let i = separator + 1; i < s.length; i++) if (valueAt(s, i) < 0) return null;
  let chk = 1;
  for (let i = 0; i < separator; i++) chk = polymodStep(chk) ^ (lowerCode(s.charCodeAt(i)) >> 5);
  chk = polymodStep(chk);
  for (let i = 0; i < separator; i++) chk = polymodStep(chk) ^ (lowerCode(s.charCodeAt(i)) & 31);
  for (let i = separator + 1; i < s.length; i++) chk = polymodStep(chk) ^ valueAt(s, i);
  if (chk === BECH32_CONST) return "bech32";
  if (chk === BECH32M_CONST) return "bech32m";
  return null;
}

/** The 5-bit value of data character `index` of `s` (characters after the separator). */
export function bech32ValueAt(s: string, index: number): number {
  return valueAt(s, index);
}

/**
 * Converts the 5-bit values of `s[from..to)` to bytes in `out` (BIP173's convertbits without
 * padding). Returns the byte count, or −1 if the leftover bits are 5 or more or not all zero
 * (invalid padding), or −2 if `out` is too small.
 */
export function bech32WordsToBytes(s: string, from: number, to: number, out: Uint8Array): number {
  let acc = 0;
  let bits = 0;
  let length = 0;
  for (let i = from; i < to; i++) {
    acc = ((acc << 5) | valueAt(s, i)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (length === out.length) return -2;
      out[length++] = (acc >> bits) & 0xff;
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return -1;
  return length;
}
