/**
 * Deliberately broken blocks built from a getblocktemplate result, one defect each, so tests
 * can check a node's reject reasons. Every other property stays valid (proof of work is still
 * met unless the defect is the proof of work), so the node reaches the intended check.
 *
 * @module
 */
import { Block, Transaction } from "bitcoinjs-lib";
import {
  assembleBlock,
  bip34HeightPush,
  buildCoinbase,
  type GbtTemplate,
  headerBytes,
} from "./block_assembly.ts";
import { extranonceBytes, payoutScriptFor } from "./gbt_miner.ts";
import { grindNonce, hashMeetsTarget, headerHash, MAX_NONCE, targetToLeBytes } from "./grind.ts";

/** The defects available. */
export const BrokenKind = {
  HIGH_HASH: "high_hash",
  BAD_MERKLE_ROOT: "bad_merkle_root",
  MISSING_COINBASE: "missing_coinbase",
  MULTIPLE_COINBASE: "multiple_coinbase",
  UNKNOWN_PARENT: "unknown_parent",
  BAD_DIFFBITS: "bad_diffbits",
  TIME_TOO_OLD: "time_too_old",
  TIME_TOO_NEW: "time_too_new",
  BAD_HEIGHT: "bad_height",
  BAD_WITNESS_COMMITMENT: "bad_witness_commitment",
  BAD_WITNESS_RESERVED_VALUE: "bad_witness_reserved_value",
  BAD_WITNESS_NONCE_SIZE: "bad_witness_nonce_size",
  UNEXPECTED_WITNESS: "unexpected_witness",
  MISSING_INPUTS: "missing_inputs",
  TOO_MUCH_COINBASE_VALUE: "too_much_coinbase_value",
} as const;
/** One of {@link BrokenKind}. */
export type BrokenKind = typeof BrokenKind[keyof typeof BrokenKind];

/** The submitblock answer Bitcoin Core gives for each defect. */
export const EXPECTED_REJECT_REASON: Readonly<Record<BrokenKind, string>> = {
  high_hash: "high-hash",
  bad_merkle_root: "bad-txnmrklroot",
  missing_coinbase: "bad-cb-missing",
  multiple_coinbase: "bad-cb-multiple",
  unknown_parent: "prev-blk-not-found",
  bad_diffbits: "bad-diffbits",
  time_too_old: "time-too-old",
  time_too_new: "time-too-new",
  bad_height: "bad-cb-height",
  bad_witness_commitment: "bad-witness-merkle-match",
  bad_witness_reserved_value: "bad-witness-merkle-match",
  bad_witness_nonce_size: "bad-witness-nonce-size",
  unexpected_witness: "unexpected-witness",
  missing_inputs: "bad-txns-inputs-missingorspent",
  too_much_coinbase_value: "bad-cb-amount",
};

/** Inputs for building a broken block. */
export interface BrokenBlockOptions {
  readonly payoutAddress: string;
  readonly coinbaseTag?: string;
  readonly extranonce?: number;
  /** Replaces the BIP34 height push (used with kind BAD_HEIGHT; default pushes height + 1). */
  readonly heightPush?: Uint8Array;
}

const RESERVED_ZERO = new Uint8Array(32);

/** BIP141 commitment output for the given transactions and reserved value. */
export function commitmentScriptFor(
  transactions: readonly Transaction[],
  reservedValue: Uint8Array,
): Uint8Array {
  const placeholder = new Transaction();
  placeholder.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, Uint8Array.of(0x51, 0x51));
  placeholder.setWitness(0, [reservedValue]);
  const commitment = Block.calculateMerkleRoot([placeholder, ...transactions], true);
  const script = new Uint8Array(38);
  script.set([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]);
  script.set(commitment, 6);
  return script;
}

function grindFor(block: Block, target: bigint, wantValid: boolean): void {
  const header = headerBytes(block);
  if (wantValid) {
    const nonce = grindNonce(header, target, 0, MAX_NONCE + 1);
    if (nonce === null) throw new Error("Cannot build block: no nonce meets the target");
    block.nonce = nonce;
    return;
  }
  const targetLe = targetToLeBytes(target);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  for (let nonce = 0; nonce <= MAX_NONCE; nonce++) {
    view.setUint32(76, nonce, true);
    if (!hashMeetsTarget(headerHash(header), targetLe)) {
      block.nonce = nonce;
      return;
    }
  }
  throw new Error("Cannot build high-hash block: every nonce meets the target");
}

function mutatePrevout(tx: Transaction): Transaction {
  const copy = tx.clone();
  const input = copy.ins[0];
  if (!input) throw new TypeError("Cannot break transaction: it has no inputs");
  input.hash = new Uint8Array(32).fill(0x42);
  return copy;
}

/**
 * Builds a block from `template` with exactly the defect `kind`, ground so that its proof of
 * work is valid (or, for HIGH_HASH, so that it is not).
 *
 * @returns the block hex
 * @throws {TypeError} when the template lacks what the defect needs (e.g. no transactions).
 */
export function buildBrokenBlock(
  kind: BrokenKind,
  template: GbtTemplate,
  options: BrokenBlockOptions,
): string {
  let transactions = template.transactions.map((tx) => Transaction.fromHex(tx.data));
  const needsTx = kind === BrokenKind.MISSING_COINBASE || kind === BrokenKind.MISSING_INPUTS ||
    kind === BrokenKind.UNEXPECTED_WITNESS;
  if (needsTx && transactions.length === 0) {
    throw new TypeError(`Cannot build ${kind} block: template has no transactions`);
  }
  if (kind === BrokenKind.UNEXPECTED_WITNESS && !transactions.some((tx) => tx.hasWitnesses())) {
    throw new TypeError("Cannot build unexpected-witness block: no segwit transaction in template");
  }
  if (kind === BrokenKind.MISSING_INPUTS) {
    transactions = [mutatePrevout(transactions[0] as Transaction), ...transactions.slice(1)];
  }

  let reserved: Uint8Array | null = RESERVED_ZERO;
  if (kind === BrokenKind.BAD_WITNESS_NONCE_SIZE) reserved = new Uint8Array(31);
  if (kind === BrokenKind.UNEXPECTED_WITNESS) reserved = null;
  let commitment: Uint8Array | null = commitmentScriptFor(transactions, RESERVED_ZERO);
  if (kind === BrokenKind.BAD_WITNESS_COMMITMENT) commitment[37] = (commitment[37] ?? 0) ^ 0xff;
  if (kind === BrokenKind.BAD_WITNESS_RESERVED_VALUE) reserved = new Uint8Array(32).fill(1);
  if (kind === BrokenKind.UNEXPECTED_WITNESS) commitment = null;

  const extranonce = options.extranonce ?? 0;
  const coinbase = buildCoinbase({
    height: template.height,
    valueSats: BigInt(template.coinbasevalue) +
      (kind === BrokenKind.TOO_MUCH_COINBASE_VALUE ? 1n : 0n),
    payoutScript: payoutScriptFor(options.payoutAddress),
    extranonce: extranonceBytes(extranonce),
    tag: options.coinbaseTag ?? "/tbg-broken/",
    witnessCommitmentScript: commitment,
    witnessReservedValue: reserved,
    ...(kind === BrokenKind.BAD_HEIGHT
      ? { heightPushOverride: options.heightPush ?? bip34HeightPush(template.height + 1) }
      : {}),
  });
  let body = [coinbase, ...transactions];
  if (kind === BrokenKind.MISSING_COINBASE) body = transactions;
  if (kind === BrokenKind.MULTIPLE_COINBASE) {
    const second = buildCoinbase({
      height: template.height,
      valueSats: 0n,
      payoutScript: payoutScriptFor(options.payoutAddress),
      extranonce: extranonceBytes(extranonce + 1),
      tag: "/second/",
      witnessCommitmentScript: null,
      witnessReservedValue: null,
    });
    body = [coinbase, second, ...transactions];
  }

  const templateBits = parseInt(template.bits, 16);
  const bits = kind === BrokenKind.BAD_DIFFBITS ? templateBits - 1 : templateBits;
  let time = template.curtime;
  if (kind === BrokenKind.TIME_TOO_OLD) time = template.mintime - 1;
  if (kind === BrokenKind.TIME_TOO_NEW) time = template.curtime + 2 * 60 * 60 + 600;
  const previousBlockHash = kind === BrokenKind.UNKNOWN_PARENT
    ? "42".repeat(32)
    : template.previousblockhash;

  const [first, ...rest] = body;
  if (!first) throw new TypeError("Cannot build block: no transactions");
  const block = assembleBlock(
    {
      version: template.version,
      previousBlockHash,
      time,
      bits,
      nonce: 0,
      ...(kind === BrokenKind.BAD_MERKLE_ROOT
        ? { merkleRootOverride: new Uint8Array(32).fill(7) }
        : {}),
    },
    first,
    rest,
  );
  const target = kind === BrokenKind.BAD_DIFFBITS
    ? BigInt(`0x${hexTarget(bits)}`)
    : BigInt(`0x${template.target}`);
  grindFor(block, target, kind !== BrokenKind.HIGH_HASH);
  return block.toHex();
}

function hexTarget(bits: number): string {
  const size = bits >>> 24;
  const word = BigInt(bits & 0x007fffff);
  const target = size <= 3 ? word >> BigInt(8 * (3 - size)) : word << BigInt(8 * (size - 3));
  return target.toString(16).padStart(64, "0");
}
