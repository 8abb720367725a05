/**
 * CPU nonce grinding over an 80-byte block header. Standalone (no devnet imports) so the
 * Stratum client's miner mode can reuse it.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Highest nonce value (the nonce field is a uint32). */
export const MAX_NONCE = 0xffffffff;

/** A 256-bit target as 32 little-endian bytes, the order a header hash is compared in. */
export function targetToLeBytes(target: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let rest = target;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

/** Whether a header hash (internal byte order, i.e. little-endian number) is at or below the target. */
export function hashMeetsTarget(hash: Uint8Array, targetLe: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const h = hash[i] ?? 0;
    const t = targetLe[i] ?? 0;
    if (h < t) return true;
    if (h > t) return false;
  }
  return true;
}

/** Double SHA-256 of a header, internal byte order. */
export function headerHash(header80: Uint8Array): Uint8Array {
  const first = createHash("sha256").update(header80).digest();
  return new Uint8Array(createHash("sha256").update(first).digest());
}

/**
 * Tries nonces `startNonce .. startNonce + count - 1` (never past 0xffffffff) in the last four
 * header bytes (little-endian) and returns the first whose double SHA-256 is at or below
 * `target`, or null.
 *
 * @param header80 the 80-byte header; it is not modified
 * @param target the 256-bit target
 * @param startNonce first nonce to try
 * @param count how many nonces to try
 * @throws {RangeError} when the header is not 80 bytes
 */
export function grindNonce(
  header80: Uint8Array,
  target: bigint,
  startNonce: number,
  count: number,
): number | null {
  if (header80.length !== 80) {
    throw new RangeError(`Cannot grind: header is ${header80.length} bytes`);
  }
  const work = Uint8Array.from(header80);
  const view = new DataView(work.buffer);
  const targetLe = targetToLeBytes(target);
  const end = Math.min(MAX_NONCE, startNonce + count - 1);
  for (let nonce = startNonce >>> 0; nonce <= end; nonce++) {
    view.setUint32(76, nonce, true);
    if (hashMeetsTarget(headerHash(work), targetLe)) return nonce;
  }
  return null;
}
