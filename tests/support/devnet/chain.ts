/**
 * Block index and active chain: every stored block (side chains too) with its chain work, the
 * active chain by height, the UTXO set of the active tip, and reorganisation to a block with
 * more work. Only {@link ChainState} mutates these; readers get read-only views.
 *
 * @module
 */
import type { ParsedBlock } from "./codec.ts";
import {
  bitsToTarget,
  MEDIAN_TIME_SPAN,
  REGTEST_POW_LIMIT_BITS,
  targetToWork,
} from "./consensus.ts";
import { type BlockUndo, StagedCoins, UtxoSet } from "./utxo_set.ts";
import { connectBlock } from "./validate_block.ts";

/** A stored block. */
export interface BlockEntry {
  readonly hashHex: string;
  readonly block: ParsedBlock;
  /** Serialization as stored (after Core's coinbase witness nonce fill-in). */
  readonly bytes: Uint8Array;
  readonly height: number;
  readonly chainWork: bigint;
  readonly parent: BlockEntry | null;
  /** Arrival order; with equal work the earlier block stays tip, like Core. */
  readonly sequence: number;
  /** Set when the block failed validation when connected (or descends from such a block). */
  invalid: boolean;
  /** Undo record while connected on the active chain. */
  undo: BlockUndo | null;
  /** Fees per non-coinbase transaction, known once the block has been connected. */
  txFeesSats: readonly bigint[] | null;
}

/** Result of trying to make a block the tip. */
export type ActivateOutcome =
  | {
    readonly ok: true;
    readonly disconnected: readonly BlockEntry[];
    readonly connected: readonly BlockEntry[];
  }
  | { readonly ok: false; readonly reason: string; readonly failed: BlockEntry };

/** Chain state owner. */
export class ChainState {
  readonly #blocks = new Map<string, BlockEntry>();
  readonly #active: BlockEntry[] = [];
  readonly #utxos = new UtxoSet();
  readonly #initialChainLength: number;
  readonly #bits: number;
  #sequence = 0;

  /**
   * Starts a chain at genesis.
   *
   * @param genesis the parsed genesis block and its bytes
   * @param bits compact bits expected for blocks above `initialChainLength`
   * @param initialChainLength blocks up to this height use the regtest limit bits
   */
  constructor(
    genesis: { block: ParsedBlock; bytes: Uint8Array },
    bits: number,
    initialChainLength: number,
  ) {
    this.#bits = bits;
    this.#initialChainLength = initialChainLength;
    const entry: BlockEntry = {
      hashHex: genesis.block.header.hashHex,
      block: genesis.block,
      bytes: genesis.bytes,
      height: 0,
      chainWork: targetToWork(bitsToTarget(genesis.block.header.bits)),
      parent: null,
      sequence: this.#sequence++,
      invalid: false,
      undo: null,
      txFeesSats: [],
    };
    // Core never adds the genesis coinbase to the UTXO set; neither do we.
    this.#blocks.set(entry.hashHex, entry);
    this.#active.push(entry);
  }

  /** The active tip. */
  get tip(): BlockEntry {
    return this.#active[this.#active.length - 1] as BlockEntry;
  }

  /** Height of the active tip. */
  get height(): number {
    return this.#active.length - 1;
  }

  /** The UTXO set of the active tip (read only for callers). */
  get utxos(): UtxoSet {
    return this.#utxos;
  }

  /** A stored block by display-order hash. */
  get(hashHex: string): BlockEntry | undefined {
    return this.#blocks.get(hashHex);
  }

  /** All stored blocks. */
  all(): IterableIterator<BlockEntry> {
    return this.#blocks.values();
  }

  /** The active-chain block at a height. */
  atHeight(height: number): BlockEntry | undefined {
    return this.#active[height];
  }

  /** Whether a block is on the active chain. */
  isActive(entry: BlockEntry): boolean {
    return this.#active[entry.height] === entry;
  }

  /** Median of the times of this block and up to ten ancestors (Core's GetMedianTimePast). */
  medianTimePast(entry: BlockEntry): number {
    const times: number[] = [];
    let cursor: BlockEntry | null = entry;
    while (cursor && times.length < MEDIAN_TIME_SPAN) {
      times.push(cursor.block.header.time);
      cursor = cursor.parent;
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] as number;
  }

  /** Compact bits a child of `parent` must carry. */
  expectedBits(parent: BlockEntry): number {
    return parent.height + 1 > this.#initialChainLength ? this.#bits : REGTEST_POW_LIMIT_BITS;
  }

  /** Stores a block that passed the header and contextual checks; does not connect it. */
  store(block: ParsedBlock, bytes: Uint8Array, parent: BlockEntry): BlockEntry {
    const entry: BlockEntry = {
      hashHex: block.header.hashHex,
      block,
      bytes,
      height: parent.height + 1,
      chainWork: parent.chainWork + targetToWork(bitsToTarget(block.header.bits)),
      parent,
      sequence: this.#sequence++,
      invalid: false,
      undo: null,
      txFeesSats: null,
    };
    this.#blocks.set(entry.hashHex, entry);
    return entry;
  }

  /** Records a block that failed contextual checks so a resubmission answers "duplicate". */
  storeInvalid(block: ParsedBlock, bytes: Uint8Array, parent: BlockEntry): BlockEntry {
    const entry = this.store(block, bytes, parent);
    entry.invalid = true;
    return entry;
  }

  /** Most-work valid stored header (for getblockchaininfo's `headers`). */
  bestHeader(): BlockEntry {
    let best = this.tip;
    for (const entry of this.#blocks.values()) {
      if (!entry.invalid && entry.chainWork > best.chainWork) best = entry;
    }
    return best;
  }

  /**
   * Makes `candidate` the tip when it has more work than the current tip, disconnecting and
   * connecting blocks as needed. On a connect failure the failing block (and its descendants on
   * the way) are marked invalid and the previous chain is restored.
   */
  activate(candidate: BlockEntry): ActivateOutcome {
    if (candidate.chainWork <= this.tip.chainWork) {
      return { ok: true, disconnected: [], connected: [] };
    }
    const path: BlockEntry[] = [];
    let fork: BlockEntry | null = candidate;
    while (fork && !this.isActive(fork)) {
      path.push(fork);
      fork = fork.parent;
    }
    if (!fork) throw new Error("Cannot activate block: no common ancestor with genesis");
    path.reverse();
    const disconnected: BlockEntry[] = [];
    while (this.tip !== fork) disconnected.push(this.#disconnectTip());
    const connected: BlockEntry[] = [];
    for (const entry of path) {
      const reason = entry.invalid ? "bad-prevblk" : this.#connect(entry);
      if (reason !== null) {
        for (const later of path.slice(path.indexOf(entry))) later.invalid = true;
        while (this.tip !== fork) this.#disconnectTip();
        for (const restore of [...disconnected].reverse()) {
          const again = this.#connect(restore);
          if (again !== null) throw new Error(`Cannot restore chain: ${again}`);
        }
        return { ok: false, reason, failed: entry };
      }
      connected.push(entry);
    }
    return { ok: true, disconnected, connected };
  }

  #connect(entry: BlockEntry): string | null {
    const staged = new StagedCoins(this.#utxos);
    const outcome = connectBlock(entry.block, entry.height, staged);
    if (!outcome.ok) return outcome.reason;
    entry.undo = this.#utxos.commit(staged);
    entry.txFeesSats = outcome.txFeesSats;
    this.#active.push(entry);
    return null;
  }

  #disconnectTip(): BlockEntry {
    const entry = this.#active.pop();
    if (!entry || !entry.undo) throw new Error("Cannot disconnect tip: no undo data");
    this.#utxos.undo(entry.undo);
    entry.undo = null;
    return entry;
  }
}
