/**
 * Signature checks for the spends the devnet can verify: P2PKH and P2WPKH. Other output types
 * are not evaluated (the devnet's own wallet only spends these two).
 *
 * @module
 */
import { script as bscript, Transaction } from "bitcoinjs-lib";
import { bytesEqual, hash160 } from "./bytes.ts";
import type { ParsedTx } from "./codec.ts";
import { classifyOutput, OutputKind, p2pkhScript, parseScript } from "./script.ts";
import { secp } from "./secp.ts";
import type { Coin } from "./utxo_set.ts";

/** Core's ScriptErrorString texts for the failures this module reports. */
const ScriptError = {
  EVAL_FALSE: "Script evaluated without error but finished with a false/empty top stack element",
  EQUALVERIFY: "Script failed an OP_EQUALVERIFY operation",
  SIG_DER: "Non-canonical DER signature",
  WITNESS_MISMATCH: "Witness program hash mismatch",
  WITNESS_EMPTY: "Witness program was passed an empty witness",
  WITNESS_MALLEATED: "Witness requires empty scriptSig",
  WITNESS_UNEXPECTED: "Witness provided for non-witness script",
  INVALID_STACK: "Operation not valid with the current stack size",
} as const;

/** Largest number of wtxids the verified-script cache keeps. */
const SCRIPT_CACHE_SIZE = 50_000;

/**
 * wtxids whose inputs already passed verification, like Core's script execution cache: a
 * wtxid fixes the transaction and its outpoints, and an outpoint fixes the spent coin.
 */
const verifiedWtxids = new Set<string>();

/**
 * Verifies every input of a transaction whose spent output is P2PKH or P2WPKH.
 *
 * @returns null when valid, else Core's reject reason for a block containing it.
 */
export function verifyTxScripts(tx: ParsedTx, coins: readonly Coin[]): string | null {
  if (verifiedWtxids.has(tx.wtxid)) return null;
  const failure = verifyUncached(tx, coins);
  if (failure === null) {
    if (verifiedWtxids.size >= SCRIPT_CACHE_SIZE) verifiedWtxids.clear();
    verifiedWtxids.add(tx.wtxid);
  }
  return failure;
}

function verifyUncached(tx: ParsedTx, coins: readonly Coin[]): string | null {
  let btx: Transaction | null = null;
  for (let index = 0; index < tx.inputs.length; index++) {
    const input = tx.inputs[index];
    const coin = coins[index];
    if (!input || !coin) continue;
    const kind = classifyOutput(coin.script);
    if (kind !== OutputKind.P2PKH && kind !== OutputKind.P2WPKH) continue;
    btx ??= Transaction.fromBuffer(tx.fullBytes);
    const error = kind === OutputKind.P2PKH
      ? verifyP2pkh(btx, index, input.scriptSig, input.witness, coin.script)
      : verifyP2wpkh(btx, index, input.scriptSig, input.witness, coin);
    if (error) return `mandatory-script-verify-flag-failed (${error})`;
  }
  return null;
}

function verifyP2pkh(
  tx: Transaction,
  index: number,
  scriptSig: Uint8Array,
  witness: Uint8Array[],
  prevScript: Uint8Array,
): string | null {
  const ops = parseScript(scriptSig);
  const sig = ops?.[0]?.data;
  const pubkey = ops?.[1]?.data;
  if (!ops || ops.length !== 2 || !sig || !pubkey) return ScriptError.INVALID_STACK;
  if (!bytesEqual(hash160(pubkey), prevScript.subarray(3, 23))) return ScriptError.EQUALVERIFY;
  const checked = checkSignature(
    sig,
    pubkey,
    (hashType) => tx.hashForSignature(index, prevScript, hashType),
  );
  if (checked) return checked;
  if (witness.length > 0) return ScriptError.WITNESS_UNEXPECTED;
  return null;
}

function verifyP2wpkh(
  tx: Transaction,
  index: number,
  scriptSig: Uint8Array,
  witness: Uint8Array[],
  coin: Coin,
): string | null {
  if (scriptSig.length > 0) return ScriptError.WITNESS_MALLEATED;
  if (witness.length === 0) return ScriptError.WITNESS_EMPTY;
  const [sig, pubkey] = witness;
  if (witness.length !== 2 || !sig || !pubkey) return ScriptError.WITNESS_MISMATCH;
  const program = coin.script.subarray(2);
  if (!bytesEqual(hash160(pubkey), program)) return ScriptError.EQUALVERIFY;
  return checkSignature(
    sig,
    pubkey,
    (hashType) => tx.hashForWitnessV0(index, p2pkhScript(program), coin.valueSats, hashType),
  );
}

function checkSignature(
  sigWithType: Uint8Array,
  pubkey: Uint8Array,
  sighash: (hashType: number) => Uint8Array,
): string | null {
  if (sigWithType.length === 0) return ScriptError.EVAL_FALSE;
  let decoded: { signature: Uint8Array; hashType: number };
  try {
    decoded = bscript.signature.decode(sigWithType);
  } catch {
    return ScriptError.SIG_DER;
  }
  try {
    const ok = secp.verify(decoded.signature, sighash(decoded.hashType), pubkey, {
      prehash: false,
      lowS: false,
    });
    return ok ? null : ScriptError.EVAL_FALSE;
  } catch {
    return ScriptError.EVAL_FALSE;
  }
}
