/**
 * The 80-byte block header.
 *
 * @module
 */

import { sha256d } from "./hash.ts";
import { bytesToHex, reverseBytes } from "./hex.ts";

/** Serialized header length in bytes. */
export const HEADER_BYTES = 80;

/** A block header's fields; hashes in internal byte order. */
export interface BlockHeader {
  /** nVersion; signed or unsigned 32-bit (serialized as the same 4 bytes). */
  version: number;
  /** Hash of the previous block, internal order (as serialized). */
  prevHash: Uint8Array;
  /** Merkle root of the block's txids, internal order. */
  merkleRoot: Uint8Array;
  /** nTime, seconds since the Unix epoch. */
  time: number;
  /** nBits, the compact target. */
  bits: number;
  /** nNonce. */
  nonce: number;
}

function assertUint32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`Cannot serialize header: ${field} ${value} is not a uint32`);
  }
}

/**
 * Serializes a header: version, prevHash, merkleRoot, time, bits, nonce, with
 * the integers little-endian.
 *
 * @param header Header fields; version may be in -2^31..2^32-1.
 * @returns 80 bytes.
 * @throws {RangeError} If a hash is not 32 bytes or a field is out of range.
 */
export function serializeHeader(header: BlockHeader): Uint8Array {
  const { version, prevHash, merkleRoot, time, bits, nonce } = header;
  if (!Number.isInteger(version) || version < -0x8000_0000 || version > 0xffff_ffff) {
    throw new RangeError(`Cannot serialize header: version ${version} is not a 32-bit integer`);
  }
  if (prevHash.length !== 32 || merkleRoot.length !== 32) {
    throw new RangeError(
      `Cannot serialize header: prevHash is ${prevHash.length} bytes and merkleRoot ${merkleRoot.length}, expected 32`,
    );
  }
  assertUint32(time, "time");
  assertUint32(bits, "bits");
  assertUint32(nonce, "nonce");
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, version >>> 0, true);
  out.set(prevHash, 4);
  out.set(merkleRoot, 36);
  view.setUint32(68, time, true);
  view.setUint32(72, bits, true);
  view.setUint32(76, nonce, true);
  return out;
}

/**
 * Parses an 80-byte header.
 *
 * @param bytes Exactly 80 bytes (use `block.subarray(0, 80)` for a full block).
 * @returns The fields, version as a signed int32 like Bitcoin Core's nVersion;
 *   the hashes are copies.
 * @throws {RangeError} If the input is not 80 bytes.
 */
export function parseHeader(bytes: Uint8Array): BlockHeader {
  if (bytes.length !== HEADER_BYTES) {
    throw new RangeError(`Cannot parse header: ${bytes.length} bytes, expected 80`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return {
    version: view.getInt32(0, true),
    prevHash: bytes.slice(4, 36),
    merkleRoot: bytes.slice(36, 68),
    time: view.getUint32(68, true),
    bits: view.getUint32(72, true),
    nonce: view.getUint32(76, true),
  };
}

/**
 * The block hash in display order, as block explorers and RPCs print it.
 *
 * @param header80 A serialized 80-byte header.
 * @returns 64 lowercase hex digits.
 * @throws {RangeError} If the input is not 80 bytes.
 */
export function blockHashHex(header80: Uint8Array): string {
  if (header80.length !== HEADER_BYTES) {
    throw new RangeError(`Cannot hash header: ${header80.length} bytes, expected 80`);
  }
  return bytesToHex(reverseBytes(sha256d(header80)));
}
