/**
 * Bitcoin hash functions on node:crypto, which is synchronous and native
 * (WebCrypto is async and far slower for 64-byte inputs).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Views a Node Buffer as a plain Uint8Array without copying. */
function plain(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * SHA-256.
 *
 * @param data Input bytes.
 * @returns The 32-byte digest.
 */
export function sha256(data: Uint8Array): Uint8Array {
  return plain(createHash("sha256").update(data).digest());
}

/**
 * Double SHA-256, Bitcoin's hash for headers, txids and merkle nodes.
 *
 * @param data Input bytes.
 * @returns The 32-byte digest in internal byte order.
 */
export function sha256d(data: Uint8Array): Uint8Array {
  const first = createHash("sha256").update(data).digest();
  return plain(createHash("sha256").update(first).digest());
}

/**
 * RIPEMD-160 of SHA-256, the hash inside P2PKH and P2WPKH outputs.
 *
 * @param data Input bytes (usually a public key or a script).
 * @returns The 20-byte digest.
 */
export function hash160(data: Uint8Array): Uint8Array {
  const first = createHash("sha256").update(data).digest();
  return plain(createHash("ripemd160").update(first).digest());
}
