/**
 * Signature-operation cost as Core's `GetTransactionSigOpCost` computes it (legacy, P2SH and
 * witness sigops), used by block validation and by getblocktemplate's `sigops` field.
 *
 * @module
 */
import { isCoinbaseTx, type ParsedTx } from "./codec.ts";
import { WITNESS_SCALE_FACTOR } from "./consensus.ts";
import { classifyOutput, countSigOps, lastPush, OutputKind, witnessProgram } from "./script.ts";
import type { Coin } from "./utxo_set.ts";

/** Core's `GetLegacySigOpCount`: inaccurate count over input scriptSigs and output scripts. */
export function legacySigOps(tx: ParsedTx): number {
  let count = 0;
  for (const input of tx.inputs) count += countSigOps(input.scriptSig, false);
  for (const output of tx.outputs) count += countSigOps(output.script, false);
  return count;
}

function witnessSigOps(program: { version: number; program: Uint8Array }, witness: Uint8Array[]) {
  if (program.version !== 0) return 0;
  if (program.program.length === 20) return 1;
  const last = witness[witness.length - 1];
  if (program.program.length === 32 && last) return countSigOps(last, true);
  return 0;
}

/** Core's `GetTransactionSigOpCost` with P2SH and witness flags on; `coins` are the spent outputs. */
export function sigOpCost(tx: ParsedTx, coins: readonly (Coin | undefined)[]): number {
  let cost = legacySigOps(tx) * WITNESS_SCALE_FACTOR;
  if (isCoinbaseTx(tx)) return cost;
  tx.inputs.forEach((input, index) => {
    const coin = coins[index];
    if (!coin) return;
    if (classifyOutput(coin.script) === OutputKind.P2SH) {
      const redeem = lastPush(input.scriptSig);
      if (redeem) {
        cost += countSigOps(redeem, true) * WITNESS_SCALE_FACTOR;
        const nested = witnessProgram(redeem);
        if (nested) cost += witnessSigOps(nested, input.witness);
      }
      return;
    }
    const program = witnessProgram(coin.script);
    if (program) cost += witnessSigOps(program, input.witness);
  });
  return cost;
}
