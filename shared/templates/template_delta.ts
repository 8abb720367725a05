/**
 * The template delta: a template message that carries only what changed since an earlier
 * template (its base). Consecutive templates share most transactions (a refresh adds a few and
 * drops a few), so instead of every transaction the delta lists runs of "transactions
 * `start … start+count-1` of the base" and, between them, the new transactions in full. Every
 * other field (metadata, header fields, coinbase value, witness commitment, rules, merkle
 * branch) is carried in full, exactly as in the full message.
 *
 * Binary, little-endian, format 1 (sizes in bytes); the sections shared with the full message
 * ({@link ./template_codec.ts}) are laid out the same way:
 *
 * ```
 * "TBGD" 4 | format 1 | flags 1 (0)
 * metadata, as in the full message (epoch … network)
 * base: epoch f64 | sequence u32 | txCount u32 | digest 32 (see templateDigest)
 * template fields besides transactions, as in the full message (height … merkle branch)
 * txCount u32, then segments until txCount transactions are listed:
 *   op u8 = 1 (copy): start varuint | count varuint        transactions of the base
 *   op u8 = 2 (new):  count varuint | count transactions   as in the full message
 * ```
 *
 * A template is named by the primary's (epoch, sequence): the publisher's run and its template
 * counter. The delta names its base that way, with the base's transaction count and a digest of
 * its wtxids; {@link applyTemplateDelta} refuses any other base with a
 * {@link TemplateBaseMismatchError}, so a relay never builds a wrong template, it fetches the
 * full one instead.
 *
 * Decoding ({@link decodeTemplateDelta}) needs no base and checks as strictly as the full
 * codec: every length against the bytes left, every count against its limit (copy runs inside
 * the base's declared size, no run past the declared count), the message against a size cap.
 *
 * @module
 */
import { sha256 } from "../bitcoin/hash.ts";
import { MAX_TEMPLATE_TRANSACTIONS, type TemplateTransaction } from "../engine/template.ts";
import { ByteReader, ByteWriter, varuintSize } from "./_bytes.ts";
import {
  bytesEqual,
  checker,
  checkMerkleBranch,
  checkTransaction,
  expectPreamble,
  HASH_BYTES,
  headSize,
  isU32,
  merkleBranchLength,
  metaSize,
  MIN_TRANSACTION_WIRE_BYTES,
  readHead,
  readMeta,
  readTransaction,
  type TemplateContent,
  type TemplateHead,
  type TemplateMessage,
  type TemplateMessageMeta,
  transactionWireSize,
  writeHead,
  writeMeta,
  writeTransaction,
} from "./_template_wire.ts";
import {
  checkMessageSize,
  type DecodedTemplateMessage,
  type DecodeTemplateOptions,
  DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES,
  TEMPLATE_MESSAGE_MAGIC,
} from "./template_codec.ts";

/** First four bytes of every template delta. */
export const TEMPLATE_DELTA_MAGIC: Uint8Array = new TextEncoder().encode("TBGD");

/** Format version of the delta this module writes and reads. */
export const TEMPLATE_DELTA_FORMAT = 1;

/** Wire codes of the segment kinds; never renumber. */
const OP_COPY = 1;
const OP_NEW = 2;

/** One template as the primary numbers it: its run (epoch) and sequence in that run. */
export interface TemplateId {
  /** The publisher's run (its start time, ms since the epoch). */
  readonly epoch: number;
  /** The template's sequence in that run (from 1). */
  readonly sequence: number;
}

/** A template a delta is computed from or applied to. */
export interface TemplateBase extends TemplateId {
  readonly template: TemplateContent;
}

/** How a delta names its base. */
export interface TemplateBaseRef extends TemplateId {
  /** The base's transaction count. */
  readonly txCount: number;
  /** {@link templateDigest} of the base. */
  readonly digest: Uint8Array;
}

/** Segment kinds of a delta. */
export const DeltaSegmentKind = {
  /** A run of the base's transactions. */
  copy: "copy",
  /** Transactions carried in full. */
  new: "new",
} as const;

/** One of {@link DeltaSegmentKind}. */
export type DeltaSegmentKind = typeof DeltaSegmentKind[keyof typeof DeltaSegmentKind];

/** One run of a delta's transaction list. */
export type TemplateDeltaSegment =
  | {
    readonly kind: typeof DeltaSegmentKind.copy;
    /** Index of the first base transaction. */
    readonly start: number;
    readonly count: number;
  }
  | {
    readonly kind: typeof DeltaSegmentKind.new;
    /** The transactions (views into the message). */
    readonly transactions: readonly TemplateTransaction[];
  };

/** A decoded, validated delta; {@link applyTemplateDelta} makes the template from it. */
export interface DecodedTemplateDelta extends TemplateMessageMeta {
  readonly base: TemplateBaseRef;
  /** The template's fields besides its transactions. */
  readonly head: TemplateHead;
  /** Transactions of the template the delta makes. */
  readonly txCount: number;
  readonly segments: readonly TemplateDeltaSegment[];
  /** Encoded size, bytes. */
  readonly sizeBytes: number;
}

/**
 * A delta whose base is not the template given: another template, or the same id with other
 * content. The caller needs the full template (which names no base).
 */
export class TemplateBaseMismatchError extends Error {
  override name = "TemplateBaseMismatchError";
  /** The base the delta needs. */
  readonly base: TemplateBaseRef;
  /** The template that was offered as base, or null when there was none. */
  readonly held: TemplateId | null;

  /**
   * @param base the base the delta names
   * @param held the template offered instead
   * @param problem what differs
   */
  constructor(base: TemplateBaseRef, held: TemplateId | null, problem: string) {
    super(
      `Cannot apply template delta: it needs template ${base.epoch}-${base.sequence} ` +
        `(${base.txCount} transactions) as base, ${problem}`,
    );
    this.base = base;
    this.held = held;
  }
}

/**
 * Orders template ids: by epoch, then sequence.
 *
 * @returns negative when `a` is older than `b`, 0 when equal, positive when newer
 */
export function compareTemplateIds(a: TemplateId, b: TemplateId): number {
  return a.epoch !== b.epoch ? a.epoch - b.epoch : a.sequence - b.sequence;
}

const digests = new WeakMap<readonly TemplateTransaction[], Uint8Array>();

/**
 * SHA-256 of the template's wtxids in order: what a delta's copy runs depend on (a wtxid
 * commits to the whole transaction). Computed once per transaction list (about 0.1 ms for
 * 2,000 transactions) and cached.
 *
 * @param template any template
 * @returns the 32-byte digest
 */
export function templateDigest(template: Pick<TemplateContent, "transactions">): Uint8Array {
  const txs = template.transactions;
  let digest = digests.get(txs);
  if (digest === undefined) {
    const all = new Uint8Array(txs.length * HASH_BYTES);
    for (let i = 0; i < txs.length; i++) all.set(txs[i]!.wtxid, i * HASH_BYTES);
    digest = sha256(all);
    digests.set(txs, digest);
  }
  return digest;
}

/**
 * 52 bits of a wtxid as a number: a cheap map key. Two transactions sharing one is harmless:
 * a match is checked byte for byte, and a transaction not found travels in full.
 */
function wtxidKey(wtxid: Uint8Array): number {
  const low = (wtxid[0]! | wtxid[1]! << 8 | wtxid[2]! << 16 | wtxid[3]! << 24) >>> 0;
  const high = wtxid[4]! | wtxid[5]! << 8 | (wtxid[6]! & 0x0f) << 16;
  return high * 0x1_0000_0000 + low;
}

const indexes = new WeakMap<readonly TemplateTransaction[], Map<number, number>>();

/** Position of each transaction by wtxid, built once per base. */
function indexOf(txs: readonly TemplateTransaction[]): Map<number, number> {
  let index = indexes.get(txs);
  if (index === undefined) {
    index = new Map();
    for (let i = 0; i < txs.length; i++) index.set(wtxidKey(txs[i]!.wtxid), i);
    indexes.set(txs, index);
  }
  return index;
}

function sameTransaction(a: TemplateTransaction, b: TemplateTransaction): boolean {
  return a.feeSats === b.feeSats && a.weight === b.weight && a.data.length === b.data.length &&
    bytesEqual(a.wtxid, b.wtxid) && bytesEqual(a.txid, b.txid);
}

/** The runs that make `txs` from `base`. */
function segmentsFor(
  txs: readonly TemplateTransaction[],
  base: readonly TemplateTransaction[],
): TemplateDeltaSegment[] {
  const index = indexOf(base);
  const segments: (
    | { kind: "copy"; start: number; count: number }
    | { kind: "new"; transactions: TemplateTransaction[] }
  )[] = [];
  for (const tx of txs) {
    const at = index.get(wtxidKey(tx.wtxid));
    const last = segments.at(-1);
    if (at !== undefined && sameTransaction(base[at]!, tx)) {
      if (last?.kind === DeltaSegmentKind.copy && last.start + last.count === at) last.count++;
      else segments.push({ kind: DeltaSegmentKind.copy, start: at, count: 1 });
    } else if (last?.kind === DeltaSegmentKind.new) {
      last.transactions.push(tx);
    } else {
      segments.push({ kind: DeltaSegmentKind.new, transactions: [tx] });
    }
  }
  return segments;
}

const check = checker("template delta");

/**
 * Encodes `message` as a delta against `base`.
 *
 * @param message the template and its metadata
 * @param base an earlier template of the same publisher run (what relays hold)
 * @returns the delta's bytes; compare with the full message's size to pick the smaller
 * @throws {RangeError} naming the field when a value cannot be represented (as
 *   `encodeTemplateMessage`), or when the base is not older than the message
 */
export function encodeTemplateDelta(message: TemplateMessage, base: TemplateBase): Uint8Array {
  const t = message.template;
  let size = 4 + 1 + 1 + metaSize(message, check);
  check(
    Number.isSafeInteger(base.epoch) && base.epoch >= 0 && isU32(base.sequence) &&
      base.sequence > 0,
    "base epoch must be an integer ≥ 0 and its sequence in [1, 2^32)",
  );
  check(
    compareTemplateIds(base, message) < 0,
    `base ${base.epoch}-${base.sequence} is not older than ${message.epoch}-${message.sequence}`,
  );
  check(
    base.template.transactions.length <= MAX_TEMPLATE_TRANSACTIONS,
    `base has more than ${MAX_TEMPLATE_TRANSACTIONS} transactions`,
  );
  size += 8 + 4 + 4 + HASH_BYTES;
  size += headSize(t, t.transactions.length, check) + 4;
  const segments = segmentsFor(t.transactions, base.template.transactions);
  let produced = 0;
  for (const segment of segments) {
    if (segment.kind === DeltaSegmentKind.copy) {
      size += 1 + varuintSize(segment.start) + varuintSize(segment.count);
      produced += segment.count;
    } else {
      size += 1 + varuintSize(segment.transactions.length);
      for (const tx of segment.transactions) {
        checkTransaction(tx, produced++, check);
        size += transactionWireSize(tx);
      }
    }
  }
  const w = new ByteWriter(size);
  w.bytes(TEMPLATE_DELTA_MAGIC);
  w.u8(TEMPLATE_DELTA_FORMAT);
  w.u8(0);
  writeMeta(w, message);
  w.f64(base.epoch);
  w.u32(base.sequence);
  w.u32(base.template.transactions.length);
  w.bytes(templateDigest(base.template));
  writeHead(w, t);
  w.u32(t.transactions.length);
  for (const segment of segments) {
    if (segment.kind === DeltaSegmentKind.copy) {
      w.u8(OP_COPY);
      w.varuint(segment.start);
      w.varuint(segment.count);
    } else {
      w.u8(OP_NEW);
      w.varuint(segment.transactions.length);
      for (const tx of segment.transactions) writeTransaction(w, tx);
    }
  }
  return w.finish();
}

/**
 * Decodes and validates a delta (without its base).
 *
 * @param bytes the message as received
 * @param options size cap ({@link DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES} unless given)
 * @returns the delta; apply it with {@link applyTemplateDelta}
 * @throws {RangeError} when the message is larger than the cap
 * @throws {SyntaxError} naming the field for anything malformed: wrong magic or format, unknown
 *   flags, codes or segment kinds, a base that is not older than the message, a run outside the
 *   base or past the transaction count, a length past the end, trailing bytes
 */
export function decodeTemplateDelta(
  bytes: Uint8Array,
  options: DecodeTemplateOptions = {},
): DecodedTemplateDelta {
  checkMessageSize(bytes, options.maxBytes ?? DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES, "template delta");
  const r = new ByteReader(bytes, "template delta");
  expectPreamble(r, TEMPLATE_DELTA_MAGIC, TEMPLATE_DELTA_FORMAT, "template delta");
  const meta = readMeta(r);
  const baseEpoch = r.f64("base epoch");
  if (!Number.isSafeInteger(baseEpoch) || baseEpoch < 0) {
    throw r.error("base epoch", "is not an integer ≥ 0");
  }
  const baseSequence = r.u32("base sequence");
  if (baseSequence === 0) throw r.error("base sequence", "is 0");
  if (compareTemplateIds({ epoch: baseEpoch, sequence: baseSequence }, meta) >= 0) {
    throw r.error(
      "base",
      `${baseEpoch}-${baseSequence} is not older than the delta (${meta.epoch}-${meta.sequence})`,
    );
  }
  const baseTxCount = r.u32("base transaction count");
  if (baseTxCount > MAX_TEMPLATE_TRANSACTIONS) {
    throw r.error(
      "base transaction count",
      `${baseTxCount} is above ${MAX_TEMPLATE_TRANSACTIONS}`,
    );
  }
  const digest = r.bytes(HASH_BYTES, "base digest");
  const head = readHead(r);
  const txCount = r.u32("transaction count");
  if (txCount > MAX_TEMPLATE_TRANSACTIONS) {
    throw r.error("transaction count", `${txCount} is above ${MAX_TEMPLATE_TRANSACTIONS}`);
  }
  if (head.merkleBranch.length !== merkleBranchLength(txCount)) {
    throw r.error(
      "merkle branch length",
      `${head.merkleBranch.length} does not fit ${txCount} transactions (expected ${
        merkleBranchLength(txCount)
      })`,
    );
  }
  const segments: TemplateDeltaSegment[] = [];
  // Every segment lists at least one transaction, so this loop runs at most txCount times.
  for (let produced = 0; produced < txCount;) {
    const where = `segments[${segments.length}]`;
    const op = r.u8(`${where}.op`);
    const left = txCount - produced;
    if (op === OP_COPY) {
      const start = r.varuint(`${where}.start`, baseTxCount);
      const count = r.varuint(`${where}.count`, left);
      if (count === 0) throw r.error(`${where}.count`, "is 0");
      if (start + count > baseTxCount) {
        throw r.error(
          where,
          `copies base transactions ${start}…${start + count - 1}, the base has ${baseTxCount}`,
        );
      }
      segments.push({ kind: DeltaSegmentKind.copy, start, count });
      produced += count;
    } else if (op === OP_NEW) {
      const count = r.varuint(`${where}.count`, left);
      if (count === 0) throw r.error(`${where}.count`, "is 0");
      if (count * MIN_TRANSACTION_WIRE_BYTES > r.remaining) {
        throw r.error(`${where}.count`, `${count} cannot fit in the ${r.remaining} bytes left`);
      }
      const transactions: TemplateTransaction[] = new Array(count);
      for (let i = 0; i < count; i++) transactions[i] = readTransaction(r, produced + i);
      segments.push({ kind: DeltaSegmentKind.new, transactions });
      produced += count;
    } else {
      throw r.error(`${where}.op`, `code ${op} is unknown`);
    }
  }
  r.end();
  return {
    ...meta,
    base: { epoch: baseEpoch, sequence: baseSequence, txCount: baseTxCount, digest },
    head,
    txCount,
    segments,
    sizeBytes: bytes.length,
  };
}

/**
 * Makes the template a delta describes from its base.
 *
 * @param delta a decoded delta
 * @param base the template held (null when none is)
 * @returns the message as if the full template had been received (`sizeBytes` is the delta's);
 *   its transactions are the base's and the delta's own objects (views into both buffers)
 * @throws {TemplateBaseMismatchError} when `base` is not the delta's base: another id, another
 *   transaction count, or other transactions under the same id
 * @throws {SyntaxError} when the result's first transaction is not the merkle branch's first
 *   hash (a corrupt delta)
 */
export function applyTemplateDelta(
  delta: DecodedTemplateDelta,
  base: TemplateBase | null,
): DecodedTemplateMessage {
  const want = delta.base;
  if (base === null) throw new TemplateBaseMismatchError(want, null, "no template is held");
  const held = { epoch: base.epoch, sequence: base.sequence };
  const baseTxs = base.template.transactions;
  if (compareTemplateIds(want, base) !== 0) {
    throw new TemplateBaseMismatchError(
      want,
      held,
      `the template held is ${base.epoch}-${base.sequence}`,
    );
  }
  if (baseTxs.length !== want.txCount) {
    throw new TemplateBaseMismatchError(
      want,
      held,
      `the template held under that id has ${baseTxs.length} transactions`,
    );
  }
  if (!bytesEqual(templateDigest(base.template), want.digest)) {
    throw new TemplateBaseMismatchError(
      want,
      held,
      "the template held under that id has other transactions (digest differs)",
    );
  }
  const transactions: TemplateTransaction[] = new Array(delta.txCount);
  let at = 0;
  for (const segment of delta.segments) {
    if (segment.kind === DeltaSegmentKind.copy) {
      for (let i = 0; i < segment.count; i++) transactions[at++] = baseTxs[segment.start + i]!;
    } else {
      for (const tx of segment.transactions) transactions[at++] = tx;
    }
  }
  checkMerkleBranch(
    delta.head.merkleBranch,
    transactions,
    (field, problem) => new SyntaxError(`Cannot decode template delta: ${field} ${problem}`),
  );
  const { base: _base, head, txCount: _count, segments: _segments, sizeBytes, ...meta } = delta;
  return { ...meta, template: { ...head, transactions }, sizeBytes };
}

/** The kinds of template message on the wire. */
export const TemplateWireKind = {
  /** A whole template ({@link ./template_codec.ts}). */
  full: "full",
  /** A delta against an earlier template. */
  delta: "delta",
} as const;

/** One of {@link TemplateWireKind}. */
export type TemplateWireKind = typeof TemplateWireKind[keyof typeof TemplateWireKind];

/**
 * The kind of a template message from its magic, without decoding it.
 *
 * @param bytes a message as received
 * @returns "full", "delta", or null when it is neither (the decoders say what is wrong)
 */
export function templateWireKind(bytes: Uint8Array): TemplateWireKind | null {
  const starts = (magic: Uint8Array) =>
    bytes.length >= magic.length && bytesEqual(bytes.subarray(0, magic.length), magic);
  if (starts(TEMPLATE_MESSAGE_MAGIC)) return TemplateWireKind.full;
  if (starts(TEMPLATE_DELTA_MAGIC)) return TemplateWireKind.delta;
  return null;
}
