/**
 * The devnet node: chain state, mempool and wallet wired together. It accepts blocks, keeps
 * the mempool topped up after every tip change, mines its own blocks and tells listeners
 * (the ZMQ publisher) about new tips.
 *
 * @module
 */
import { fromHex } from "./bytes.ts";
import { type BlockEntry, ChainState } from "./chain.ts";
import { isCoinbaseTx, type ParsedTx } from "./codec.ts";
import { regtestGenesis } from "./genesis.ts";
import { mineTemplate } from "./internal_miner.ts";
import { Mempool } from "./mempool.ts";
import { MempoolFiller, seededRandom } from "./mempool_filler.ts";
import { processBlock, type ProcessResult, proposeBlock } from "./block_processor.ts";
import { type BlockTemplate, buildTemplate } from "./template.ts";
import { Wallet } from "./wallet.ts";

/** Settings of a node. */
export interface DevnetNodeOptions {
  /** Compact bits for blocks above the initial chain. */
  readonly bits: number;
  /** Mempool size the node keeps up. */
  readonly mempoolTarget: number;
  /** Wall clock in milliseconds since the epoch. */
  readonly clock: () => number;
  /** Blocks mined at start (regtest limit bits, times in the recent past). */
  readonly initialChainLength: number;
  /** Seed of the wallet key. */
  readonly walletSeed: string;
  /** Seed of fee rates and output splits. */
  readonly randomSeed: number;
}

/** Called after the active tip changed. */
export type TipListener = (tip: BlockEntry) => void;

/** Largest nonce count generatetoaddress tries per call by default (Core's DEFAULT_MAX_TRIES). */
export const DEFAULT_MAX_TRIES = 1_000_000;

/** Chain + mempool + wallet. All mutation of chain and mempool goes through this object. */
export class DevnetNode {
  readonly chain: ChainState;
  readonly mempool = new Mempool();
  readonly wallet: Wallet;
  /** Reported by getblockchaininfo; while true, getblocktemplate fails and ZMQ stays quiet, as in Core. */
  initialBlockDownload = false;
  /** No peers: getblocktemplate fails with -9 (Core checks this only off test chains). */
  notConnected = false;
  /** Weight and tx count of the last template (getmininginfo's currentblockweight/currentblocktx). */
  lastTemplate: { weight: number; txCount: number } | null = null;
  readonly #options: DevnetNodeOptions;
  readonly #filler: MempoolFiller;
  readonly #listeners = new Set<TipListener>();
  #extranonce = 0;
  #stopped = false;
  /** Off while the initial chain is mined, so it is mined without transactions (faster start). */
  #fillMempool = false;

  private constructor(options: DevnetNodeOptions) {
    this.#options = options;
    this.chain = new ChainState(regtestGenesis(), options.bits, options.initialChainLength);
    this.wallet = new Wallet(options.walletSeed);
    this.#filler = new MempoolFiller(this.wallet, this.mempool, seededRandom(options.randomSeed));
  }

  /** Creates a node, mines the initial chain to the wallet and fills the mempool. */
  static async create(options: DevnetNodeOptions): Promise<DevnetNode> {
    const node = new DevnetNode(options);
    const length = options.initialChainLength;
    for (let height = 1; height <= length; height++) {
      const template = node.template();
      const payout = height % 2 === 0 ? node.wallet.p2pkhScript : node.wallet.p2wpkhScript;
      const time = Math.max(template.mintime, node.nowSeconds() - (length - height) - 1);
      const hashes = await node.#mineOne(template, payout, DEFAULT_MAX_TRIES, time);
      if (!hashes) throw new Error(`Cannot mine initial block ${height}: no nonce found`);
    }
    node.#fillMempool = true;
    node.#refill();
    return node;
  }

  /** Whether {@link DevnetNode.markStopped} was called. */
  get isStopped(): boolean {
    return this.#stopped;
  }

  /** Ends mining loops and long polls; the node answers nothing new after this. */
  markStopped(): void {
    this.#stopped = true;
  }

  /** Wall-clock seconds from the injected clock. */
  nowSeconds(): number {
    return Math.floor(this.#options.clock() / 1000);
  }

  /** Subscribes to tip changes; returns an unsubscribe function. */
  onTipChanged(listener: TipListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The template for the next block. */
  template(): BlockTemplate {
    const template = buildTemplate(this.chain, this.mempool, this.nowSeconds());
    this.lastTemplate = {
      weight: 4000 + template.transactions.reduce((sum, tx) => sum + tx.weight, 0),
      txCount: template.transactions.length,
    };
    return template;
  }

  /** submitblock: validates, stores and maybe activates a block; returns the BIP22 result. */
  submitBlock(hex: string): ProcessResult {
    let bytes: Uint8Array;
    try {
      bytes = fromHex(hex);
    } catch {
      bytes = new Uint8Array(0);
    }
    const processed = processBlock(this.chain, bytes, this.nowSeconds());
    if (processed.activated && processed.activated.connected.length > 0) {
      this.#afterTipChange(processed.activated.disconnected);
    }
    return processed;
  }

  /** getblocktemplate "proposal": validity of a block on the tip without storing it. */
  proposeBlock(hex: string): string | null {
    let bytes: Uint8Array;
    try {
      bytes = fromHex(hex);
    } catch {
      bytes = new Uint8Array(0);
    }
    return proposeBlock(this.chain, bytes, this.nowSeconds());
  }

  /**
   * Mines `count` blocks paying `payoutScript` with mempool transactions; returns their hashes.
   * Stops early (like Core) when `maxTries` nonces did not find a block.
   */
  async mineBlocks(
    count: number,
    payoutScript: Uint8Array,
    maxTries = DEFAULT_MAX_TRIES,
  ): Promise<string[]> {
    const hashes: string[] = [];
    let triesLeft = maxTries;
    while (hashes.length < count && triesLeft > 0 && !this.#stopped) {
      const template = this.template();
      const mined = await this.#mineOne(template, payoutScript, triesLeft);
      if (!mined) break;
      triesLeft -= mined.tries;
      if (mined.hashHex) hashes.push(mined.hashHex);
    }
    return hashes;
  }

  async #mineOne(
    template: BlockTemplate,
    payoutScript: Uint8Array,
    maxTries: number,
    time?: number,
  ): Promise<{ hashHex: string | null; tries: number } | null> {
    const solved = await mineTemplate(template, {
      payoutScript,
      tag: "/tbg-devnet/",
      extranonce: this.#extranonce++,
      maxTries,
      stillWanted: () => !this.#stopped && this.chain.tip.hashHex === template.previousblockhash,
      ...(time === undefined ? {} : { time }),
    });
    if (!solved) {
      return this.chain.tip.hashHex === template.previousblockhash
        ? null
        : { hashHex: null, tries: 0 };
    }
    const { result } = this.submitBlock(solved.hex);
    if (result !== null) {
      if (this.chain.tip.hashHex !== template.previousblockhash) {
        return { hashHex: null, tries: solved.tries };
      }
      throw new Error(`Cannot mine block: own block rejected with ${result}`);
    }
    return { hashHex: solved.hashHex, tries: solved.tries };
  }

  #afterTipChange(disconnected: readonly BlockEntry[]): void {
    const resurrected: ParsedTx[] = [];
    for (const entry of [...disconnected].reverse()) {
      for (const tx of entry.block.txs) if (!isCoinbaseTx(tx)) resurrected.push(tx);
    }
    this.mempool.resync(this.#mempoolContext(), resurrected);
    this.#refill();
    const tip = this.chain.tip;
    for (const listener of this.#listeners) listener(tip);
  }

  #mempoolContext() {
    return {
      utxos: this.chain.utxos,
      utxoSet: this.chain.utxos,
      tipHeight: this.chain.height,
      nowSeconds: this.nowSeconds(),
    };
  }

  #refill(): void {
    if (!this.#fillMempool) return;
    this.#filler.refill(this.#mempoolContext(), this.#options.mempoolTarget);
  }
}
