/**
 * Block and transaction deserialization following Bitcoin Core's stream rules (canonical
 * CompactSize, the segwit marker/flag handling, "Superfluous witness record").
 *
 * @module
 */
import { concatBytes, hashToDisplayHex, sha256d } from "./bytes.ts";

/** Core's MAX_SIZE for CompactSize-prefixed vectors. */
const MAX_VECTOR_SIZE = 0x02000000;

/** A transaction input as serialized. */
export interface TxIn {
  /** Previous txid in internal byte order. */
  readonly prevTxid: Uint8Array;
  readonly prevVout: number;
  readonly scriptSig: Uint8Array;
  readonly sequence: number;
  /** Witness stack; empty when the input has no witness. */
  witness: Uint8Array[];
}

/** A transaction output as serialized. */
export interface TxOut {
  readonly valueSats: bigint;
  readonly script: Uint8Array;
}

/** A parsed transaction with its ids computed. */
export interface ParsedTx {
  readonly version: number;
  readonly inputs: TxIn[];
  readonly outputs: TxOut[];
  readonly locktime: number;
  /** Serialization without witness (what the txid commits to). */
  readonly baseBytes: Uint8Array;
  /** Full serialization (with witness when present). */
  readonly fullBytes: Uint8Array;
  /** Display-order hex txid. */
  readonly txid: string;
  /** Display-order hex wtxid (equals txid without witness). */
  readonly wtxid: string;
  /** Internal-order txid bytes. */
  readonly txidBytes: Uint8Array;
  /** Internal-order wtxid bytes. */
  readonly wtxidBytes: Uint8Array;
  readonly hasWitness: boolean;
  /** BIP141 weight: base size * 3 + total size. */
  readonly weight: number;
}

/** A parsed 80-byte block header. */
export interface ParsedHeader {
  readonly version: number;
  /** Internal-order previous block hash. */
  readonly prevHash: Uint8Array;
  /** Internal-order merkle root. */
  readonly merkleRoot: Uint8Array;
  readonly time: number;
  readonly bits: number;
  readonly nonce: number;
  /** The 80 header bytes. */
  readonly bytes: Uint8Array;
  /** Internal-order block hash. */
  readonly hash: Uint8Array;
  /** Display-order block hash hex. */
  readonly hashHex: string;
}

/** A parsed block. */
export interface ParsedBlock {
  readonly header: ParsedHeader;
  readonly txs: ParsedTx[];
}

/** Sequential reader over a byte array; every overrun throws RangeError. */
export class ByteReader {
  #view: DataView;
  /** Current read offset. */
  offset = 0;

  /** Wraps the given bytes. */
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(count: number): void {
    if (this.offset + count > this.bytes.length) {
      throw new RangeError(`Cannot read ${count} bytes: end of data at ${this.offset}`);
    }
  }

  /** Reads `count` bytes (a copy). */
  take(count: number): Uint8Array {
    this.#need(count);
    const out = this.bytes.slice(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }

  /** Reads a uint8. */
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.offset++);
  }

  /** Reads a little-endian uint32. */
  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  /** Reads a little-endian int32. */
  i32(): number {
    this.#need(4);
    const value = this.#view.getInt32(this.offset, true);
    this.offset += 4;
    return value;
  }

  /** Reads a little-endian int64. */
  i64(): bigint {
    this.#need(8);
    const value = this.#view.getBigInt64(this.offset, true);
    this.offset += 8;
    return value;
  }

  /** Reads a CompactSize, rejecting non-canonical encodings and sizes above MAX_SIZE as Core does. */
  compactSize(): number {
    const first = this.u8();
    let value: number;
    if (first < 0xfd) return first;
    if (first === 0xfd) {
      this.#need(2);
      value = this.#view.getUint16(this.offset, true);
      this.offset += 2;
      if (value < 0xfd) throw new RangeError("Cannot read CompactSize: non-canonical");
    } else if (first === 0xfe) {
      value = this.u32();
      if (value < 0x10000) throw new RangeError("Cannot read CompactSize: non-canonical");
    } else {
      const big = this.i64();
      if (big < 0x100000000n) throw new RangeError("Cannot read CompactSize: non-canonical");
      throw new RangeError("Cannot read CompactSize: size too large");
    }
    if (value > MAX_VECTOR_SIZE) throw new RangeError("Cannot read CompactSize: size too large");
    return value;
  }

  /** Reads a CompactSize-prefixed byte vector. */
  varBytes(): Uint8Array {
    return this.take(this.compactSize());
  }
}

/** Encodes a CompactSize. */
export function encodeCompactSize(value: number): Uint8Array {
  if (value < 0xfd) return Uint8Array.of(value);
  if (value <= 0xffff) return Uint8Array.of(0xfd, value & 0xff, value >>> 8);
  const out = new Uint8Array(5);
  out[0] = 0xfe;
  new DataView(out.buffer).setUint32(1, value, true);
  return out;
}

function readInputs(reader: ByteReader): TxIn[] {
  const count = reader.compactSize();
  const inputs: TxIn[] = [];
  for (let i = 0; i < count; i++) {
    inputs.push({
      prevTxid: reader.take(32),
      prevVout: reader.u32(),
      scriptSig: reader.varBytes(),
      sequence: reader.u32(),
      witness: [],
    });
  }
  return inputs;
}

function readOutputs(reader: ByteReader): TxOut[] {
  const count = reader.compactSize();
  const outputs: TxOut[] = [];
  for (let i = 0; i < count; i++) {
    outputs.push({ valueSats: reader.i64(), script: reader.varBytes() });
  }
  return outputs;
}

/**
 * Reads one transaction at the reader's offset, the way Core's `UnserializeTransaction` does.
 *
 * @throws {RangeError} on truncated or malformed data.
 */
export function readTx(reader: ByteReader): ParsedTx {
  const start = reader.offset;
  const version = reader.i32();
  const afterVersion = reader.offset;
  let flags = 0;
  let inputs = readInputs(reader);
  let outputs: TxOut[] = [];
  let bodyStart = afterVersion;
  if (inputs.length === 0) {
    flags = reader.u8();
    if (flags !== 0) {
      bodyStart = reader.offset;
      inputs = readInputs(reader);
      outputs = readOutputs(reader);
    }
  } else {
    outputs = readOutputs(reader);
  }
  const bodyEnd = reader.offset;
  let hasWitness = false;
  if ((flags & 1) !== 0) {
    flags ^= 1;
    for (const input of inputs) {
      const items = reader.compactSize();
      for (let j = 0; j < items; j++) input.witness.push(reader.varBytes());
      if (input.witness.length > 0) hasWitness = true;
    }
    if (!hasWitness) throw new RangeError("Cannot read transaction: superfluous witness record");
  }
  if (flags !== 0) throw new RangeError("Cannot read transaction: unknown optional data");
  const locktimeStart = reader.offset;
  const locktime = reader.u32();
  const fullBytes = reader.bytes.slice(start, reader.offset);
  const baseBytes = hasWitness
    ? concatBytes(
      reader.bytes.subarray(start, afterVersion),
      reader.bytes.subarray(bodyStart, bodyEnd),
      reader.bytes.subarray(locktimeStart, reader.offset),
    )
    : fullBytes;
  const txidBytes = sha256d(baseBytes);
  const wtxidBytes = hasWitness ? sha256d(fullBytes) : txidBytes;
  return {
    version,
    inputs,
    outputs,
    locktime,
    baseBytes,
    fullBytes,
    txid: hashToDisplayHex(txidBytes),
    wtxid: hashToDisplayHex(wtxidBytes),
    txidBytes,
    wtxidBytes,
    hasWitness,
    weight: baseBytes.length * 3 + fullBytes.length,
  };
}

/**
 * Parses a standalone transaction.
 *
 * @throws {RangeError} on malformed data or trailing bytes.
 */
export function parseTx(bytes: Uint8Array): ParsedTx {
  const reader = new ByteReader(bytes);
  const tx = readTx(reader);
  if (reader.offset !== bytes.length) throw new RangeError("Cannot parse transaction: trailing");
  return tx;
}

/** Parses an 80-byte header and hashes it. */
export function parseHeader(bytes: Uint8Array): ParsedHeader {
  if (bytes.length !== 80) throw new RangeError(`Cannot parse header: ${bytes.length} bytes`);
  const reader = new ByteReader(bytes);
  const version = reader.i32();
  const prevHash = reader.take(32);
  const merkleRoot = reader.take(32);
  const time = reader.u32();
  const bits = reader.u32();
  const nonce = reader.u32();
  const hash = sha256d(bytes);
  return {
    version,
    prevHash,
    merkleRoot,
    time,
    bits,
    nonce,
    bytes: Uint8Array.from(bytes),
    hash,
    hashHex: hashToDisplayHex(hash),
  };
}

/**
 * Parses a block the way Core's `DecodeHexBlk` does (trailing bytes are ignored, as in Core).
 *
 * @throws {RangeError} on malformed data.
 */
export function parseBlock(bytes: Uint8Array): ParsedBlock {
  const reader = new ByteReader(bytes);
  const header = parseHeader(reader.take(80));
  const count = reader.compactSize();
  const txs: ParsedTx[] = [];
  for (let i = 0; i < count; i++) txs.push(readTx(reader));
  return { header, txs };
}

/** Serializes a header from its fields. */
export function serializeHeader(fields: {
  version: number;
  prevHash: Uint8Array;
  merkleRoot: Uint8Array;
  time: number;
  bits: number;
  nonce: number;
}): Uint8Array {
  const out = new Uint8Array(80);
  const view = new DataView(out.buffer);
  view.setInt32(0, fields.version, true);
  out.set(fields.prevHash, 4);
  out.set(fields.merkleRoot, 36);
  view.setUint32(68, fields.time >>> 0, true);
  view.setUint32(72, fields.bits >>> 0, true);
  view.setUint32(76, fields.nonce >>> 0, true);
  return out;
}

/** Serializes a transaction, with witness when any input carries one. */
export function serializeTx(tx: {
  version: number;
  inputs: readonly TxIn[];
  outputs: readonly TxOut[];
  locktime: number;
}): Uint8Array {
  const withWitness = tx.inputs.some((input) => input.witness.length > 0);
  const parts: Uint8Array[] = [];
  const version = new Uint8Array(4);
  new DataView(version.buffer).setInt32(0, tx.version, true);
  parts.push(version);
  if (withWitness) parts.push(Uint8Array.of(0, 1));
  parts.push(encodeCompactSize(tx.inputs.length));
  for (const input of tx.inputs) {
    const fixed = new Uint8Array(4);
    new DataView(fixed.buffer).setUint32(0, input.prevVout, true);
    const sequence = new Uint8Array(4);
    new DataView(sequence.buffer).setUint32(0, input.sequence, true);
    parts.push(input.prevTxid, fixed, encodeCompactSize(input.scriptSig.length), input.scriptSig);
    parts.push(sequence);
  }
  parts.push(encodeCompactSize(tx.outputs.length));
  for (const output of tx.outputs) {
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigInt64(0, output.valueSats, true);
    parts.push(value, encodeCompactSize(output.script.length), output.script);
  }
  if (withWitness) {
    for (const input of tx.inputs) {
      parts.push(encodeCompactSize(input.witness.length));
      for (const item of input.witness) parts.push(encodeCompactSize(item.length), item);
    }
  }
  const locktime = new Uint8Array(4);
  new DataView(locktime.buffer).setUint32(0, tx.locktime, true);
  parts.push(locktime);
  return concatBytes(...parts);
}

/** Serializes a whole block from header bytes and full transaction serializations. */
export function serializeBlock(headerBytes: Uint8Array, txs: readonly Uint8Array[]): Uint8Array {
  return concatBytes(headerBytes, encodeCompactSize(txs.length), ...txs);
}

/** Re-reads a transaction after its witness changed (used when Core fills the coinbase nonce). */
export function withWitness(tx: ParsedTx, inputIndex: number, witness: Uint8Array[]): ParsedTx {
  const inputs = tx.inputs.map((input, i) =>
    i === inputIndex ? { ...input, witness } : { ...input, witness: [...input.witness] }
  );
  return parseTx(serializeTx({ ...tx, inputs }));
}

/** Core's `IsCoinBase`: exactly one input whose prevout is null (zero hash, index 0xffffffff). */
export function isCoinbaseTx(tx: { inputs: readonly TxIn[] }): boolean {
  const input = tx.inputs[0];
  return tx.inputs.length === 1 && input !== undefined && input.prevVout === 0xffffffff &&
    input.prevTxid.every((byte) => byte === 0);
}
