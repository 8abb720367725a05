/**
 * The unspent output set of the active chain, with per-block undo records so reorgs can
 * disconnect blocks.
 *
 * @module
 */

/** An unspent output. */
export interface Coin {
  readonly valueSats: bigint;
  readonly script: Uint8Array;
  /** Height of the block that created it. */
  readonly height: number;
  readonly coinbase: boolean;
}

/** What connecting one block changed, enough to undo it. */
export interface BlockUndo {
  /** Coins the block spent, with their previous state. */
  readonly spent: ReadonlyArray<readonly [string, Coin]>;
  /** Outpoint keys the block created. */
  readonly created: readonly string[];
}

/** Key of an outpoint: display-order txid and output index. */
export function outpointKey(txid: string, vout: number): string {
  return `${txid}:${vout}`;
}

/** Read access to coins. */
export interface CoinView {
  /** The coin at an outpoint, if unspent. */
  get(key: string): Coin | undefined;
}

/** The UTXO set. Only the chain state owner mutates it, via {@link UtxoSet.commit} and {@link UtxoSet.undo}. */
export class UtxoSet implements CoinView {
  #coins = new Map<string, Coin>();

  /** The coin at an outpoint, if unspent. */
  get(key: string): Coin | undefined {
    return this.#coins.get(key);
  }

  /** Number of unspent outputs. */
  get size(): number {
    return this.#coins.size;
  }

  /** All unspent outputs. */
  entries(): IterableIterator<[string, Coin]> {
    return this.#coins.entries();
  }

  /** Applies a staged block's changes. */
  commit(staged: StagedCoins): BlockUndo {
    for (const [key] of staged.spent) this.#coins.delete(key);
    for (const [key, coin] of staged.added) this.#coins.set(key, coin);
    return { spent: [...staged.spent], created: [...staged.added.keys()] };
  }

  /** Reverts a block's changes. */
  undo(record: BlockUndo): void {
    for (const key of record.created) this.#coins.delete(key);
    for (const [key, coin] of record.spent) this.#coins.set(key, coin);
  }
}

/** Changes staged on top of a view while a block is checked; committed only if it is valid. */
export class StagedCoins implements CoinView {
  /** Coins spent from the base view (not ones added and spent within the block). */
  readonly spent: Array<[string, Coin]> = [];
  /** Coins added and still unspent. */
  readonly added = new Map<string, Coin>();
  #spentKeys = new Set<string>();

  /** Stages on top of a base view. */
  constructor(readonly base: CoinView) {}

  /** The coin at an outpoint as seen through the staged changes. */
  get(key: string): Coin | undefined {
    const added = this.added.get(key);
    if (added) return added;
    if (this.#spentKeys.has(key)) return undefined;
    return this.base.get(key);
  }

  /** Marks a coin spent; returns it, or undefined when it is missing or already spent. */
  spend(key: string): Coin | undefined {
    const added = this.added.get(key);
    if (added) {
      this.added.delete(key);
      return added;
    }
    if (this.#spentKeys.has(key)) return undefined;
    const coin = this.base.get(key);
    if (!coin) return undefined;
    this.#spentKeys.add(key);
    this.spent.push([key, coin]);
    return coin;
  }

  /** Adds a new coin. */
  add(key: string, coin: Coin): void {
    this.added.set(key, coin);
  }
}
