/**
 * Bitcoin primitives for the pool: hex, hashes, CompactSize, BIP34 script
 * numbers, merkle trees and witness commitments, targets and difficulty,
 * block headers and addresses. All synchronous; hashes in internal byte order
 * unless a name says "display" or "Hex" of a block hash.
 *
 * @module
 */

export * from "./hex.ts";
export * from "./hash.ts";
export * from "./compact_size.ts";
export * from "./script_num.ts";
export * from "./merkle.ts";
export * from "./target.ts";
export * from "./header.ts";
export * from "./address.ts";
export * from "./sha256d_into.ts";
