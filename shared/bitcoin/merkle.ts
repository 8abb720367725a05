/**
 * Transaction merkle trees, the Stratum coinbase branch and the BIP141 witness
 * commitment. Every hash here is in internal byte order (as serialized), not
 * the reversed display hex.
 *
 * @module
 */

import { sha256d } from "./hash.ts";

const HASH_BYTES = 32;
const WITNESS_COMMITMENT_HEADER = Uint8Array.of(0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed);

/**
 * Scratch space for one parent node. Safe to share because every function
 * here is synchronous and finishes with it before returning.
 */
const pairScratch = new Uint8Array(HASH_BYTES * 2);

/** sha256d(left || right) into a fresh 32-byte plain Uint8Array. */
function hashPair(left: Uint8Array, right: Uint8Array): Uint8Array {
  pairScratch.set(left, 0);
  pairScratch.set(right, HASH_BYTES);
  return sha256d(pairScratch);
}

function assertHash(hash: Uint8Array | undefined, what: string): Uint8Array {
  if (hash === undefined || hash.length !== HASH_BYTES) {
    throw new RangeError(
      `Cannot compute merkle tree: ${what} is ${hash?.length ?? "missing"} bytes, expected 32`,
    );
  }
  return hash;
}

/** One level up: pairs hashed, the last one paired with itself if odd. */
function parentLevel(level: Uint8Array[], from: number): Uint8Array[] {
  const parents: Uint8Array[] = [];
  for (let i = from; i < level.length; i += 2) {
    const left = level[i]!;
    parents.push(hashPair(left, level[i + 1] ?? left));
  }
  return parents;
}

/**
 * Merkle root of a list of hashes with Bitcoin's rule of pairing an odd last
 * node with itself.
 *
 * @param hashes Leaves (txids, or wtxids for the witness tree), 32 bytes each.
 * @returns The root; a copy of the only leaf when there is one.
 * @throws {RangeError} If the list is empty or a hash is not 32 bytes.
 */
export function merkleRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) {
    throw new RangeError("Cannot compute merkle root: no hashes");
  }
  hashes.forEach((h, i) => assertHash(h, `hash ${i}`));
  let level = hashes;
  while (level.length > 1) level = parentLevel(level, 0);
  return level[0]!.slice();
}

/**
 * The Stratum merkle branch: the siblings on the path from leaf 0 (the
 * coinbase, unknown until a miner rolls its extranonce) to the root, lowest
 * first. Computed once per template; see {@link merkleRootFromBranch}.
 *
 * @param txHashesWithoutCoinbase Txids of the block's other transactions, in
 *   block order.
 * @returns Sibling hashes (copies); empty for a coinbase-only block.
 * @throws {RangeError} If a hash is not 32 bytes.
 */
export function merkleBranchForCoinbase(txHashesWithoutCoinbase: Uint8Array[]): Uint8Array[] {
  txHashesWithoutCoinbase.forEach((h, i) => assertHash(h, `hash ${i}`));
  const branch: Uint8Array[] = [];
  // The level without its first node: that node is on the coinbase's path and
  // only becomes known when the share arrives.
  let rest = txHashesWithoutCoinbase;
  let first = true;
  while (rest.length > 0) {
    const sibling = rest[0]!;
    branch.push(first ? sibling.slice() : sibling);
    // Parents of the nodes after the sibling; rest[1] pairs with rest[2], etc.
    rest = parentLevel(rest, 1);
    first = false;
  }
  return branch;
}

/**
 * Folds a coinbase hash up a Stratum merkle branch to the header's merkle root.
 * This runs once per submitted share.
 *
 * @param coinbaseHash Txid of the coinbase (internal order).
 * @param branch Output of {@link merkleBranchForCoinbase}.
 * @returns The merkle root (internal order).
 * @throws {RangeError} If a hash is not 32 bytes.
 */
export function merkleRootFromBranch(coinbaseHash: Uint8Array, branch: Uint8Array[]): Uint8Array {
  let node: Uint8Array = assertHash(coinbaseHash, "coinbase hash").slice();
  for (let i = 0; i < branch.length; i++) {
    node = hashPair(node, assertHash(branch[i], `branch ${i}`));
  }
  return node;
}

/**
 * The BIP141 witness commitment hash:
 * sha256d(witness merkle root || witness reserved value), where the witness
 * tree's first leaf (the coinbase's wtxid) is 32 zero bytes.
 *
 * @param wtxidsWithoutCoinbase Wtxids of the non-coinbase transactions, in
 *   block order (equal to the txid for transactions without witness).
 * @param witnessReservedValue The coinbase input's single witness item;
 *   32 zero bytes unless a future soft fork says otherwise.
 * @returns The 32-byte commitment.
 * @throws {RangeError} If a hash or the reserved value is not 32 bytes.
 */
export function witnessCommitment(
  wtxidsWithoutCoinbase: Uint8Array[],
  witnessReservedValue: Uint8Array = new Uint8Array(HASH_BYTES),
): Uint8Array {
  assertHash(witnessReservedValue, "witness reserved value");
  const root = merkleRoot([new Uint8Array(HASH_BYTES), ...wtxidsWithoutCoinbase]);
  return hashPair(root, witnessReservedValue);
}

/**
 * The coinbase output script carrying the BIP141 witness commitment:
 * `OP_RETURN OP_PUSHBYTES_36 aa21a9ed <commitment>` (38 bytes).
 *
 * @param wtxidsWithoutCoinbase See {@link witnessCommitment}.
 * @param witnessReservedValue See {@link witnessCommitment}.
 * @returns The full scriptPubKey, `6a24aa21a9ed` followed by 32 bytes.
 * @throws {RangeError} If a hash or the reserved value is not 32 bytes.
 */
export function witnessCommitmentScript(
  wtxidsWithoutCoinbase: Uint8Array[],
  witnessReservedValue?: Uint8Array,
): Uint8Array {
  const script = new Uint8Array(WITNESS_COMMITMENT_HEADER.length + HASH_BYTES);
  script.set(WITNESS_COMMITMENT_HEADER, 0);
  script.set(witnessCommitment(wtxidsWithoutCoinbase, witnessReservedValue), 6);
  return script;
}
