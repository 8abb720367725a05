/**
 * Assembles the full block for a share that met the network target.
 */
import { bytesToHex, encodeCompactSize } from "../bitcoin/mod.ts";
import { coinbaseWithWitness } from "./coinbase.ts";
import type { BlockCandidate } from "./share.ts";
import type { BlockTemplate } from "./template.ts";

/** Serialized block (hex) ready for submitblock. */
export function assembleBlockHex(candidate: BlockCandidate, template: BlockTemplate): string {
  const coinbase = template.witnessCommitment === null
    ? candidate.coinbase
    : coinbaseWithWitness(candidate.coinbase);
  const count = encodeCompactSize(template.transactions.length + 1);
  let length = candidate.header.length + count.length + coinbase.length;
  for (const tx of template.transactions) length += tx.data.length;
  const block = new Uint8Array(length);
  let offset = 0;
  for (const part of [candidate.header, count, coinbase]) {
    block.set(part, offset);
    offset += part.length;
  }
  for (const tx of template.transactions) {
    block.set(tx.data, offset);
    offset += tx.data.length;
  }
  return bytesToHex(block);
}
