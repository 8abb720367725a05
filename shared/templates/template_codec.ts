/**
 * The template message the primary publishes for relays: one block template (everything a relay
 * needs to build the same jobs), the primary's clean_jobs decision, its order (publisher epoch
 * and sequence), where it came from, and when it was sent.
 *
 * Binary, little-endian, version 1 (sizes in bytes):
 *
 * ```
 * "TBGT" 4 | format 1 | flags 1 (0; compression is not used, see below)
 * epoch f64 | sequence u32 | sentAtMs f64 | templateAtMs f64
 * reason u8 | source u8 | cleanJobs u8 | originRegion str8 | network str8
 * height u32 | version u32 | bits u32 | curtime u32 | mintime u32 | prevHash 32 (internal order)
 * coinbaseValue u64 | optional u8 (bit 0 witness commitment, bit 1 longpollid)
 * [commitment str: u8 length + script] [longpollid: u16 length + ASCII]
 * rules: u8 count, each str8 | merkle branch: u8 count, each 32
 * txCount u32, then per transaction:
 *   flags u8 (bit 0: wtxid differs from txid) | fee varuint | weight varuint | size varuint
 *   txid 32 | [wtxid 32] | data
 * ```
 * (str8 = one length byte + printable ASCII; varuint = LEB128.)
 *
 * Why binary without compression: measured on a 2,000-transaction template (558 kB), it is 44%
 * of the size of getblocktemplate's JSON (hex doubles every byte), encodes in about a millisecond
 * and decodes in a quarter of one; deflate saves only about 4% on transaction bytes with
 * realistic keys (signatures, keys and hashes are random) and costs 7–30 ms per template on the
 * primary's template path. The `flags` byte keeps room for compression in a later format;
 * decoders refuse flags they do not know.
 *
 * The merkle branch travels with the template (a dozen hashes) so a relay does not recompute
 * it (several milliseconds for 2,000 transactions): {@link blockTemplateFromMessage} turns a
 * decoded message into the engine's BlockTemplate without any hashing or hex. The relay trusts
 * the primary's branch exactly as it trusts its txids; decoding checks the branch has the length
 * the transaction count implies and starts with the first txid.
 *
 * Decoding checks every length against the bytes left, every count and value against its limit,
 * and the message against a size cap; bad input fails with a `SyntaxError` (or `RangeError` for
 * the size cap) naming the field, never with a crash or a partial result.
 *
 * @module
 */
import { bitsToTarget } from "../bitcoin/target.ts";
import {
  type BlockTemplate,
  MAX_TEMPLATE_TRANSACTIONS,
  type TemplateTransaction,
} from "../engine/template.ts";
import { ByteReader, ByteWriter, fastHex } from "./_bytes.ts";
import {
  checker,
  checkMerkleBranch,
  checkTransaction,
  expectPreamble,
  headSize,
  metaSize,
  MIN_TRANSACTION_WIRE_BYTES,
  readHead,
  readMeta,
  readTransaction,
  type TemplateContent,
  type TemplateMessage,
  type TemplateMessageMeta,
  transactionWireSize,
  writeHead,
  writeMeta,
  writeTransaction,
} from "./_template_wire.ts";

export {
  MAX_LONGPOLLID_CHARS,
  MAX_TRANSACTION_BYTES,
  merkleBranchLength,
  type TemplateContent,
  type TemplateHead,
  type TemplateMessage,
  type TemplateMessageMeta,
  transactionWireSize,
} from "./_template_wire.ts";

/** First four bytes of every template message. */
export const TEMPLATE_MESSAGE_MAGIC: Uint8Array = new TextEncoder().encode("TBGT");

/** Format version this module writes and reads. */
export const TEMPLATE_MESSAGE_FORMAT = 1;

/**
 * Default size cap of a template message: a block's transactions fit in 4 MB of weight (so at
 * most 4 MB of bytes), plus 64 bytes of hashes and a few of varints per transaction.
 */
export const DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES = 6 * 1024 * 1024;

/** Options of {@link decodeTemplateMessage}. */
export interface DecodeTemplateOptions {
  /** Largest message accepted; {@link DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES} unless given. */
  readonly maxBytes?: number;
}

/**
 * The getblocktemplate fields a relay's engine reads, rebuilt from a template message; pass it to
 * `templateFromGbt`. Transactions lack `depends` and `sigops`, which jobs do not use.
 */
export interface TemplateGbt {
  readonly version: number;
  readonly previousblockhash: string;
  readonly transactions: readonly {
    readonly data: string;
    readonly txid: string;
    readonly hash: string;
    readonly fee: number;
    readonly weight: number;
  }[];
  readonly coinbasevalue: number;
  readonly bits: string;
  /** The network target from `bits`, as Core reports it. */
  readonly target: string;
  readonly height: number;
  readonly curtime: number;
  readonly mintime: number;
  readonly rules: readonly string[];
  readonly default_witness_commitment?: string;
  readonly longpollid?: string;
}

const check = checker("template message");

/** Checks the message and returns its exact encoded size. */
function encodedSize(message: TemplateMessage): number {
  const t = message.template;
  let size = 4 + 1 + 1 + metaSize(message, check);
  size += headSize(t, t.transactions.length, check) + 4;
  for (let i = 0; i < t.transactions.length; i++) {
    const tx = t.transactions[i]!;
    checkTransaction(tx, i, check);
    size += transactionWireSize(tx);
  }
  return size;
}

/**
 * Exact size {@link encodeTemplateMessage} would produce, after the same checks.
 *
 * @param message the message
 * @returns its encoded size in bytes
 * @throws {RangeError} as {@link encodeTemplateMessage}
 */
export function templateMessageSize(message: TemplateMessage): number {
  return encodedSize(message);
}

/**
 * Encodes a template message.
 *
 * @param message the template and its metadata
 * @returns the message bytes
 * @throws {RangeError} naming the field when a value cannot be represented (e.g. a region that is
 *   not a subject token, a witness commitment that is not a commitment script)
 */
export function encodeTemplateMessage(message: TemplateMessage): Uint8Array {
  const size = encodedSize(message);
  const t = message.template;
  const w = new ByteWriter(size);
  w.bytes(TEMPLATE_MESSAGE_MAGIC);
  w.u8(TEMPLATE_MESSAGE_FORMAT);
  w.u8(0);
  writeMeta(w, message);
  writeHead(w, t);
  w.u32(t.transactions.length);
  for (const tx of t.transactions) writeTransaction(w, tx);
  return w.finish();
}

/** A decoded template message. */
export interface DecodedTemplateMessage extends TemplateMessageMeta {
  /** The template; its byte arrays are views into the message buffer (do not modify it). */
  readonly template: TemplateContent;
  /** Encoded size, bytes. */
  readonly sizeBytes: number;
}

/**
 * Checks the size cap and the argument type shared by the decoders of this folder.
 *
 * @throws {TypeError} when `bytes` is not a byte array
 * @throws {RangeError} when it is larger than `maxBytes`
 */
export function checkMessageSize(bytes: Uint8Array, maxBytes: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Cannot decode ${what}: not a byte array`);
  }
  if (bytes.length > maxBytes) {
    throw new RangeError(
      `Cannot decode ${what}: ${bytes.length} bytes is above the ${maxBytes}-byte cap`,
    );
  }
}

/**
 * Decodes and validates a template message.
 *
 * @param bytes the message as received
 * @param options size cap
 * @returns the metadata and the template (views into `bytes`)
 * @throws {RangeError} when the message is larger than the cap
 * @throws {SyntaxError} naming the field for anything malformed: wrong magic or format, unknown
 *   flags or codes, a length past the end, a value above its limit, trailing bytes
 */
export function decodeTemplateMessage(
  bytes: Uint8Array,
  options: DecodeTemplateOptions = {},
): DecodedTemplateMessage {
  checkMessageSize(
    bytes,
    options.maxBytes ?? DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES,
    "template message",
  );
  const r = new ByteReader(bytes, "template message");
  expectPreamble(r, TEMPLATE_MESSAGE_MAGIC, TEMPLATE_MESSAGE_FORMAT, "template message");
  const meta = readMeta(r);
  const head = readHead(r);
  const txCount = r.u32("transaction count");
  if (txCount > MAX_TEMPLATE_TRANSACTIONS) {
    throw r.error("transaction count", `${txCount} is above ${MAX_TEMPLATE_TRANSACTIONS}`);
  }
  // Refuse impossible counts before allocating.
  if (txCount * MIN_TRANSACTION_WIRE_BYTES > r.remaining) {
    throw r.error("transaction count", `${txCount} cannot fit in the ${r.remaining} bytes left`);
  }
  const transactions: TemplateTransaction[] = new Array(txCount);
  for (let i = 0; i < txCount; i++) transactions[i] = readTransaction(r, i);
  r.end();
  checkMerkleBranch(head.merkleBranch, transactions, (field, problem) => r.error(field, problem));
  return { ...meta, template: { ...head, transactions }, sizeBytes: bytes.length };
}

/** Display hex of an internal-order hash; copies first (a Node Buffer's slice() is a view). */
function displayHex(internal: Uint8Array): string {
  return fastHex(Uint8Array.from(internal).reverse());
}

/**
 * The getblocktemplate view of a template (hex strings, display byte order), for
 * `templateFromGbt` on the relay: the same BlockTemplate the primary built comes out.
 *
 * @param template a decoded (or the primary's) template
 * @returns a plain object in Core's getblocktemplate shape
 */
export function templateToGbt(template: TemplateContent): TemplateGbt {
  const transactions = template.transactions.map((tx) => ({
    data: fastHex(tx.data),
    txid: displayHex(tx.txid),
    hash: displayHex(tx.wtxid),
    fee: Number(tx.feeSats),
    weight: tx.weight,
  }));
  return {
    version: template.version,
    previousblockhash: displayHex(template.prevHash),
    transactions,
    coinbasevalue: Number(template.coinbaseValueSats),
    bits: template.bits.toString(16).padStart(8, "0"),
    target: bitsToTarget(template.bits).toString(16).padStart(64, "0"),
    height: template.height,
    curtime: template.curtime,
    mintime: template.mintime,
    rules: [...template.rules],
    ...(template.witnessCommitment === null
      ? {}
      : { default_witness_commitment: fastHex(template.witnessCommitment) }),
    ...(template.longPollId === null ? {} : { longpollid: template.longPollId }),
  };
}

/**
 * The engine's BlockTemplate for a decoded message, without hashing or hex: the relay's fast path
 * (the same template `templateFromGbt(templateToGbt(...))` builds, a few ms sooner for a full
 * block).
 *
 * @param template a decoded template
 * @param receivedAtMs when it arrived, ms since the epoch
 * @returns the template the engine consumes
 */
export function blockTemplateFromMessage(
  template: TemplateContent,
  receivedAtMs: number,
): BlockTemplate {
  return {
    height: template.height,
    prevHash: template.prevHash,
    prevHashHex: displayHex(template.prevHash),
    version: template.version,
    bits: template.bits,
    target: bitsToTarget(template.bits),
    curtime: template.curtime,
    mintime: template.mintime,
    coinbaseValueSats: template.coinbaseValueSats,
    transactions: template.transactions,
    merkleBranch: template.merkleBranch,
    witnessCommitment: template.witnessCommitment,
    rules: template.rules,
    longPollId: template.longPollId,
    receivedAtMs,
  };
}
