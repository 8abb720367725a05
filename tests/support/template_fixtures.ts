/**
 * Mainnet-sized block templates without a node: transactions with random bytes of realistic
 * sizes (120–300 bytes of data, nine in ten with a witness, so 2,000 of them make a template
 * message of about 560 kB, like mainnet's), and the refreshes and new blocks a primary would
 * see. Deterministic for a given seed. Nothing here is a valid transaction: the distribution
 * path copies bytes and trusts txids, it never parses them.
 *
 * ```ts
 * const mempool = new SyntheticMempool(1);
 * const first = syntheticTemplate(mempool.take(2_000), { height: 900_000 });
 * const refresh = syntheticTemplate(refreshed(first.transactions, mempool, 5, 3), { height: 900_000 });
 * ```
 *
 * @module
 */
import {
  bitsToTarget,
  merkleBranchForCoinbase,
  witnessCommitmentScript,
} from "@tbg/shared/bitcoin";
import type { BlockTemplate, TemplateTransaction } from "@tbg/shared/engine";

/** nBits of a recent mainnet block. */
const MAINNET_BITS = 0x17023a04;
const SUBSIDY_SATS = 312_500_000n;

/** A small deterministic generator (mulberry32). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Hands out new, distinct transactions. */
export class SyntheticMempool {
  readonly #random: () => number;

  /** @param seed makes the sequence of transactions repeatable */
  constructor(seed = 1) {
    this.#random = generator(seed);
  }

  #bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.#random() * 256);
    return out;
  }

  /**
   * New transactions, none seen before.
   *
   * @param count how many
   */
  take(count: number): TemplateTransaction[] {
    const txs: TemplateTransaction[] = [];
    for (let i = 0; i < count; i++) {
      const size = 120 + Math.floor(this.#random() * 181);
      const txid = this.#bytes(32);
      const witness = this.#random() < 0.9;
      txs.push({
        data: this.#bytes(size),
        txid,
        wtxid: witness ? this.#bytes(32) : txid,
        feeSats: BigInt(500 + Math.floor(this.#random() * 20_000)),
        weight: witness ? size * 3 : size * 4,
      });
    }
    return txs;
  }
}

/**
 * The transactions of a refresh: `dropped` spread through the list are gone (mined elsewhere or
 * replaced), `added` new ones are in, in a few places.
 *
 * @param txs the previous template's transactions
 * @param mempool where new transactions come from
 * @param added how many new ones
 * @param dropped how many are removed
 */
export function refreshed(
  txs: readonly TemplateTransaction[],
  mempool: SyntheticMempool,
  added: number,
  dropped: number,
): TemplateTransaction[] {
  const step = Math.max(1, Math.floor(txs.length / (dropped + 1)));
  const gone = new Set(Array.from({ length: dropped }, (_, i) => (i + 1) * step));
  const kept = txs.filter((_, i) => !gone.has(i));
  const fresh = mempool.take(added);
  const out: TemplateTransaction[] = [];
  const every = Math.max(1, Math.floor(kept.length / (added + 1)));
  for (let i = 0; i < kept.length; i++) {
    if (i > 0 && i % every === 0 && fresh.length > 0) out.push(fresh.shift()!);
    out.push(kept[i]!);
  }
  out.push(...fresh);
  return out;
}

/** Header fields of {@link syntheticTemplate}. */
export interface SyntheticTemplateOptions {
  readonly height?: number;
  /** Previous block hash in display hex; derived from the height unless given. */
  readonly prevHashHex?: string;
  readonly curtime?: number;
}

/**
 * A BlockTemplate with these transactions: fees in the coinbase value, merkle branch and
 * witness commitment computed as the primary computes them.
 *
 * @param txs the transactions
 * @param options height, previous block, time
 */
export function syntheticTemplate(
  txs: readonly TemplateTransaction[],
  options: SyntheticTemplateOptions = {},
): BlockTemplate {
  const height = options.height ?? 900_000;
  const prevHashHex = options.prevHashHex ?? height.toString(16).padStart(64, "0");
  const prevHash = Uint8Array.from(prevHashHex.match(/../g)!.map((h) => parseInt(h, 16)))
    .reverse();
  const curtime = options.curtime ?? 1_760_000_000;
  return {
    height,
    prevHash,
    prevHashHex,
    version: 0x20000000,
    bits: MAINNET_BITS,
    target: bitsToTarget(MAINNET_BITS),
    curtime,
    mintime: curtime - 3_600,
    coinbaseValueSats: SUBSIDY_SATS + txs.reduce((sum, tx) => sum + tx.feeSats, 0n),
    transactions: txs,
    merkleBranch: merkleBranchForCoinbase(txs.map((tx) => tx.txid)),
    witnessCommitment: witnessCommitmentScript(txs.map((tx) => tx.wtxid)),
    rules: ["csv", "!segwit", "taproot"],
    longPollId: `${prevHashHex}${height}`,
    receivedAtMs: Date.now(),
  };
}
