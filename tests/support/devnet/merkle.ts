/**
 * Merkle roots as Core's `ComputeMerkleRoot` computes them, including the CVE-2012-2459
 * mutation flag (two identical adjacent hashes at any level).
 *
 * @module
 */
import { concatBytes, sha256d } from "./bytes.ts";
import { bytesEqual } from "./bytes.ts";

/** Root and mutation flag of a merkle tree over internal-order leaf hashes. */
export function merkleRoot(leaves: readonly Uint8Array[]): { root: Uint8Array; mutated: boolean } {
  if (leaves.length === 0) return { root: new Uint8Array(32), mutated: false };
  let level = [...leaves];
  let mutated = false;
  while (level.length > 1) {
    for (let i = 0; i + 1 < level.length; i += 2) {
      if (bytesEqual(level[i] as Uint8Array, level[i + 1] as Uint8Array)) mutated = true;
    }
    if (level.length % 2 === 1) level.push(level[level.length - 1] as Uint8Array);
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(sha256d(concatBytes(level[i] as Uint8Array, level[i + 1] as Uint8Array)));
    }
    level = next;
  }
  return { root: level[0] as Uint8Array, mutated };
}

/** BIP141 witness commitment: SHA256d(witness merkle root || witness reserved value). */
export function witnessCommitment(
  wtxids: readonly Uint8Array[],
  reservedValue: Uint8Array,
): Uint8Array {
  const leaves = wtxids.map((wtxid, index) => index === 0 ? new Uint8Array(32) : wtxid);
  return sha256d(concatBytes(merkleRoot(leaves).root, reservedValue));
}
