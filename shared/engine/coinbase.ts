/**
 * Per-miner coinbase halves. In solo mining every miner's coinbase pays the whole reward to the
 * miner's own script, so coinb1/coinb2 differ per payout script; the job manager caches them per
 * (template, payout script) so that per-share work is only copies and hashes.
 *
 * Layout of the coinbase scriptSig (≤ 100 bytes, consensus):
 *   <BIP34 height push> <push of extranonce1‖extranonce2> <push of the pool tag (btcsig)>
 * coinb1 ends with the extranonce push opcode; coinb2 starts with the tag push.
 */
import { encodeBip34Height, encodeCompactSize } from "../bitcoin/mod.ts";

/** Coinbase scriptSig limit from consensus (2..100 bytes). */
export const MAX_COINBASE_SCRIPTSIG_BYTES = 100;
/** Outputs below this are uneconomic to spend; an operator fee smaller than this is folded into the payout. */
export const DUST_LIMIT_SATS = 546n;

/** An extra output carved out of the reward (operator fee, when configured). */
export interface FeeOutput {
  readonly script: Uint8Array;
  /** Share of the coinbase value, percent (0–100). */
  readonly percent: number;
}

/** What a coinbase is built from. */
export interface CoinbaseSpec {
  readonly height: number;
  readonly coinbaseValueSats: bigint;
  readonly witnessCommitment: Uint8Array | null;
  /** Pool tag bytes (btcsig), at most 73. */
  readonly tag: Uint8Array;
  /** extranonce1 + extranonce2 size in bytes. */
  readonly extranonceSize: number;
  readonly payoutScript: Uint8Array;
  readonly fee: FeeOutput | null;
}

/** The two halves around the extranonce, as bytes and hex. */
export interface CoinbaseParts {
  readonly coinb1: Uint8Array;
  readonly coinb2: Uint8Array;
  readonly coinb1Hex: string;
  readonly coinb2Hex: string;
  /** Value paid to the miner's script. */
  readonly payoutSats: bigint;
  /** Value paid to the operator's script (0 when none). */
  readonly feeSats: bigint;
}

const COINBASE_VERSION = 2;

/** Builds coinb1/coinb2 for one payout script; RangeError if the scriptSig would exceed 100 bytes. */
export function buildCoinbaseParts(spec: CoinbaseSpec): CoinbaseParts {
  const heightPush = encodeBip34Height(spec.height);
  if (spec.extranonceSize < 2 || spec.extranonceSize > 75) {
    throw new RangeError("Cannot build coinbase: extranonce size must be 2..75 bytes");
  }
  if (spec.tag.length > 75) throw new RangeError("Cannot build coinbase: tag longer than 75 bytes");
  const tagPush = spec.tag.length === 0
    ? new Uint8Array()
    : concat([Uint8Array.of(spec.tag.length), spec.tag]);
  const scriptSigLength = heightPush.length + 1 + spec.extranonceSize + tagPush.length;
  if (scriptSigLength > MAX_COINBASE_SCRIPTSIG_BYTES) {
    throw new RangeError(
      `Cannot build coinbase: scriptSig would be ${scriptSigLength} bytes, over the ${MAX_COINBASE_SCRIPTSIG_BYTES}-byte limit (shorten btcsig)`,
    );
  }

  let feeSats = 0n;
  if (spec.fee !== null && spec.fee.percent > 0) {
    // Basis points keep the arithmetic in integers; percent has at most two decimals that matter.
    const basisPoints = BigInt(Math.round(spec.fee.percent * 100));
    feeSats = (spec.coinbaseValueSats * basisPoints) / 10_000n;
    if (feeSats < DUST_LIMIT_SATS) feeSats = 0n;
  }
  const payoutSats = spec.coinbaseValueSats - feeSats;
  const outputs: Uint8Array[] = [output(payoutSats, spec.payoutScript)];
  if (feeSats > 0n && spec.fee !== null) outputs.push(output(feeSats, spec.fee.script));
  if (spec.witnessCommitment !== null) outputs.push(output(0n, spec.witnessCommitment));

  const coinb1 = concat([
    u32le(COINBASE_VERSION),
    Uint8Array.of(1),
    new Uint8Array(32),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff),
    encodeCompactSize(scriptSigLength),
    heightPush,
    Uint8Array.of(spec.extranonceSize),
  ]);
  const coinb2 = concat([
    tagPush,
    Uint8Array.of(0xff, 0xff, 0xff, 0xff),
    encodeCompactSize(outputs.length),
    ...outputs,
    u32le(0),
  ]);
  return {
    coinb1,
    coinb2,
    coinb1Hex: toHex(coinb1),
    coinb2Hex: toHex(coinb2),
    payoutSats,
    feeSats,
  };
}

/**
 * The coinbase as it goes in a block that carries a witness commitment: BIP144 marker and flag,
 * and the 32-byte witness reserved value (all zero, as the commitment assumes) as its witness.
 */
export function coinbaseWithWitness(coinbaseNoWitness: Uint8Array): Uint8Array {
  const n = coinbaseNoWitness.length;
  const out = new Uint8Array(n + 2 + 34);
  out.set(coinbaseNoWitness.subarray(0, 4), 0);
  out[4] = 0x00;
  out[5] = 0x01;
  out.set(coinbaseNoWitness.subarray(4, n - 4), 6);
  // Body ends at n - 2: one witness stack item of 32 zero bytes, then the locktime.
  out[n - 2] = 0x01;
  out[n - 1] = 0x20;
  out.set(coinbaseNoWitness.subarray(n - 4), n + 32);
  return out;
}

function output(valueSats: bigint, script: Uint8Array): Uint8Array {
  const value = new Uint8Array(8);
  new DataView(value.buffer).setBigUint64(0, valueSats, true);
  return concat([value, encodeCompactSize(script.length), script]);
}

function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
