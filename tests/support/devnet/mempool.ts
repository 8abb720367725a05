/**
 * The devnet mempool: signed transactions checked against the active UTXO set (inputs present
 * and unspent, mature, final, balanced, signatures valid), in an order where parents precede
 * children. After every tip change it is re-synced, which evicts confirmed and conflicting
 * transactions and takes back those from disconnected blocks.
 *
 * @module
 */
import { hashToDisplayHex } from "./bytes.ts";
import { isCoinbaseTx, type ParsedTx } from "./codec.ts";
import { COINBASE_MATURITY } from "./consensus.ts";
import { sigOpCost } from "./sigops.ts";
import { type Coin, type CoinView, outpointKey } from "./utxo_set.ts";
import { checkTransaction } from "./validate_block.ts";
import { verifyTxScripts } from "./verify_scripts.ts";

/** Height Core gives coins that only exist in the mempool. */
const MEMPOOL_HEIGHT = 0x7fffffff;

/** A transaction in the mempool. */
export interface MempoolEntry {
  readonly tx: ParsedTx;
  readonly feeSats: bigint;
  readonly sigOpCost: number;
  /** Unix seconds when it entered. */
  readonly timeSec: number;
  /** Active tip height when it entered. */
  readonly height: number;
  /** Display txids of in-mempool parents. */
  readonly parents: readonly string[];
}

/** Chain facts a mempool check needs. */
export interface MempoolContext {
  readonly utxos: CoinView;
  readonly tipHeight: number;
  readonly nowSeconds: number;
}

/** Mempool owner; only the devnet node mutates it. */
export class Mempool {
  #entries = new Map<string, MempoolEntry>();
  #spentBy = new Map<string, string>();
  #updates = 0;

  /** Number of transactions. */
  get size(): number {
    return this.#entries.size;
  }

  /** Counter bumped on every change (Core's GetTransactionsUpdated, used in longpollid). */
  get transactionsUpdated(): number {
    return this.#updates;
  }

  /** Entries with parents before children. */
  entries(): MempoolEntry[] {
    return [...this.#entries.values()];
  }

  /** Entry by display txid. */
  get(txid: string): MempoolEntry | undefined {
    return this.#entries.get(txid);
  }

  /** Txid of the mempool transaction spending an outpoint, if any. */
  spenderOf(key: string): string | undefined {
    return this.#spentBy.get(key);
  }

  /** A coin as a new mempool transaction would see it: confirmed or created in the mempool. */
  coin(key: string, utxos: CoinView): Coin | undefined {
    const confirmed = utxos.get(key);
    if (confirmed) return confirmed;
    const [txid, vout] = key.split(":");
    const output = this.#entries.get(txid ?? "")?.tx.outputs[Number(vout)];
    if (!output) return undefined;
    return {
      valueSats: output.valueSats,
      script: output.script,
      height: MEMPOOL_HEIGHT,
      coinbase: false,
    };
  }

  /**
   * Checks and adds a transaction.
   *
   * @returns null when added, else a Core-style reject reason.
   */
  accept(tx: ParsedTx, context: MempoolContext, timeSec = context.nowSeconds): string | null {
    if (this.#entries.has(tx.txid)) return "txn-already-in-mempool";
    if (isCoinbaseTx(tx)) return "coinbase";
    const invalid = checkTransaction(tx);
    if (invalid) return invalid;
    const nextHeight = context.tipHeight + 1;
    const lockedByHeight = tx.locktime < 500_000_000 && tx.locktime >= nextHeight;
    const lockedByTime = tx.locktime >= 500_000_000 && tx.locktime >= context.nowSeconds;
    if (tx.locktime !== 0 && (lockedByHeight || lockedByTime)) {
      if (!tx.inputs.every((input) => input.sequence === 0xffffffff)) return "non-final";
    }
    const coins: Coin[] = [];
    const parents = new Set<string>();
    for (const input of tx.inputs) {
      const key = outpointKey(hashToDisplayHex(input.prevTxid), input.prevVout);
      if (this.#spentBy.has(key)) return "txn-mempool-conflict";
      const coin = this.coin(key, context.utxos);
      if (!coin) return "missing-inputs";
      if (coin.coinbase && nextHeight - coin.height < COINBASE_MATURITY) {
        return "bad-txns-premature-spend-of-coinbase";
      }
      if (coin.height === MEMPOOL_HEIGHT) parents.add(hashToDisplayHex(input.prevTxid));
      coins.push(coin);
    }
    const valueIn = coins.reduce((sum, coin) => sum + coin.valueSats, 0n);
    const valueOut = tx.outputs.reduce((sum, output) => sum + output.valueSats, 0n);
    if (valueIn < valueOut) return "bad-txns-in-belowout";
    const scripts = verifyTxScripts(tx, coins);
    if (scripts) return scripts;
    for (const input of tx.inputs) {
      this.#spentBy.set(outpointKey(hashToDisplayHex(input.prevTxid), input.prevVout), tx.txid);
    }
    this.#entries.set(tx.txid, {
      tx,
      feeSats: valueIn - valueOut,
      sigOpCost: sigOpCost(tx, coins),
      timeSec,
      height: context.tipHeight,
      parents: [...parents],
    });
    this.#updates++;
    return null;
  }

  /**
   * Re-checks every transaction against a new tip. Transactions from disconnected blocks come
   * first (they are older), so their children already in the mempool stay valid.
   */
  resync(context: MempoolContext, resurrected: readonly ParsedTx[]): void {
    const previous = [...this.#entries.values()];
    this.#entries = new Map();
    this.#spentBy = new Map();
    for (const tx of resurrected) this.accept(tx, context);
    for (const entry of previous) this.accept(entry.tx, context, entry.timeSec);
    this.#updates++;
  }

  /** Display txids of mempool transactions spending outputs of `txid`. */
  childrenOf(txid: string): string[] {
    const children = new Set<string>();
    const entry = this.#entries.get(txid);
    if (!entry) return [];
    entry.tx.outputs.forEach((_, vout) => {
      const spender = this.#spentBy.get(outpointKey(txid, vout));
      if (spender) children.add(spender);
    });
    return [...children];
  }
}
