/**
 * A block template normalised from getblocktemplate (BIP22/23/145, rules ["segwit"]) as Bitcoin
 * Core, Knots and btcd answer it. Everything the job manager needs per template is computed here
 * once: decoded transactions, the shared merkle branch, the network target from `bits` (never
 * clamped), the witness commitment.
 *
 * Leniency for other nodes: btcd writes `bits` without zero padding and sends no `rules`; a
 * transaction without `hash` (wtxid) gets it computed from its data. When the node sends no
 * `default_witness_commitment` but some transaction has a witness, the commitment is computed
 * (BIP141): a block with witness data and no commitment is invalid.
 */
import {
  bitsToTarget,
  hexToBytes,
  merkleBranchForCoinbase,
  reverseBytes,
  sha256d,
  witnessCommitmentScript,
} from "../bitcoin/mod.ts";

/** A transaction of the template, in the byte orders the block needs. */
export interface TemplateTransaction {
  /** Serialized transaction (with witness when it has one). */
  readonly data: Uint8Array;
  /** txid, internal byte order. */
  readonly txid: Uint8Array;
  /** wtxid, internal byte order. */
  readonly wtxid: Uint8Array;
  readonly feeSats: bigint;
  readonly weight: number;
}

/** A normalised block template. */
export interface BlockTemplate {
  readonly height: number;
  /** Previous block hash, internal byte order. */
  readonly prevHash: Uint8Array;
  /** Previous block hash, display hex (as RPCs and explorers show it). */
  readonly prevHashHex: string;
  readonly version: number;
  readonly bits: number;
  /** Network target from `bits`. */
  readonly target: bigint;
  readonly curtime: number;
  readonly mintime: number;
  readonly coinbaseValueSats: bigint;
  readonly transactions: readonly TemplateTransaction[];
  /** Stratum merkle branch (internal order) for the coinbase at index 0. */
  readonly merkleBranch: readonly Uint8Array[];
  /** The witness commitment output script, or null when the template has none. */
  readonly witnessCommitment: Uint8Array | null;
  /** The pool computed the commitment (the node sent none but the template has witness data). */
  readonly witnessCommitmentDerived?: boolean;
  readonly rules: readonly string[];
  readonly longPollId: string | null;
  /** Local time the template was received, ms (for freshness and latency). */
  readonly receivedAtMs: number;
}

/** Largest template JSON accepted from any source (validation matrix: 1 MB for relays; blocks can be 4 MB). */
export const MAX_TEMPLATE_TRANSACTIONS = 20_000;

/** Builds a BlockTemplate from a getblocktemplate result; TypeError names the bad field. */
export function templateFromGbt(gbt: unknown, receivedAtMs: number): BlockTemplate {
  if (typeof gbt !== "object" || gbt === null) {
    throw new TypeError("Cannot read template: not an object");
  }
  const g = gbt as Record<string, unknown>;
  const height = integer(g, "height", 0, 0x7fffffff);
  const version = integer(g, "version", -0x80000000, 0xffffffff) >>> 0;
  const curtime = integer(g, "curtime", 0, 0xffffffff);
  const mintime = g.mintime === undefined ? 0 : integer(g, "mintime", 0, 0xffffffff);
  // btcd formats bits with %x (no zero padding); Core with %08x.
  const bitsHex = shortHexField(g, "bits", 8);
  const bits = parseInt(bitsHex, 16) >>> 0;
  const prevHashHex = hexField(g, "previousblockhash", 64).toLowerCase();
  const coinbaseValue = g.coinbasevalue;
  if (
    typeof coinbaseValue !== "number" || !Number.isSafeInteger(coinbaseValue) || coinbaseValue < 0
  ) {
    throw new TypeError("Cannot read template: coinbasevalue must be a non-negative integer");
  }
  const rules = Array.isArray(g.rules)
    ? g.rules.filter((r): r is string => typeof r === "string")
    : [];
  const rawTxs = g.transactions;
  if (!Array.isArray(rawTxs)) {
    throw new TypeError("Cannot read template: transactions must be an array");
  }
  if (rawTxs.length > MAX_TEMPLATE_TRANSACTIONS) {
    throw new TypeError(
      `Cannot read template: more than ${MAX_TEMPLATE_TRANSACTIONS} transactions`,
    );
  }
  const transactions = rawTxs.map((t, i) => transaction(t, i));
  const dwc = g.default_witness_commitment;
  let witnessCommitment: Uint8Array | null = null;
  if (dwc !== undefined) {
    if (typeof dwc !== "string" || !/^6a24aa21a9ed[0-9a-fA-F]{64}$/.test(dwc)) {
      throw new TypeError(
        "Cannot read template: default_witness_commitment is not a witness commitment script",
      );
    }
    witnessCommitment = hexToBytes(dwc);
  }
  const witnessCommitmentDerived = witnessCommitment === null &&
    transactions.some((t) => !sameBytes(t.txid, t.wtxid));
  if (witnessCommitmentDerived) {
    witnessCommitment = witnessCommitmentScript(transactions.map((t) => t.wtxid));
  }
  return {
    height,
    prevHash: reverseBytes(hexToBytes(prevHashHex)),
    prevHashHex,
    version,
    bits,
    target: bitsToTarget(bits),
    curtime,
    mintime,
    coinbaseValueSats: BigInt(coinbaseValue),
    transactions,
    merkleBranch: merkleBranchForCoinbase(transactions.map((t) => t.txid)),
    witnessCommitment,
    // Only when set, so templates decoded from the relay wire compare equal to parsed ones.
    ...(witnessCommitmentDerived ? { witnessCommitmentDerived: true } : {}),
    rules,
    longPollId: typeof g.longpollid === "string" ? g.longpollid : null,
    receivedAtMs,
  };
}

function transaction(raw: unknown, index: number): TemplateTransaction {
  if (typeof raw !== "object" || raw === null) {
    throw new TypeError(`Cannot read template: transactions[${index}] is not an object`);
  }
  const t = raw as Record<string, unknown>;
  const where = `transactions[${index}]`;
  const data = t.data;
  if (typeof data !== "string" || data.length === 0 || data.length % 2 !== 0) {
    throw new TypeError(`Cannot read template: ${where}.data must be hex`);
  }
  const txid = hexField(t, "txid", 64, where);
  const bytes = hexToBytes(data);
  const fee = t.fee === undefined ? 0 : integer(t, "fee", 0, Number.MAX_SAFE_INTEGER, where);
  const weight = t.weight === undefined ? 0 : integer(t, "weight", 0, 4_000_000, where);
  // BIP145 `hash` is the wtxid; a node that omits it still sends the witness serialization,
  // whose double SHA-256 is the wtxid (equal to the txid when there is no witness).
  const wtxid = t.hash === undefined
    ? hasWitnessMarker(bytes) ? sha256d(bytes) : reverseBytes(hexToBytes(txid))
    : reverseBytes(hexToBytes(hexField(t, "hash", 64, where)));
  return {
    data: bytes,
    txid: reverseBytes(hexToBytes(txid)),
    wtxid,
    feeSats: BigInt(fee),
    weight,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** BIP144 serialization: version (4 bytes), then marker 0x00 and flag 0x01. */
function hasWitnessMarker(tx: Uint8Array): boolean {
  return tx.length > 6 && tx[4] === 0x00 && tx[5] === 0x01;
}

function shortHexField(o: Record<string, unknown>, key: string, maxChars: number): string {
  const v = o[key];
  if (typeof v !== "string" || v.length === 0 || v.length > maxChars || !/^[0-9a-fA-F]+$/.test(v)) {
    throw new TypeError(`Cannot read template: ${key} must be 1 to ${maxChars} hex chars`);
  }
  return v.padStart(maxChars, "0");
}

function integer(
  o: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
  where = "",
): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new TypeError(
      `Cannot read template: ${
        where ? where + "." : ""
      }${key} must be an integer in [${min}, ${max}]`,
    );
  }
  return v;
}

function hexField(o: Record<string, unknown>, key: string, chars: number, where = ""): string {
  const v = o[key];
  if (typeof v !== "string" || v.length !== chars || !/^[0-9a-fA-F]+$/.test(v)) {
    throw new TypeError(
      `Cannot read template: ${where ? where + "." : ""}${key} must be ${chars} hex chars`,
    );
  }
  return v;
}
