/**
 * Mines blocks inside the devnet (initial chain, generatetoaddress, competing blocks): a
 * template, a coinbase built by the support miner's assembly code, and nonce grinding in
 * chunks that yield to the event loop so RPC stays responsive on harder bits.
 *
 * @module
 */
import { grindNonce, MAX_NONCE } from "../miner/grind.ts";
import { blockFromTemplate, headerBytes } from "../miner/block_assembly.ts";
import type { BlockTemplate } from "./template.ts";
import { u32le } from "./bytes.ts";

/** Nonces tried between two yields to the event loop. */
const GRIND_CHUNK = 20_000;

/** A solved block. */
export interface SolvedBlock {
  readonly hex: string;
  readonly hashHex: string;
  /** Nonces tried. */
  readonly tries: number;
}

/** How to mine one block. */
export interface MineOptions {
  readonly payoutScript: Uint8Array;
  readonly tag: string;
  /** Distinguishes coinbases of blocks mined by the same node. */
  readonly extranonce: number;
  /** Header time; defaults to the template's curtime. */
  readonly time?: number;
  /** Upper bound on nonces tried (Core's maxtries). */
  readonly maxTries: number;
  /** Whether the block is still worth finishing (e.g. the tip has not moved). */
  readonly stillWanted: () => boolean;
}

/** Grinds a block for the template; null when maxTries runs out or the work is no longer wanted. */
export async function mineTemplate(
  template: BlockTemplate,
  options: MineOptions,
): Promise<SolvedBlock | null> {
  let tries = 0;
  for (let roll = 0; tries < options.maxTries; roll++) {
    const built = blockFromTemplate(template, {
      payoutScript: options.payoutScript,
      extranonce: new Uint8Array([...u32le(options.extranonce), ...u32le(roll)]),
      tag: options.tag,
    });
    built.block.timestamp = options.time ?? template.curtime;
    const header = headerBytes(built.block);
    for (let start = 0; start <= MAX_NONCE && tries < options.maxTries; start += GRIND_CHUNK) {
      const count = Math.min(GRIND_CHUNK, options.maxTries - tries);
      const nonce = grindNonce(header, built.target, start, count);
      tries += count;
      if (nonce !== null) {
        built.block.nonce = nonce;
        return { hex: built.block.toHex(), hashHex: built.block.getId(), tries };
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (!options.stillWanted()) return null;
    }
  }
  return null;
}
