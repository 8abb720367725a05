/**
 * Byte helpers for the devnet: hex, hashing and little-endian integers.
 *
 * Deliberately independent of shared/bitcoin so the devnet checks the pool with a second
 * implementation.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { hex } from "@scure/base";

/** Encodes bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return hex.encode(bytes);
}

/**
 * Decodes hex (either case) into bytes.
 *
 * @throws {SyntaxError} when the text is not an even-length hex string.
 */
export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new SyntaxError(`Cannot decode hex: not an even-length hex string`);
  }
  return hex.decode(text.toLowerCase());
}

/** Returns a reversed copy (internal byte order <-> display order of hashes). */
export function reversed(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes).reverse();
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Compares two byte arrays for equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Single SHA-256. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** Bitcoin's double SHA-256. */
export function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

/** RIPEMD-160 of SHA-256, as used by P2PKH and P2WPKH. */
export function hash160(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("ripemd160").update(sha256(data)).digest());
}

/** Display-order hex of an internal-order 32-byte hash (how RPC shows block and tx ids). */
export function hashToDisplayHex(hashInternal: Uint8Array): string {
  return toHex(reversed(hashInternal));
}

/**
 * Internal-order bytes of a display-order hash hex.
 *
 * @throws {SyntaxError} when the text is not 64 hex characters.
 */
export function displayHexToHash(text: string): Uint8Array {
  if (text.length !== 64) throw new SyntaxError(`Cannot decode hash: length ${text.length}`);
  return reversed(fromHex(text));
}

/** Interprets bytes as an unsigned little-endian integer. */
export function leBytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

/** Writes a uint32 little-endian. */
export function u32le(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, true);
  return out;
}

/** Writes an int64 little-endian from a bigint (satoshi amounts). */
export function i64le(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, true);
  return out;
}
