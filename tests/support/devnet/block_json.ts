/**
 * getblockheader and getblock results shaped like Core's `blockheaderToJSON` and `blockToJSON`.
 *
 * @module
 */
import { hashToDisplayHex, toHex } from "./bytes.ts";
import type { BlockEntry, ChainState } from "./chain.ts";
import { bitsToDifficulty, bitsToHex, bitsToTarget, targetToHex } from "./consensus.ts";
import { txToJson } from "./tx_json.ts";

/** Core's `blockheaderToJSON`. */
export function blockHeaderJson(chain: ChainState, entry: BlockEntry): Record<string, unknown> {
  const header = entry.block.header;
  const active = chain.isActive(entry);
  const next = active ? chain.atHeight(entry.height + 1) : undefined;
  const json: Record<string, unknown> = {
    hash: entry.hashHex,
    confirmations: active ? chain.height - entry.height + 1 : -1,
    height: entry.height,
    version: header.version,
    versionHex: (header.version >>> 0).toString(16).padStart(8, "0"),
    merkleroot: hashToDisplayHex(header.merkleRoot),
    time: header.time,
    mediantime: chain.medianTimePast(entry),
    nonce: header.nonce,
    bits: bitsToHex(header.bits),
    target: targetToHex(bitsToTarget(header.bits)),
    difficulty: bitsToDifficulty(header.bits),
    chainwork: entry.chainWork.toString(16).padStart(64, "0"),
    nTx: entry.block.txs.length,
  };
  if (entry.parent) json.previousblockhash = entry.parent.hashHex;
  if (next) json.nextblockhash = next.hashHex;
  return json;
}

/** Core's `blockToJSON` for verbosity 1 (txids) or 2 (decoded transactions with fees). */
export function blockJson(
  chain: ChainState,
  entry: BlockEntry,
  verbosity: 1 | 2,
): Record<string, unknown> {
  const json = blockHeaderJson(chain, entry);
  const strippedSize = entry.bytes.length -
    entry.block.txs.reduce((sum, tx) => sum + tx.fullBytes.length - tx.baseBytes.length, 0);
  json.strippedsize = strippedSize;
  json.size = entry.bytes.length;
  json.weight = strippedSize * 3 + entry.bytes.length;
  const fees = entry.txFeesSats;
  json.tx = entry.block.txs.map((tx, index) =>
    verbosity === 1 ? tx.txid : txToJson(tx, index === 0 ? undefined : fees?.[index - 1])
  );
  return json;
}

/** getblockheader verbose=false: the 80 header bytes as hex. */
export function blockHeaderHex(entry: BlockEntry): string {
  return toHex(entry.block.header.bytes);
}
