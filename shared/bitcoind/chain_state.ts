/**
 * What getblockchaininfo means across full-node implementations: chain names mapped to Bitcoin
 * Core's, and "initial block download" derived when a node does not say it.
 *
 * btcd (btcjson `GetBlockChainInfoResult`) tags `initialblockdownload` and `verificationprogress`
 * `omitempty` and never sets them, reports `headers` equal to `blocks`, has no `time`, and names
 * its chains `mainnet`, `testnet3`, `testnet4`, `regtest`, `signet`, `simnet`. Bitcoin Core (0.21
 * on) and Knots send `initialblockdownload` themselves.
 *
 * @module
 */

/** Chain names other implementations use, mapped to Bitcoin Core's. */
const CHAIN_ALIASES: Readonly<Record<string, string>> = {
  mainnet: "main",
  testnet3: "test",
};

/**
 * Bitcoin Core's name for a chain (`main`, `test`, `testnet4`, `signet`, `regtest`); names Core
 * does not alias pass through unchanged (`simnet` stays, and fails later as an unknown network).
 */
export function normaliseChainName(chain: string): string {
  return CHAIN_ALIASES[chain] ?? chain;
}

/** Beyond this many headers ahead of its blocks, a node is still downloading. */
export const MAX_HEADERS_AHEAD = 2;
/** Below this verification progress a node is still syncing (a synced Core shows 0.99999…). */
export const MIN_VERIFICATION_PROGRESS = 0.9999;
/** A tip older than this means a syncing node: Core's and btcd's own rule (24 h, max tip age). */
export const MAX_TIP_AGE_S = 24 * 60 * 60;

/** The getblockchaininfo facts the derivation uses. */
export interface SyncFacts {
  readonly blocks: number;
  readonly headers: number;
  readonly verificationprogress: number | undefined;
  /** The tip's timestamp (`time`), or failing that the median time past (`mediantime`), s. */
  readonly tipTimeS: number | undefined;
  /** Now, seconds since the epoch. */
  readonly nowS: number;
}

/**
 * Whether a node that does not report `initialblockdownload` is still syncing, and why.
 *
 * @returns `syncing` and, when syncing, the first rule that said so
 */
export function deriveInitialBlockDownload(
  facts: SyncFacts,
): { readonly syncing: boolean; readonly why: string | undefined } {
  if (facts.headers - facts.blocks > MAX_HEADERS_AHEAD) {
    return { syncing: true, why: `${facts.headers - facts.blocks} headers ahead of blocks` };
  }
  if (
    facts.verificationprogress !== undefined &&
    facts.verificationprogress < MIN_VERIFICATION_PROGRESS
  ) {
    return { syncing: true, why: `verification progress ${facts.verificationprogress}` };
  }
  if (facts.tipTimeS !== undefined && facts.nowS - facts.tipTimeS > MAX_TIP_AGE_S) {
    const hours = Math.floor((facts.nowS - facts.tipTimeS) / 3600);
    return { syncing: true, why: `tip is ${hours} h old` };
  }
  return { syncing: false, why: undefined };
}
