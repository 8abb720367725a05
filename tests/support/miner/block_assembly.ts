/**
 * Builds blocks from a getblocktemplate result with bitcoinjs-lib: the coinbase (BIP34 height,
 * extranonce, tag, payout, BIP141 commitment and witness reserved value), the merkle root and
 * the header.
 *
 * @module
 */
import { Block, opcodes, script as bscript, Transaction } from "bitcoinjs-lib";

/** The getblocktemplate fields a miner uses. */
export interface GbtTemplate {
  readonly version: number;
  readonly previousblockhash: string;
  readonly transactions: readonly {
    readonly data: string;
    readonly txid: string;
    readonly hash: string;
    readonly depends: readonly number[];
    readonly fee: number;
    readonly sigops: number;
    readonly weight: number;
  }[];
  readonly coinbasevalue: number;
  readonly bits: string;
  readonly height: number;
  readonly curtime: number;
  readonly mintime: number;
  readonly target: string;
  readonly default_witness_commitment?: string;
}

/** Coinbase contents. */
export interface CoinbaseParams {
  readonly height: number;
  readonly valueSats: bigint;
  readonly payoutScript: Uint8Array;
  readonly extranonce: Uint8Array;
  /** Text pushed after the extranonce, e.g. a pool tag. */
  readonly tag: string;
  /** BIP141 commitment output script, or null for none. */
  readonly witnessCommitmentScript: Uint8Array | null;
  /** Coinbase witness (the reserved value), or null for a coinbase without witness. */
  readonly witnessReservedValue: Uint8Array | null;
  /** Replaces the BIP34 height push (for deliberately broken blocks). */
  readonly heightPushOverride?: Uint8Array;
}

/** `CScript() << height` as Core writes it: OP_1..OP_16 for 1..16, else a minimal number push. */
export function bip34HeightPush(height: number): Uint8Array {
  if (height >= 1 && height <= 16) return Uint8Array.of(opcodes.OP_1 + height - 1);
  return bscript.compile([bscript.number.encode(height)]);
}

/** Builds a coinbase transaction. */
export function buildCoinbase(params: CoinbaseParams): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  const heightPush = params.heightPushOverride ?? bip34HeightPush(params.height);
  const rest = bscript.compile([params.extranonce, new TextEncoder().encode(params.tag)]);
  const scriptSig = new Uint8Array(heightPush.length + rest.length);
  scriptSig.set(heightPush);
  scriptSig.set(rest, heightPush.length);
  tx.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, scriptSig);
  tx.addOutput(params.payoutScript, params.valueSats);
  if (params.witnessCommitmentScript) tx.addOutput(params.witnessCommitmentScript, 0n);
  if (params.witnessReservedValue) tx.setWitness(0, [params.witnessReservedValue]);
  return tx;
}

/** Header fields a block is assembled with. */
export interface HeaderParams {
  readonly version: number;
  /** Display-order previous block hash. */
  readonly previousBlockHash: string;
  readonly time: number;
  readonly bits: number;
  readonly nonce: number;
  /** Overrides the computed merkle root (for deliberately broken blocks). */
  readonly merkleRootOverride?: Uint8Array;
}

/** Assembles a bitcoinjs-lib Block with the merkle root computed over the transactions. */
export function assembleBlock(
  header: HeaderParams,
  coinbase: Transaction,
  transactions: readonly Transaction[],
): Block {
  const block = new Block();
  block.version = header.version;
  block.prevHash = displayHashToInternal(header.previousBlockHash);
  block.timestamp = header.time;
  block.bits = header.bits;
  block.nonce = header.nonce;
  block.transactions = [coinbase, ...transactions];
  block.merkleRoot = header.merkleRootOverride ?? Block.calculateMerkleRoot(block.transactions);
  return block;
}

/** The 80 header bytes of a block. */
export function headerBytes(block: Block): Uint8Array {
  return block.toBuffer(true);
}

/** Internal-order bytes of a display-order hash. */
export function displayHashToInternal(hashHex: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hashHex)) throw new SyntaxError(`Cannot decode hash: ${hashHex}`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[31 - i] = parseInt(hashHex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Hex to bytes. */
export function hexToBytes(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new SyntaxError("Cannot decode hex: not an even-length hex string");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** What {@link blockFromTemplate} needs besides the template. */
export interface TemplateBlockOptions {
  readonly payoutScript: Uint8Array;
  readonly extranonce: Uint8Array;
  readonly tag: string;
  /** Put the witness reserved value in the coinbase (default true). */
  readonly includeWitnessReservedValue?: boolean;
}

/** A block built from a template, not yet ground. */
export interface TemplateBlock {
  readonly block: Block;
  readonly coinbase: Transaction;
  readonly transactions: Transaction[];
  readonly target: bigint;
}

/** Builds the block a solo miner would from a template (time = curtime, nonce 0). */
export function blockFromTemplate(
  template: GbtTemplate,
  options: TemplateBlockOptions,
): TemplateBlock {
  const commitment = template.default_witness_commitment;
  const coinbase = buildCoinbase({
    height: template.height,
    valueSats: BigInt(template.coinbasevalue),
    payoutScript: options.payoutScript,
    extranonce: options.extranonce,
    tag: options.tag,
    witnessCommitmentScript: commitment ? hexToBytes(commitment) : null,
    witnessReservedValue: options.includeWitnessReservedValue === false || !commitment
      ? null
      : new Uint8Array(32),
  });
  const transactions = template.transactions.map((tx) => Transaction.fromHex(tx.data));
  const block = assembleBlock(
    {
      version: template.version,
      previousBlockHash: template.previousblockhash,
      time: template.curtime,
      bits: parseInt(template.bits, 16),
      nonce: 0,
    },
    coinbase,
    transactions,
  );
  return { block, coinbase, transactions, target: BigInt(`0x${template.target}`) };
}
