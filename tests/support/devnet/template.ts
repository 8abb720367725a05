/**
 * getblocktemplate results shaped like Bitcoin Core's (BIP22/23/9/141 fields) for the next
 * block on the active tip.
 *
 * @module
 */
import { toHex } from "./bytes.ts";
import type { ChainState } from "./chain.ts";
import {
  bitsToHex,
  bitsToTarget,
  BLOCK_VERSION,
  COINBASE_RESERVED_WEIGHT,
  MAX_BLOCK_SIGOPS_COST,
  MAX_BLOCK_WEIGHT,
  subsidyAt,
  targetToHex,
} from "./consensus.ts";
import type { Mempool, MempoolEntry } from "./mempool.ts";
import { witnessCommitment } from "./merkle.ts";
import { witnessCommitmentScript } from "./script.ts";

/** Sigop cost Core's block assembler keeps free for the coinbase. */
const COINBASE_RESERVED_SIGOPS = 400;

/** One transaction entry of a template. */
export interface TemplateTransaction {
  readonly data: string;
  readonly txid: string;
  readonly hash: string;
  readonly depends: number[];
  readonly fee: number;
  readonly sigops: number;
  readonly weight: number;
}

/** The getblocktemplate result object. */
export interface BlockTemplate {
  readonly capabilities: string[];
  readonly version: number;
  readonly rules: string[];
  readonly vbavailable: Record<string, number>;
  readonly vbrequired: number;
  readonly previousblockhash: string;
  readonly transactions: TemplateTransaction[];
  readonly coinbaseaux: Record<string, string>;
  readonly coinbasevalue: number;
  readonly longpollid: string;
  readonly target: string;
  readonly mintime: number;
  readonly mutable: string[];
  readonly noncerange: string;
  readonly sigoplimit: number;
  readonly sizelimit: number;
  readonly weightlimit: number;
  readonly curtime: number;
  readonly bits: string;
  readonly height: number;
  readonly default_witness_commitment: string;
}

/** Selects mempool entries (parents first) within Core's weight and sigop budgets. */
export function selectTransactions(mempool: Mempool): MempoolEntry[] {
  const selected: MempoolEntry[] = [];
  const included = new Set<string>();
  let weight = COINBASE_RESERVED_WEIGHT;
  let sigops = COINBASE_RESERVED_SIGOPS;
  for (const entry of mempool.entries()) {
    if (!entry.parents.every((parent) => included.has(parent))) continue;
    if (weight + entry.tx.weight >= MAX_BLOCK_WEIGHT) continue;
    if (sigops + entry.sigOpCost >= MAX_BLOCK_SIGOPS_COST) continue;
    weight += entry.tx.weight;
    sigops += entry.sigOpCost;
    included.add(entry.tx.txid);
    selected.push(entry);
  }
  return selected;
}

/** Builds the template for the block after the active tip. */
export function buildTemplate(
  chain: ChainState,
  mempool: Mempool,
  nowSeconds: number,
): BlockTemplate {
  const tip = chain.tip;
  const height = tip.height + 1;
  const bits = chain.expectedBits(tip);
  const mintime = chain.medianTimePast(tip) + 1;
  const entries = selectTransactions(mempool);
  const indexOf = new Map(entries.map((entry, index) => [entry.tx.txid, index + 1]));
  const fees = entries.reduce((sum, entry) => sum + entry.feeSats, 0n);
  const commitment = witnessCommitment(
    [new Uint8Array(32), ...entries.map((entry) => entry.tx.wtxidBytes)],
    new Uint8Array(32),
  );
  return {
    capabilities: ["proposal"],
    version: BLOCK_VERSION,
    rules: ["csv", "!segwit", "taproot"],
    vbavailable: {},
    vbrequired: 0,
    previousblockhash: tip.hashHex,
    transactions: entries.map((entry) => ({
      data: toHex(entry.tx.fullBytes),
      txid: entry.tx.txid,
      hash: entry.tx.wtxid,
      depends: entry.parents.map((parent) => indexOf.get(parent) ?? 0).sort((a, b) => a - b),
      fee: Number(entry.feeSats),
      sigops: entry.sigOpCost,
      weight: entry.tx.weight,
    })),
    coinbaseaux: {},
    coinbasevalue: Number(subsidyAt(height) + fees),
    longpollid: `${tip.hashHex}${mempool.transactionsUpdated}`,
    target: targetToHex(bitsToTarget(bits)),
    mintime,
    mutable: ["time", "transactions", "prevblock"],
    noncerange: "00000000ffffffff",
    sigoplimit: MAX_BLOCK_SIGOPS_COST,
    sizelimit: MAX_BLOCK_WEIGHT,
    weightlimit: MAX_BLOCK_WEIGHT,
    curtime: Math.max(mintime, nowSeconds),
    bits: bitsToHex(bits),
    height,
    default_witness_commitment: toHex(witnessCommitmentScript(commitment)),
  };
}
