/**
 * Block validation split the way Core splits it, each step returning Core's reject reason:
 * `CheckBlock` (context-free), `ContextualCheckBlockHeader`, `ContextualCheckBlock` and
 * `ConnectBlock` (against the UTXO set).
 *
 * @module
 */
import { bytesEqual, hashToDisplayHex, leBytesToBigInt } from "./bytes.ts";
import { isCoinbaseTx, type ParsedBlock, type ParsedHeader, type ParsedTx } from "./codec.ts";
import {
  COINBASE_MATURITY,
  decodeCompact,
  MAX_BLOCK_SIGOPS_COST,
  MAX_BLOCK_WEIGHT,
  MAX_FUTURE_BLOCK_TIME_SECONDS,
  MAX_MONEY_SATS,
  REGTEST_POW_LIMIT,
  subsidyAt,
  WITNESS_SCALE_FACTOR,
} from "./consensus.ts";
import { merkleRoot, witnessCommitment } from "./merkle.ts";
import { heightPush, witnessCommitmentIndex } from "./script.ts";
import { legacySigOps, sigOpCost } from "./sigops.ts";
import { type Coin, outpointKey, type StagedCoins } from "./utxo_set.ts";
import { verifyTxScripts } from "./verify_scripts.ts";

/** Core's `CheckProofOfWork` against the regtest limit. */
export function checkProofOfWork(hash: Uint8Array, bits: number): boolean {
  const { target, negative, overflow } = decodeCompact(bits);
  if (negative || overflow || target === 0n || target > REGTEST_POW_LIMIT) return false;
  return leBytesToBigInt(hash) <= target;
}

/** Core's `CheckTransaction`. */
export function checkTransaction(tx: ParsedTx): string | null {
  if (tx.inputs.length === 0) return "bad-txns-vin-empty";
  if (tx.outputs.length === 0) return "bad-txns-vout-empty";
  if (tx.baseBytes.length * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT) return "bad-txns-oversize";
  let total = 0n;
  for (const output of tx.outputs) {
    if (output.valueSats < 0n) return "bad-txns-vout-negative";
    if (output.valueSats > MAX_MONEY_SATS) return "bad-txns-vout-toolarge";
    total += output.valueSats;
    if (total > MAX_MONEY_SATS) return "bad-txns-txouttotal-toolarge";
  }
  const seen = new Set<string>();
  for (const input of tx.inputs) {
    const key = `${input.prevTxid.join(",")}:${input.prevVout}`;
    if (seen.has(key)) return "bad-txns-inputs-duplicate";
    seen.add(key);
  }
  if (isCoinbaseTx(tx)) {
    const length = tx.inputs[0]?.scriptSig.length ?? 0;
    if (length < 2 || length > 100) return "bad-cb-length";
  } else {
    for (const input of tx.inputs) {
      if (input.prevVout === 0xffffffff && input.prevTxid.every((b) => b === 0)) {
        return "bad-txns-prevout-null";
      }
    }
  }
  return null;
}

/** Core's `CheckBlock`: proof of work, merkle root, size, coinbase placement, transactions, sigops. */
export function checkBlock(block: ParsedBlock, checkPow = true): string | null {
  if (checkPow && !checkProofOfWork(block.header.hash, block.header.bits)) return "high-hash";
  const { root, mutated } = merkleRoot(block.txs.map((tx) => tx.txidBytes));
  if (!bytesEqual(root, block.header.merkleRoot)) return "bad-txnmrklroot";
  if (mutated) return "bad-txns-duplicate";
  const strippedSize = 80 + 9 + block.txs.reduce((sum, tx) => sum + tx.baseBytes.length, 0);
  if (
    block.txs.length === 0 || block.txs.length * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT ||
    strippedSize * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
  ) return "bad-blk-length";
  const [first, ...rest] = block.txs;
  if (!first || !isCoinbaseTx(first)) return "bad-cb-missing";
  if (rest.some(isCoinbaseTx)) return "bad-cb-multiple";
  for (const tx of block.txs) {
    const reason = checkTransaction(tx);
    if (reason) return reason;
  }
  const sigops = block.txs.reduce((sum, tx) => sum + legacySigOps(tx), 0);
  if (sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST) return "bad-blk-sigops";
  return null;
}

/** What `ContextualCheckBlockHeader` needs to know about the parent and the clock. */
export interface HeaderContext {
  readonly expectedBits: number;
  readonly parentMedianTimePast: number;
  readonly nowSeconds: number;
}

/** Core's `ContextualCheckBlockHeader` on regtest (BIP34/65/66 active from height 1). */
export function contextualCheckHeader(header: ParsedHeader, context: HeaderContext): string | null {
  if (header.bits !== context.expectedBits) return "bad-diffbits";
  if (header.time <= context.parentMedianTimePast) return "time-too-old";
  if (header.time > context.nowSeconds + MAX_FUTURE_BLOCK_TIME_SECONDS) return "time-too-new";
  if (header.version < 4) {
    return `bad-version(0x${(header.version >>> 0).toString(16).padStart(8, "0")})`;
  }
  return null;
}

/** A contextual failure, and whether Core classes it as mutation (then the block is not marked invalid). */
export interface ContextualFailure {
  readonly reason: string;
  readonly mutated: boolean;
}

function isFinalTx(tx: ParsedTx, height: number, lockTimeCutoff: number): boolean {
  if (tx.locktime === 0) return true;
  if (tx.locktime < (tx.locktime < 500_000_000 ? height : lockTimeCutoff)) return true;
  return tx.inputs.every((input) => input.sequence === 0xffffffff);
}

/** Core's `ContextualCheckBlock`: finality, BIP34 height, BIP141 commitment, weight. */
export function contextualCheckBlock(
  block: ParsedBlock,
  height: number,
  parentMedianTimePast: number,
): ContextualFailure | null {
  for (const tx of block.txs) {
    if (!isFinalTx(tx, height, parentMedianTimePast)) {
      return { reason: "bad-txns-nonfinal", mutated: false };
    }
  }
  const coinbase = block.txs[0];
  const coinbaseInput = coinbase?.inputs[0];
  if (!coinbase || !coinbaseInput) return { reason: "bad-cb-missing", mutated: false };
  const expect = heightPush(height);
  if (!bytesEqual(coinbaseInput.scriptSig.subarray(0, expect.length), expect)) {
    return { reason: "bad-cb-height", mutated: false };
  }
  const commitIndex = witnessCommitmentIndex(coinbase.outputs);
  let haveWitness = false;
  if (commitIndex >= 0) {
    const nonce = coinbaseInput.witness;
    if (nonce.length !== 1 || nonce[0]?.length !== 32) {
      return { reason: "bad-witness-nonce-size", mutated: true };
    }
    const expected = witnessCommitment(block.txs.map((tx) => tx.wtxidBytes), nonce[0]);
    const script = coinbase.outputs[commitIndex]?.script ?? new Uint8Array(0);
    if (!bytesEqual(script.subarray(6, 38), expected)) {
      return { reason: "bad-witness-merkle-match", mutated: true };
    }
    haveWitness = true;
  }
  if (!haveWitness && block.txs.some((tx) => tx.hasWitness)) {
    return { reason: "unexpected-witness", mutated: true };
  }
  if (blockWeight(block) > MAX_BLOCK_WEIGHT) return { reason: "bad-blk-weight", mutated: false };
  return null;
}

/** BIP141 block weight: header and count are counted four times, each transaction by its weight. */
export function blockWeight(block: ParsedBlock): number {
  const countSize = block.txs.length < 0xfd ? 1 : block.txs.length <= 0xffff ? 3 : 5;
  return (80 + countSize) * WITNESS_SCALE_FACTOR +
    block.txs.reduce((sum, tx) => sum + tx.weight, 0);
}

/** Outcome of connecting a block to the staged UTXO view. */
export type ConnectOutcome =
  | { readonly ok: true; readonly feesSats: bigint; readonly txFeesSats: readonly bigint[] }
  | { readonly ok: false; readonly reason: string };

function isUnspendable(script: Uint8Array): boolean {
  return (script.length > 0 && script[0] === 0x6a) || script.length > 10_000;
}

/**
 * Core's `ConnectBlock`: inputs exist and are mature, values balance, sigop cost, scripts
 * (P2PKH and P2WPKH evaluated), coinbase amount. Spends and creates coins in `view`.
 */
export function connectBlock(
  block: ParsedBlock,
  height: number,
  view: StagedCoins,
): ConnectOutcome {
  let fees = 0n;
  let sigops = 0;
  let scriptFailure: string | null = null;
  const txFees: bigint[] = [];
  for (const tx of block.txs) {
    const coinbase = isCoinbaseTx(tx);
    const coins: (Coin | undefined)[] = tx.inputs.map((input) =>
      coinbase ? undefined : view.get(outpointKey(hashToDisplayHex(input.prevTxid), input.prevVout))
    );
    if (!coinbase) {
      if (coins.some((coin) => coin === undefined)) {
        return { ok: false, reason: "bad-txns-inputs-missingorspent" };
      }
      let valueIn = 0n;
      for (const coin of coins as Coin[]) {
        if (coin.coinbase && height - coin.height < COINBASE_MATURITY) {
          return { ok: false, reason: "bad-txns-premature-spend-of-coinbase" };
        }
        valueIn += coin.valueSats;
        if (valueIn > MAX_MONEY_SATS) {
          return { ok: false, reason: "bad-txns-inputvalues-outofrange" };
        }
      }
      const valueOut = tx.outputs.reduce((sum, output) => sum + output.valueSats, 0n);
      if (valueIn < valueOut) return { ok: false, reason: "bad-txns-in-belowout" };
      fees += valueIn - valueOut;
      txFees.push(valueIn - valueOut);
      if (fees > MAX_MONEY_SATS) {
        return { ok: false, reason: "bad-txns-accumulated-fee-outofrange" };
      }
    }
    sigops += sigOpCost(tx, coins);
    if (sigops > MAX_BLOCK_SIGOPS_COST) return { ok: false, reason: "bad-blk-sigops" };
    if (!coinbase && scriptFailure === null) scriptFailure = verifyTxScripts(tx, coins as Coin[]);
    if (!coinbase) {
      for (const input of tx.inputs) {
        view.spend(outpointKey(hashToDisplayHex(input.prevTxid), input.prevVout));
      }
    }
    tx.outputs.forEach((output, vout) => {
      if (isUnspendable(output.script)) return;
      view.add(outpointKey(tx.txid, vout), {
        valueSats: output.valueSats,
        script: output.script,
        height,
        coinbase,
      });
    });
  }
  const coinbaseOut = block.txs[0]?.outputs.reduce((sum, output) => sum + output.valueSats, 0n) ??
    0n;
  if (coinbaseOut > subsidyAt(height) + fees) return { ok: false, reason: "bad-cb-amount" };
  if (scriptFailure) return { ok: false, reason: scriptFailure };
  return { ok: true, feesSats: fees, txFeesSats: txFees };
}
