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
import type { TemplateReason, TemplateTrigger } from "../bitcoind/template_source.ts";
import type { BlockTemplate, TemplateTransaction } from "../engine/template.ts";
import { MAX_TEMPLATE_TRANSACTIONS } from "../engine/template.ts";
import { SUBJECT_TOKEN_PATTERN } from "../nats/subjects.ts";
import { ByteReader, ByteWriter, fastHex, isShortAscii, varuintSize } from "./_bytes.ts";

/** First four bytes of every template message. */
export const TEMPLATE_MESSAGE_MAGIC: Uint8Array = new TextEncoder().encode("TBGT");

/** Format version this module writes and reads. */
export const TEMPLATE_MESSAGE_FORMAT = 1;

/**
 * Default size cap of a template message: a block's transactions fit in 4 MB of weight (so at
 * most 4 MB of bytes), plus 64 bytes of hashes and a few of varints per transaction.
 */
export const DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES = 6 * 1024 * 1024;

/** Largest serialized transaction accepted (a whole block's weight limit). */
export const MAX_TRANSACTION_BYTES = 4_000_000;

/** Longest region or network token. */
const MAX_TOKEN_CHARS = 32;
/** Most BIP9 rule names. */
const MAX_RULES = 64;
/** Longest rule name. */
const MAX_RULE_CHARS = 64;
/** Longest longpollid carried. */
export const MAX_LONGPOLLID_CHARS = 256;
/** Size of the witness commitment script (`6a24aa21a9ed` + 32 bytes). */
const WITNESS_COMMITMENT_BYTES = 38;
const WITNESS_COMMITMENT_PREFIX = Uint8Array.of(0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed);
const HASH_BYTES = 32;

const OPTIONAL_WITNESS_COMMITMENT = 1;
const OPTIONAL_LONGPOLLID = 2;
const TX_DISTINCT_WTXID = 1;

/** Wire codes of {@link TemplateReason}; never renumber. */
const REASON_CODES: Readonly<Record<TemplateReason, number>> = {
  new_block: 1,
  refresh: 2,
  startup: 3,
  failover: 4,
};
/** Wire codes of {@link TemplateTrigger}; never renumber. */
const SOURCE_CODES: Readonly<Record<TemplateTrigger, number>> = {
  zmq: 1,
  poll: 2,
  timer: 3,
  startup: 4,
  switch: 5,
};
const REASON_BY_CODE = new Map(
  Object.entries(REASON_CODES).map(([k, v]) => [v, k as TemplateReason]),
);
const SOURCE_BY_CODE = new Map(
  Object.entries(SOURCE_CODES).map(([k, v]) => [v, k as TemplateTrigger]),
);

/** The template fields relays need; a {@link BlockTemplate} has them all. */
export type TemplateContent =
  & Pick<
    BlockTemplate,
    | "height"
    | "prevHash"
    | "version"
    | "bits"
    | "curtime"
    | "mintime"
    | "coinbaseValueSats"
    | "witnessCommitment"
    | "rules"
    | "longPollId"
  >
  & {
    readonly transactions: readonly TemplateTransaction[];
    readonly merkleBranch: readonly Uint8Array[];
  };

/** Everything in a template message besides the template. */
export interface TemplateMessageMeta {
  /**
   * The publisher's run: its start time, ms since the epoch. A primary that restarts counts its
   * sequence from 1 again under a larger epoch, so (epoch, sequence) orders every message.
   */
  readonly epoch: number;
  /** 1 for the publisher's first template, one more for each after it. */
  readonly sequence: number;
  /** Primary's clock when it sent the message, ms since the epoch (fractional). */
  readonly sentAtMs: number;
  /** Primary's clock when the template arrived from bitcoind, ms since the epoch. */
  readonly templateAtMs: number;
  /** Why the primary produced the template. */
  readonly reason: TemplateReason;
  /** What asked the primary for it. */
  readonly source: TemplateTrigger;
  /** The primary's clean_jobs decision: the previous block changed since its last template. */
  readonly cleanJobs: boolean;
  /** Region of the primary that sent it (a subject token). */
  readonly originRegion: string;
  /** Bitcoin network (a subject token), so a relay never mines another network's template. */
  readonly network: string;
}

/** A template message as the primary builds it. */
export interface TemplateMessage extends TemplateMessageMeta {
  readonly template: TemplateContent;
}

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

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`Cannot encode template message: ${message}`);
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function isToken(value: string): boolean {
  return typeof value === "string" && value.length <= MAX_TOKEN_CHARS &&
    SUBJECT_TOKEN_PATTERN.test(value);
}

function hasCommitmentPrefix(script: Uint8Array): boolean {
  if (script.length !== WITNESS_COMMITMENT_BYTES) return false;
  for (let i = 0; i < WITNESS_COMMITMENT_PREFIX.length; i++) {
    if (script[i] !== WITNESS_COMMITMENT_PREFIX[i]) return false;
  }
  return true;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Hashes in the Stratum merkle branch of a template with `txCount` non-coinbase transactions. */
export function merkleBranchLength(txCount: number): number {
  let length = 0;
  for (let rest = txCount; rest > 0; rest = Math.ceil((rest - 1) / 2)) length++;
  return length;
}

/** Checks the message and returns its exact encoded size. */
function encodedSize(message: TemplateMessage): number {
  const t = message.template;
  check(Number.isSafeInteger(message.epoch) && message.epoch >= 0, "epoch must be an integer ≥ 0");
  check(
    isU32(message.sequence) && message.sequence > 0,
    "sequence must be an integer in [1, 2^32)",
  );
  check(Number.isFinite(message.sentAtMs), "sentAtMs must be finite");
  check(Number.isFinite(message.templateAtMs), "templateAtMs must be finite");
  check(message.reason in REASON_CODES, `unknown reason ${JSON.stringify(message.reason)}`);
  check(message.source in SOURCE_CODES, `unknown source ${JSON.stringify(message.source)}`);
  check(isToken(message.originRegion), "originRegion must be a subject token");
  check(isToken(message.network), "network must be a subject token");
  check(Number.isInteger(t.height) && t.height >= 0 && t.height <= 0x7fffffff, "bad height");
  for (const [name, value] of [["version", t.version], ["bits", t.bits]] as const) {
    check(isU32(value), `${name} must be a u32`);
  }
  check(isU32(t.curtime) && isU32(t.mintime), "curtime and mintime must be u32");
  check(t.prevHash.length === HASH_BYTES, "prevHash must be 32 bytes");
  check(
    t.coinbaseValueSats >= 0n && t.coinbaseValueSats <= BigInt(Number.MAX_SAFE_INTEGER),
    "coinbase value out of range",
  );
  let size = 4 + 1 + 1 + 8 + 4 + 8 + 8 + 3;
  size += 1 + message.originRegion.length + 1 + message.network.length;
  size += 5 * 4 + HASH_BYTES + 8 + 1;
  if (t.witnessCommitment !== null) {
    check(hasCommitmentPrefix(t.witnessCommitment), "witness commitment is not 6a24aa21a9ed…");
    size += 1 + t.witnessCommitment.length;
  }
  if (t.longPollId !== null) {
    check(
      isShortAscii(t.longPollId, MAX_LONGPOLLID_CHARS),
      `longpollid must be printable ASCII of at most ${MAX_LONGPOLLID_CHARS} characters`,
    );
    size += 2 + t.longPollId.length;
  }
  check(t.rules.length <= MAX_RULES, `more than ${MAX_RULES} rules`);
  size += 1;
  for (const rule of t.rules) {
    check(isShortAscii(rule, MAX_RULE_CHARS), `rule ${JSON.stringify(rule)} is not short ASCII`);
    size += 1 + rule.length;
  }
  check(
    t.transactions.length <= MAX_TEMPLATE_TRANSACTIONS,
    `more than ${MAX_TEMPLATE_TRANSACTIONS} transactions`,
  );
  check(
    t.merkleBranch.length === merkleBranchLength(t.transactions.length) &&
      t.merkleBranch.every((h) => h.length === HASH_BYTES),
    `merkle branch must be ${merkleBranchLength(t.transactions.length)} hashes of 32 bytes`,
  );
  size += 1 + HASH_BYTES * t.merkleBranch.length + 4;
  for (let i = 0; i < t.transactions.length; i++) {
    const tx = t.transactions[i]!;
    const fee = Number(tx.feeSats);
    check(
      tx.txid.length === HASH_BYTES && tx.wtxid.length === HASH_BYTES,
      `transaction ${i} hashes must be 32 bytes`,
    );
    check(
      tx.data.length > 0 && tx.data.length <= MAX_TRANSACTION_BYTES,
      `transaction ${i} size ${tx.data.length} out of range`,
    );
    check(Number.isSafeInteger(fee) && fee >= 0, `transaction ${i} fee out of range`);
    check(
      Number.isInteger(tx.weight) && tx.weight >= 0 && tx.weight <= 4_000_000,
      `transaction ${i} weight out of range`,
    );
    size += transactionWireSize(tx);
  }
  return size;
}

/**
 * Bytes one transaction takes in a template message.
 *
 * @param tx a template transaction (fee and weight within their limits)
 * @returns its encoded size
 */
export function transactionWireSize(tx: TemplateTransaction): number {
  return 1 + varuintSize(Number(tx.feeSats)) + varuintSize(tx.weight) +
    varuintSize(tx.data.length) + HASH_BYTES + (bytesEqual(tx.txid, tx.wtxid) ? 0 : HASH_BYTES) +
    tx.data.length;
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
  w.f64(message.epoch);
  w.u32(message.sequence);
  w.f64(message.sentAtMs);
  w.f64(message.templateAtMs);
  w.u8(REASON_CODES[message.reason]);
  w.u8(SOURCE_CODES[message.source]);
  w.u8(message.cleanJobs ? 1 : 0);
  w.str8(message.originRegion);
  w.str8(message.network);
  w.u32(t.height);
  w.u32(t.version);
  w.u32(t.bits);
  w.u32(t.curtime);
  w.u32(t.mintime);
  w.bytes(t.prevHash);
  w.u64(t.coinbaseValueSats);
  w.u8(
    (t.witnessCommitment === null ? 0 : OPTIONAL_WITNESS_COMMITMENT) |
      (t.longPollId === null ? 0 : OPTIONAL_LONGPOLLID),
  );
  if (t.witnessCommitment !== null) {
    w.u8(t.witnessCommitment.length);
    w.bytes(t.witnessCommitment);
  }
  if (t.longPollId !== null) {
    w.u16(t.longPollId.length);
    for (let i = 0; i < t.longPollId.length; i++) w.u8(t.longPollId.charCodeAt(i));
  }
  w.u8(t.rules.length);
  for (const rule of t.rules) w.str8(rule);
  w.u8(t.merkleBranch.length);
  for (const hash of t.merkleBranch) w.bytes(hash);
  w.u32(t.transactions.length);
  for (const tx of t.transactions) {
    const distinct = !bytesEqual(tx.txid, tx.wtxid);
    w.u8(distinct ? TX_DISTINCT_WTXID : 0);
    w.varuint(Number(tx.feeSats));
    w.varuint(tx.weight);
    w.varuint(tx.data.length);
    w.bytes(tx.txid);
    if (distinct) w.bytes(tx.wtxid);
    w.bytes(tx.data);
  }
  return w.finish();
}

/** A decoded template message. */
export interface DecodedTemplateMessage extends TemplateMessageMeta {
  /** The template; its byte arrays are views into the message buffer (do not modify it). */
  readonly template: TemplateContent;
  /** Encoded size, bytes. */
  readonly sizeBytes: number;
}

function expectMagic(r: ByteReader): void {
  const magic = r.bytes(TEMPLATE_MESSAGE_MAGIC.length, "magic");
  if (!bytesEqual(magic, TEMPLATE_MESSAGE_MAGIC)) {
    throw r.error("magic", 'is not "TBGT" (not a template message)');
  }
  const format = r.u8("format");
  if (format !== TEMPLATE_MESSAGE_FORMAT) {
    throw r.error("format", `${format} is not supported (this build reads format 1)`);
  }
  const flags = r.u8("flags");
  if (flags !== 0) throw r.error("flags", `0x${flags.toString(16)} has unknown bits`);
}

function decodeTransaction(r: ByteReader, index: number): TemplateTransaction {
  const where = `transactions[${index}]`;
  const flags = r.u8(`${where}.flags`);
  if ((flags & ~TX_DISTINCT_WTXID) !== 0) {
    throw r.error(`${where}.flags`, `0x${flags.toString(16)} has unknown bits`);
  }
  const fee = r.varuint(`${where}.fee`, Number.MAX_SAFE_INTEGER);
  const weight = r.varuint(`${where}.weight`, 4_000_000);
  const size = r.varuint(`${where}.size`, MAX_TRANSACTION_BYTES);
  if (size === 0) throw r.error(`${where}.size`, "is 0");
  const txid = r.bytes(HASH_BYTES, `${where}.txid`);
  const wtxid = (flags & TX_DISTINCT_WTXID) === 0 ? txid : r.bytes(HASH_BYTES, `${where}.wtxid`);
  const data = r.bytes(size, `${where}.data`);
  return { data, txid, wtxid, feeSats: BigInt(fee), weight };
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
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES;
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot decode template message: not a byte array");
  }
  if (bytes.length > maxBytes) {
    throw new RangeError(
      `Cannot decode template message: ${bytes.length} bytes is above the ${maxBytes}-byte cap`,
    );
  }
  const r = new ByteReader(bytes, "template message");
  expectMagic(r);
  const epoch = r.f64("epoch");
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw r.error("epoch", "is not an integer ≥ 0");
  const sequence = r.u32("sequence");
  if (sequence === 0) throw r.error("sequence", "is 0");
  const sentAtMs = r.f64("sentAtMs");
  const templateAtMs = r.f64("templateAtMs");
  const reasonCode = r.u8("reason");
  const reason = REASON_BY_CODE.get(reasonCode);
  if (reason === undefined) throw r.error("reason", `code ${reasonCode} is unknown`);
  const sourceCode = r.u8("source");
  const source = SOURCE_BY_CODE.get(sourceCode);
  if (source === undefined) throw r.error("source", `code ${sourceCode} is unknown`);
  const clean = r.u8("cleanJobs");
  if (clean > 1) throw r.error("cleanJobs", `is ${clean}, not 0 or 1`);
  const originRegion = r.str8(
    "originRegion",
    MAX_TOKEN_CHARS,
    SUBJECT_TOKEN_PATTERN,
    "a subject token",
  );
  const network = r.str8("network", MAX_TOKEN_CHARS, SUBJECT_TOKEN_PATTERN, "a subject token");
  const height = r.u32("height");
  if (height > 0x7fffffff) throw r.error("height", `${height} is above 2^31 - 1`);
  const version = r.u32("version");
  const bits = r.u32("bits");
  try {
    bitsToTarget(bits);
  } catch (error) {
    throw r.error("bits", `0x${bits.toString(16)}: ${(error as Error).message}`);
  }
  const curtime = r.u32("curtime");
  const mintime = r.u32("mintime");
  const prevHash = r.bytes(HASH_BYTES, "prevHash");
  const coinbaseValueSats = r.u64("coinbaseValue");
  if (coinbaseValueSats > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw r.error("coinbaseValue", "is above 2^53 - 1");
  }
  const optional = r.u8("optional fields");
  if ((optional & ~(OPTIONAL_WITNESS_COMMITMENT | OPTIONAL_LONGPOLLID)) !== 0) {
    throw r.error("optional fields", `0x${optional.toString(16)} has unknown bits`);
  }
  let witnessCommitment: Uint8Array | null = null;
  if ((optional & OPTIONAL_WITNESS_COMMITMENT) !== 0) {
    const length = r.u8("witnessCommitment length");
    witnessCommitment = r.bytes(length, "witnessCommitment");
    if (!hasCommitmentPrefix(witnessCommitment)) {
      throw r.error("witnessCommitment", "is not a 38-byte 6a24aa21a9ed… script");
    }
  }
  let longPollId: string | null = null;
  if ((optional & OPTIONAL_LONGPOLLID) !== 0) {
    const length = r.u16("longpollid length");
    if (length > MAX_LONGPOLLID_CHARS) {
      throw r.error("longpollid", `is ${length} characters, above ${MAX_LONGPOLLID_CHARS}`);
    }
    longPollId = r.ascii(r.bytes(length, "longpollid"), "longpollid");
  }
  const ruleCount = r.u8("rules count");
  if (ruleCount > MAX_RULES) throw r.error("rules count", `${ruleCount} is above ${MAX_RULES}`);
  const rules: string[] = [];
  for (let i = 0; i < ruleCount; i++) rules.push(r.str8(`rules[${i}]`, MAX_RULE_CHARS));
  const branchLength = r.u8("merkle branch length");
  const merkleBranch: Uint8Array[] = [];
  for (let i = 0; i < branchLength; i++) {
    merkleBranch.push(r.bytes(HASH_BYTES, `merkleBranch[${i}]`));
  }
  const txCount = r.u32("transaction count");
  if (txCount > MAX_TEMPLATE_TRANSACTIONS) {
    throw r.error("transaction count", `${txCount} is above ${MAX_TEMPLATE_TRANSACTIONS}`);
  }
  // Each transaction takes at least 36 bytes: refuse impossible counts before allocating.
  if (txCount * (4 + HASH_BYTES) > r.remaining) {
    throw r.error("transaction count", `${txCount} cannot fit in the ${r.remaining} bytes left`);
  }
  const transactions: TemplateTransaction[] = new Array(txCount);
  for (let i = 0; i < txCount; i++) transactions[i] = decodeTransaction(r, i);
  r.end();
  if (branchLength !== merkleBranchLength(txCount)) {
    throw r.error(
      "merkle branch length",
      `${branchLength} does not fit ${txCount} transactions (expected ${
        merkleBranchLength(txCount)
      })`,
    );
  }
  if (txCount > 0 && !bytesEqual(merkleBranch[0]!, transactions[0]!.txid)) {
    throw r.error("merkleBranch[0]", "is not the first transaction's txid");
  }
  return {
    epoch,
    sequence,
    sentAtMs,
    templateAtMs,
    reason,
    source,
    cleanJobs: clean === 1,
    originRegion,
    network,
    template: {
      height,
      prevHash,
      version,
      bits,
      curtime,
      mintime,
      coinbaseValueSats,
      witnessCommitment,
      rules,
      longPollId,
      transactions,
      merkleBranch,
    },
    sizeBytes: bytes.length,
  };
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
