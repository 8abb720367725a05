/**
 * Keeps the mempool at its target size with wallet transactions: alternating P2WPKH and P2PKH
 * spends, every third one chained on an unconfirmed parent, fee rates between 1 and 25 sat/vB.
 *
 * @module
 */
import type { ParsedTx } from "./codec.ts";
import type { Mempool, MempoolContext } from "./mempool.ts";
import { outpointKey, type UtxoSet } from "./utxo_set.ts";
import type { SpendableCoin, Wallet } from "./wallet.ts";
import { COINBASE_MATURITY } from "./consensus.ts";
import { bytesEqual } from "./bytes.ts";

/** vsize of a one-input P2WPKH spend to one P2WPKH and one P2PKH output. */
const ESTIMATED_VSIZE_P2WPKH_SPEND = 144;
/** vsize of a one-input P2PKH spend to one P2WPKH and one P2PKH output. */
const ESTIMATED_VSIZE_P2PKH_SPEND = 223;

/** Coins below this are left alone so fees never eat a whole output. */
const MIN_SPEND_SATS = 100_000n;

/** Deterministic PRNG (mulberry32) so runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Creates wallet transactions to top up the mempool. */
export class MempoolFiller {
  #count = 0;

  /** Uses the wallet to sign and the PRNG for fee rates and splits. */
  constructor(
    private readonly wallet: Wallet,
    private readonly mempool: Mempool,
    private readonly random: () => number,
  ) {}

  /** Adds transactions until the mempool holds `target` or no coin is left; returns how many. */
  refill(context: MempoolContext & { readonly utxoSet: UtxoSet }, target: number): number {
    const confirmed = this.#confirmedCoins(context);
    let added = 0;
    while (this.mempool.size < target) {
      const coin = this.#pick(confirmed, context);
      if (!coin) break;
      const tx = this.#spendOne(coin, context.tipHeight);
      const reason = this.mempool.accept(tx, context);
      if (reason) throw new Error(`Cannot add wallet transaction to mempool: ${reason}`);
      this.#count++;
      added++;
    }
    return added;
  }

  #confirmedCoins(context: MempoolContext & { readonly utxoSet: UtxoSet }): SpendableCoin[] {
    const nextHeight = context.tipHeight + 1;
    const coins: SpendableCoin[] = [];
    for (const [key, coin] of context.utxoSet.entries()) {
      if (!this.wallet.isMine(coin.script) || coin.valueSats < MIN_SPEND_SATS) continue;
      if (coin.coinbase && nextHeight - coin.height < COINBASE_MATURITY) continue;
      if (this.mempool.spenderOf(key)) continue;
      const [txid, vout] = key.split(":");
      coins.push({
        txid: txid ?? "",
        vout: Number(vout),
        valueSats: coin.valueSats,
        script: coin.script,
      });
    }
    return coins;
  }

  #unconfirmedCoins(): SpendableCoin[] {
    const coins: SpendableCoin[] = [];
    for (const entry of this.mempool.entries()) {
      entry.tx.outputs.forEach((output, vout) => {
        if (!this.wallet.isMine(output.script) || output.valueSats < MIN_SPEND_SATS) return;
        if (this.mempool.spenderOf(outpointKey(entry.tx.txid, vout))) return;
        coins.push({
          txid: entry.tx.txid,
          vout,
          valueSats: output.valueSats,
          script: output.script,
        });
      });
    }
    return coins;
  }

  #pick(confirmed: SpendableCoin[], context: MempoolContext): SpendableCoin | null {
    const wantScript = this.#count % 2 === 0 ? this.wallet.p2wpkhScript : this.wallet.p2pkhScript;
    const chained = this.#count % 3 === 2;
    const pools = chained
      ? [this.#unconfirmedCoins(), confirmed]
      : [confirmed, this.#unconfirmedCoins()];
    for (const preferKind of [true, false]) {
      for (const pool of pools) {
        const index = pool.findIndex((coin) =>
          !this.mempool.spenderOf(outpointKey(coin.txid, coin.vout)) &&
          (!preferKind || bytesEqual(coin.script, wantScript)) &&
          this.mempool.coin(outpointKey(coin.txid, coin.vout), context.utxos) !== undefined
        );
        if (index >= 0) return pool.splice(index, 1)[0] ?? null;
      }
    }
    return null;
  }

  #spendOne(coin: SpendableCoin, tipHeight: number): ParsedTx {
    const feeRate = 1 + Math.floor(this.random() * 25);
    const share = 0.3 + this.random() * 0.4;
    const outputs = (feeSats: bigint) => {
      const net = coin.valueSats - feeSats;
      const first = BigInt(Math.floor(Number(net) * share));
      return [
        { script: this.wallet.p2wpkhScript, valueSats: first },
        { script: this.wallet.p2pkhScript, valueSats: net - first },
      ];
    };
    // Size estimate for one input and these two outputs, so each transaction is signed once.
    const isSegwit = bytesEqual(coin.script, this.wallet.p2wpkhScript);
    const vsize = isSegwit ? ESTIMATED_VSIZE_P2WPKH_SPEND : ESTIMATED_VSIZE_P2PKH_SPEND;
    return this.wallet.spend([coin], outputs(BigInt(vsize * feeRate)), tipHeight);
  }
}
