/**
 * The pieces the full template message ({@link ./template_codec.ts}) and the template delta
 * ({@link ./template_delta.ts}) share: the metadata section, the template's fields besides its
 * transactions, and one transaction, each as size-and-check, write and read. Both messages lay
 * these out the same way, so a change here changes both formats: never reorder or renumber.
 *
 * Checks before encoding throw `RangeError` through the caller's {@link Check} (which names the
 * message kind); reads go through a {@link ByteReader} and fail with its `SyntaxError`.
 *
 * @module
 */
import { bitsToTarget } from "../bitcoin/target.ts";
import type { TemplateReason, TemplateTrigger } from "../bitcoind/template_source.ts";
import type { BlockTemplate, TemplateTransaction } from "../engine/template.ts";
import { MAX_TEMPLATE_TRANSACTIONS } from "../engine/template.ts";
import { SUBJECT_TOKEN_PATTERN } from "../nats/subjects.ts";
import { type ByteReader, type ByteWriter, isShortAscii, varuintSize } from "./_bytes.ts";

/** Largest serialized transaction accepted (a whole block's weight limit). */
export const MAX_TRANSACTION_BYTES = 4_000_000;
/** Longest longpollid carried. */
export const MAX_LONGPOLLID_CHARS = 256;
/** Bytes of a txid, wtxid, previous block hash or merkle branch entry. */
export const HASH_BYTES = 32;

/** Longest region or network token. */
const MAX_TOKEN_CHARS = 32;
/** Most BIP9 rule names. */
const MAX_RULES = 64;
/** Longest rule name. */
const MAX_RULE_CHARS = 64;
/** Size of the witness commitment script (`6a24aa21a9ed` + 32 bytes). */
const WITNESS_COMMITMENT_BYTES = 38;
const WITNESS_COMMITMENT_PREFIX = Uint8Array.of(0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed);
const MAX_WEIGHT = 4_000_000;

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

/** A template's fields besides its transactions (the merkle branch included). */
export type TemplateHead = Omit<TemplateContent, "transactions">;

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

/** Throws a `RangeError` naming the message kind when `ok` is false. */
export type Check = (ok: boolean, message: string) => void;

/**
 * A {@link Check} whose errors read `Cannot encode <what>: <problem>`.
 *
 * @param what the message kind, e.g. `"template message"`
 */
export function checker(what: string): Check {
  return (ok, message) => {
    if (!ok) throw new RangeError(`Cannot encode ${what}: ${message}`);
  };
}

/** True for an integer in [0, 2^32). */
export function isU32(value: number): boolean {
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

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
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

/**
 * Reads and checks a message's first six bytes: magic, format, flags (which must be 0).
 *
 * @param magic the four bytes the message kind starts with
 * @param format the one format this build reads
 * @param what the message kind, for the wrong-magic error
 */
export function expectPreamble(
  r: ByteReader,
  magic: Uint8Array,
  format: number,
  what: string,
): void {
  const got = r.bytes(magic.length, "magic");
  if (!bytesEqual(got, magic)) {
    throw r.error("magic", `is not "${String.fromCharCode(...magic)}" (not a ${what})`);
  }
  const version = r.u8("format");
  if (version !== format) {
    throw r.error("format", `${version} is not supported (this build reads format ${format})`);
  }
  const flags = r.u8("flags");
  if (flags !== 0) throw r.error("flags", `0x${flags.toString(16)} has unknown bits`);
}

/** Checks the metadata and returns its encoded size. */
export function metaSize(meta: TemplateMessageMeta, check: Check): number {
  check(Number.isSafeInteger(meta.epoch) && meta.epoch >= 0, "epoch must be an integer ≥ 0");
  check(isU32(meta.sequence) && meta.sequence > 0, "sequence must be an integer in [1, 2^32)");
  check(Number.isFinite(meta.sentAtMs), "sentAtMs must be finite");
  check(Number.isFinite(meta.templateAtMs), "templateAtMs must be finite");
  check(meta.reason in REASON_CODES, `unknown reason ${JSON.stringify(meta.reason)}`);
  check(meta.source in SOURCE_CODES, `unknown source ${JSON.stringify(meta.source)}`);
  check(isToken(meta.originRegion), "originRegion must be a subject token");
  check(isToken(meta.network), "network must be a subject token");
  return 8 + 4 + 8 + 8 + 3 + 1 + meta.originRegion.length + 1 + meta.network.length;
}

/** Writes the metadata (checked by {@link metaSize}). */
export function writeMeta(w: ByteWriter, meta: TemplateMessageMeta): void {
  w.f64(meta.epoch);
  w.u32(meta.sequence);
  w.f64(meta.sentAtMs);
  w.f64(meta.templateAtMs);
  w.u8(REASON_CODES[meta.reason]);
  w.u8(SOURCE_CODES[meta.source]);
  w.u8(meta.cleanJobs ? 1 : 0);
  w.str8(meta.originRegion);
  w.str8(meta.network);
}

/** Reads and checks the metadata. */
export function readMeta(r: ByteReader): TemplateMessageMeta {
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
  };
}

/**
 * Checks a template's fields besides its transactions and returns their encoded size.
 *
 * @param txCount the template's transaction count (the merkle branch must fit it)
 */
export function headSize(t: TemplateHead, txCount: number, check: Check): number {
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
  let size = 5 * 4 + HASH_BYTES + 8 + 1;
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
    txCount <= MAX_TEMPLATE_TRANSACTIONS,
    `more than ${MAX_TEMPLATE_TRANSACTIONS} transactions`,
  );
  check(
    t.merkleBranch.length === merkleBranchLength(txCount) &&
      t.merkleBranch.every((h) => h.length === HASH_BYTES),
    `merkle branch must be ${merkleBranchLength(txCount)} hashes of 32 bytes`,
  );
  return size + 1 + HASH_BYTES * t.merkleBranch.length;
}

/** Writes a template's fields besides its transactions (checked by {@link headSize}). */
export function writeHead(w: ByteWriter, t: TemplateHead): void {
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
}

/**
 * Reads and checks a template's fields besides its transactions. The caller checks the merkle
 * branch against the transactions ({@link checkMerkleBranch}).
 */
export function readHead(r: ByteReader): TemplateHead {
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
  return {
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
    merkleBranch,
  };
}

/**
 * Checks that a merkle branch fits the transactions: the length their count implies, starting
 * with the first txid.
 *
 * @param fail makes the error for a field and its problem (a reader's `SyntaxError`)
 */
export function checkMerkleBranch(
  merkleBranch: readonly Uint8Array[],
  transactions: readonly TemplateTransaction[],
  fail: (field: string, problem: string) => Error,
): void {
  const txCount = transactions.length;
  if (merkleBranch.length !== merkleBranchLength(txCount)) {
    throw fail(
      "merkle branch length",
      `${merkleBranch.length} does not fit ${txCount} transactions (expected ${
        merkleBranchLength(txCount)
      })`,
    );
  }
  if (txCount > 0 && !bytesEqual(merkleBranch[0]!, transactions[0]!.txid)) {
    throw fail("merkleBranch[0]", "is not the first transaction's txid");
  }
}

/** Checks one transaction before encoding; `index` names it in errors. */
export function checkTransaction(tx: TemplateTransaction, index: number, check: Check): void {
  const fee = Number(tx.feeSats);
  check(
    tx.txid.length === HASH_BYTES && tx.wtxid.length === HASH_BYTES,
    `transaction ${index} hashes must be 32 bytes`,
  );
  check(
    tx.data.length > 0 && tx.data.length <= MAX_TRANSACTION_BYTES,
    `transaction ${index} size ${tx.data.length} out of range`,
  );
  check(Number.isSafeInteger(fee) && fee >= 0, `transaction ${index} fee out of range`);
  check(
    Number.isInteger(tx.weight) && tx.weight >= 0 && tx.weight <= MAX_WEIGHT,
    `transaction ${index} weight out of range`,
  );
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

/** Writes one transaction (checked by {@link checkTransaction}). */
export function writeTransaction(w: ByteWriter, tx: TemplateTransaction): void {
  const distinct = !bytesEqual(tx.txid, tx.wtxid);
  w.u8(distinct ? TX_DISTINCT_WTXID : 0);
  w.varuint(Number(tx.feeSats));
  w.varuint(tx.weight);
  w.varuint(tx.data.length);
  w.bytes(tx.txid);
  if (distinct) w.bytes(tx.wtxid);
  w.bytes(tx.data);
}

/** Reads one transaction; `index` names it in errors. */
export function readTransaction(r: ByteReader, index: number): TemplateTransaction {
  const where = `transactions[${index}]`;
  const flags = r.u8(`${where}.flags`);
  if ((flags & ~TX_DISTINCT_WTXID) !== 0) {
    throw r.error(`${where}.flags`, `0x${flags.toString(16)} has unknown bits`);
  }
  const fee = r.varuint(`${where}.fee`, Number.MAX_SAFE_INTEGER);
  const weight = r.varuint(`${where}.weight`, MAX_WEIGHT);
  const size = r.varuint(`${where}.size`, MAX_TRANSACTION_BYTES);
  if (size === 0) throw r.error(`${where}.size`, "is 0");
  const txid = r.bytes(HASH_BYTES, `${where}.txid`);
  const wtxid = (flags & TX_DISTINCT_WTXID) === 0 ? txid : r.bytes(HASH_BYTES, `${where}.wtxid`);
  const data = r.bytes(size, `${where}.data`);
  return { data, txid, wtxid, feeSats: BigInt(fee), weight };
}

/** Fewer bytes than any transaction takes (flags, three varints, a txid, data): bounds counts. */
export const MIN_TRANSACTION_WIRE_BYTES = 4 + HASH_BYTES;
