/**
 * Coinbase halves. In solo mining every miner's coinbase pays the whole reward to the miner's own
 * script, so coinb2 differs per payout script; the job manager builds a job's template once
 * ({@linkcode CoinbaseTemplate}) and splices each miner's script in where it is needed, so
 * per-share work is only copies and hashes.
 *
 * Layout of the coinbase scriptSig (≤ 100 bytes, consensus):
 *   <BIP34 height push> <push of extranonce1‖extranonce2> <push of the pool tag (btcsig)>
 * coinb1 ends with the extranonce push opcode; coinb2 starts with the tag push.
 */
import { bytesToHex, encodeBip34Height, encodeCompactSize } from "../bitcoin/mod.ts";

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

/**
 * A job's coinbase without its two per-miner parts, built once per job. Every miner's coinbase is
 * `coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2Head ‖ CompactSize(script length) ‖ payout script ‖
 * coinb2Tail`: coinb1 carries no payout, and the payout output comes first in coinb2 with the
 * same value for every miner, so only the script differs. Notify lines and share validation
 * splice the miner's script in; nothing per miner is stored.
 */
export interface CoinbaseTemplate {
  /** Everything before extranonce1, the same for every miner (coinb1). */
  readonly coinb1: Uint8Array;
  readonly coinb1Hex: string;
  /** coinb2 up to the payout script: tag push, sequence, output count, payout value. */
  readonly coinb2Head: Uint8Array;
  readonly coinb2HeadHex: string;
  /** coinb2 after the payout script: fee and witness commitment outputs, lock time. */
  readonly coinb2Tail: Uint8Array;
  readonly coinb2TailHex: string;
  /** Value paid to the miner's script. */
  readonly payoutSats: bigint;
  /** Value paid to the operator's script (0 when none). */
  readonly feeSats: bigint;
}

const COINBASE_VERSION = 2;

/** Builds coinb1/coinb2 for one payout script; RangeError if the scriptSig would exceed 100 bytes. */
export function buildCoinbaseParts(spec: CoinbaseSpec): CoinbaseParts {
  return coinbasePartsFor(buildCoinbaseTemplate(spec), spec.payoutScript);
}

/** The coinbase halves of one payout script on a job's template. */
export function coinbasePartsFor(
  template: CoinbaseTemplate,
  payoutScript: Uint8Array,
): CoinbaseParts {
  const coinb2 = concat([
    template.coinb2Head,
    encodeCompactSize(payoutScript.length),
    payoutScript,
    template.coinb2Tail,
  ]);
  return {
    coinb1: template.coinb1,
    coinb2,
    coinb1Hex: template.coinb1Hex,
    coinb2Hex: bytesToHex(coinb2),
    payoutSats: template.payoutSats,
    feeSats: template.feeSats,
  };
}

/**
 * Builds a job's coinbase template (everything but extranonce and payout script); RangeError if
 * the scriptSig would exceed 100 bytes or a size is out of range.
 */
export function buildCoinbaseTemplate(spec: Omit<CoinbaseSpec, "payoutScript">): CoinbaseTemplate {
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
  // The payout output comes first, so the per-miner script sits between head and tail.
  const outputsAfterPayout: Uint8Array[] = [];
  if (feeSats > 0n && spec.fee !== null) outputsAfterPayout.push(output(feeSats, spec.fee.script));
  if (spec.witnessCommitment !== null) {
    outputsAfterPayout.push(output(0n, spec.witnessCommitment));
  }

  const coinb1 = concat([
    u32le(COINBASE_VERSION),
    Uint8Array.of(1),
    new Uint8Array(32),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff),
    encodeCompactSize(scriptSigLength),
    heightPush,
    Uint8Array.of(spec.extranonceSize),
  ]);
  const coinb2Head = concat([
    tagPush,
    Uint8Array.of(0xff, 0xff, 0xff, 0xff),
    encodeCompactSize(1 + outputsAfterPayout.length),
    u64le(payoutSats),
  ]);
  const coinb2Tail = concat([...outputsAfterPayout, u32le(0)]);
  return {
    coinb1,
    coinb1Hex: bytesToHex(coinb1),
    coinb2Head,
    coinb2HeadHex: bytesToHex(coinb2Head),
    coinb2Tail,
    coinb2TailHex: bytesToHex(coinb2Tail),
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
  return concat([u64le(valueSats), encodeCompactSize(script.length), script]);
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
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
