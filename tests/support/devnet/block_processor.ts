/**
 * submitblock's path through validation, in Core's order: decode, coinbase witness nonce
 * fill-in (UpdateUncommittedBlockStructures), CheckBlock, known-block check, parent lookup,
 * ContextualCheckBlockHeader, ContextualCheckBlock, store, then activate when the block has
 * more work than the tip. Results are BIP22 values: null, a reject reason, "duplicate" or
 * "inconclusive".
 *
 * @module
 */
import { Block } from "bitcoinjs-lib";
import { bytesEqual, hashToDisplayHex, toHex } from "./bytes.ts";
import type { ActivateOutcome, BlockEntry, ChainState } from "./chain.ts";
import {
  isCoinbaseTx,
  parseBlock,
  type ParsedBlock,
  serializeBlock,
  withWitness,
} from "./codec.ts";
import { RpcCode, RpcError } from "./rpc_error.ts";
import { witnessCommitmentIndex } from "./script.ts";
import { StagedCoins } from "./utxo_set.ts";
import {
  checkBlock,
  connectBlock,
  contextualCheckBlock,
  contextualCheckHeader,
} from "./validate_block.ts";

/** What processing a block produced. */
export interface ProcessResult {
  /** The BIP22 result submitblock returns. */
  readonly result: string | null;
  /** The stored entry, when the block was stored. */
  readonly entry?: BlockEntry;
  /** The chain change, when the block became (part of) the active chain. */
  readonly activated?: Extract<ActivateOutcome, { ok: true }>;
}

/** Core's `UpdateUncommittedBlockStructures`: add a zero witness reserved value if it is missing. */
function fillWitnessNonce(
  block: ParsedBlock,
  bytes: Uint8Array,
): { block: ParsedBlock; bytes: Uint8Array } {
  const coinbase = block.txs[0];
  if (!coinbase || !isCoinbaseTx(coinbase) || coinbase.hasWitness) return { block, bytes };
  if (witnessCommitmentIndex(coinbase.outputs) < 0) return { block, bytes };
  const filled = withWitness(coinbase, 0, [new Uint8Array(32)]);
  const txs = [filled, ...block.txs.slice(1)];
  return {
    block: { header: block.header, txs },
    bytes: serializeBlock(block.header.bytes, txs.map((tx) => tx.fullBytes)),
  };
}

/**
 * Checks that bitcoinjs-lib reads the block the same way: same hash, same merkle root.
 *
 * @throws {Error} on any disagreement, since then one of the two implementations is wrong.
 */
export function crossCheckWithBitcoinjs(block: ParsedBlock, bytes: Uint8Array): void {
  const parsed = Block.fromHex(toHex(bytes));
  if (parsed.getId() !== block.header.hashHex) {
    throw new Error(
      `Cannot accept block ${block.header.hashHex}: bitcoinjs-lib computes hash ${parsed.getId()}`,
    );
  }
  const root = Block.calculateMerkleRoot(parsed.transactions ?? []);
  if (!bytesEqual(root, block.header.merkleRoot)) {
    throw new Error(
      `Cannot accept block ${block.header.hashHex}: bitcoinjs-lib merkle root differs`,
    );
  }
  parsed.transactions?.forEach((tx, index) => {
    if (tx.getId() !== block.txs[index]?.txid) {
      throw new Error(`Cannot accept block ${block.header.hashHex}: txid ${index} differs`);
    }
  });
}

/**
 * Validates and stores a submitted block, activating it when it has more work than the tip.
 *
 * @throws {RpcError} -22 "Block decode failed" when the bytes do not parse.
 */
export function processBlock(
  chain: ChainState,
  raw: Uint8Array,
  nowSeconds: number,
): ProcessResult {
  let parsed: ParsedBlock;
  try {
    parsed = parseBlock(raw);
  } catch {
    throw new RpcError(RpcCode.DESERIALIZATION_ERROR, "Block decode failed");
  }
  const parent = chain.get(hashToDisplayHex(parsed.header.prevHash));
  const { block, bytes } = parent ? fillWitnessNonce(parsed, raw) : { block: parsed, bytes: raw };

  const checkReason = checkBlock(block);
  if (checkReason) return { result: checkReason };
  if (chain.get(block.header.hashHex)) return { result: "duplicate" };
  if (!parent) return { result: "prev-blk-not-found" };
  if (parent.invalid) return { result: "bad-prevblk" };

  const parentMtp = chain.medianTimePast(parent);
  const headerReason = contextualCheckHeader(block.header, {
    expectedBits: chain.expectedBits(parent),
    parentMedianTimePast: parentMtp,
    nowSeconds,
  });
  if (headerReason) return { result: headerReason };
  const contextual = contextualCheckBlock(block, parent.height + 1, parentMtp);
  if (contextual) {
    if (!contextual.mutated) chain.storeInvalid(block, bytes, parent);
    return { result: contextual.reason };
  }

  crossCheckWithBitcoinjs(block, bytes);
  const entry = chain.store(block, bytes, parent);
  if (entry.chainWork <= chain.tip.chainWork) return { result: "inconclusive", entry };
  const outcome = chain.activate(entry);
  if (!outcome.ok) {
    return { result: outcome.failed === entry ? outcome.reason : "inconclusive", entry };
  }
  return { result: null, entry, activated: outcome };
}

/**
 * getblocktemplate mode "proposal": Core's `TestBlockValidity` on the tip without storing
 * anything and without checking proof of work.
 *
 * @throws {RpcError} -22 "Block decode failed" when the bytes do not parse.
 */
export function proposeBlock(
  chain: ChainState,
  raw: Uint8Array,
  nowSeconds: number,
): string | null {
  let block: ParsedBlock;
  try {
    block = parseBlock(raw);
  } catch {
    throw new RpcError(RpcCode.DESERIALIZATION_ERROR, "Block decode failed");
  }
  const known = chain.get(block.header.hashHex);
  if (known) {
    if (known.invalid) return "duplicate-invalid";
    return known.txFeesSats !== null ? "duplicate" : "duplicate-inconclusive";
  }
  const tip = chain.tip;
  if (hashToDisplayHex(block.header.prevHash) !== tip.hashHex) {
    return "inconclusive-not-best-prevblk";
  }
  const parentMtp = chain.medianTimePast(tip);
  const reason = contextualCheckHeader(block.header, {
    expectedBits: chain.expectedBits(tip),
    parentMedianTimePast: parentMtp,
    nowSeconds,
  }) ?? checkBlock(block, false) ??
    contextualCheckBlock(block, tip.height + 1, parentMtp)?.reason ?? null;
  if (reason) return reason;
  const outcome = connectBlock(block, tip.height + 1, new StagedCoins(chain.utxos));
  return outcome.ok ? null : outcome.reason;
}
