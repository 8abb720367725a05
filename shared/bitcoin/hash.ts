/**
 * Bitcoin hash functions. Inputs under {@link LONG_INPUT_BYTES} (merkle nodes, headers, address
 * checksums) go through the plain-integer compressor of sha256d_into.ts; longer ones (templates,
 * blocks) through node:crypto, whose native SHA-256 is 5–10× faster from a few KB on while its
 * per-call overhead loses below about 1 KB (`deno run -A tests/bench/hash_speed.ts`, see
 * BENCHMARKS.md "fresh_memory"). hash-wasm, used before, cost every process about 1 MB of memory
 * for its WebAssembly instance and was neither's equal in its range. RIPEMD-160 (addresses only)
 * is node:crypto's too.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { sha256dInto, sha256Into } from "./sha256d_into.ts";

/** Input length from which node:crypto's SHA-256 beats the plain-integer one here. */
export const LONG_INPUT_BYTES = 1024;

function nativeSha256(data: Uint8Array): Uint8Array {
  // Copied out of the Buffer: a Buffer may be a view into a pool shared with other Buffers.
  return Uint8Array.from(createHash("sha256").update(data).digest());
}

/**
 * SHA-256.
 *
 * @param data Input bytes.
 * @returns The 32-byte digest.
 */
export function sha256(data: Uint8Array): Uint8Array {
  if (data.length >= LONG_INPUT_BYTES) return nativeSha256(data);
  const out = new Uint8Array(32);
  sha256Into(data, data.length, out, 0);
  return out;
}

/**
 * Double SHA-256, Bitcoin's hash for headers, txids and merkle nodes.
 *
 * @param data Input bytes.
 * @returns The 32-byte digest in internal byte order.
 */
export function sha256d(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  if (data.length >= LONG_INPUT_BYTES) {
    sha256Into(nativeSha256(data), 32, out, 0);
  } else {
    sha256dInto(data, data.length, out, 0);
  }
  return out;
}

/**
 * RIPEMD-160 of SHA-256, the hash inside P2PKH and P2WPKH outputs.
 *
 * @param data Input bytes (usually a public key or a script).
 * @returns The 20-byte digest.
 */
export function hash160(data: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash("ripemd160").update(sha256(data)).digest());
}
