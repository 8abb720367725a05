/**
 * Script helpers the devnet needs: output classification, sigop counting as Core counts it,
 * the BIP34 height push and the BIP141 commitment output.
 *
 * @module
 */
import { bytesEqual, concatBytes } from "./bytes.ts";

const OP_0 = 0x00;
const OP_PUSHDATA1 = 0x4c;
const OP_PUSHDATA2 = 0x4d;
const OP_PUSHDATA4 = 0x4e;
const OP_1NEGATE = 0x4f;
const OP_1 = 0x51;
const OP_16 = 0x60;
const OP_RETURN = 0x6a;
const OP_DUP = 0x76;
const OP_EQUAL = 0x87;
const OP_EQUALVERIFY = 0x88;
const OP_HASH160 = 0xa9;
const OP_CHECKSIG = 0xac;
const OP_CHECKSIGVERIFY = 0xad;
const OP_CHECKMULTISIG = 0xae;
const OP_CHECKMULTISIGVERIFY = 0xaf;

/** BIP141 commitment header: OP_RETURN, push 36, 0xaa21a9ed. */
export const WITNESS_COMMITMENT_HEADER = Uint8Array.of(OP_RETURN, 0x24, 0xaa, 0x21, 0xa9, 0xed);

/** Output kinds the devnet distinguishes. */
export const OutputKind = {
  P2PKH: "pubkeyhash",
  P2SH: "scripthash",
  P2WPKH: "witness_v0_keyhash",
  P2WSH: "witness_v0_scripthash",
  P2TR: "witness_v1_taproot",
  WITNESS_UNKNOWN: "witness_unknown",
  NULL_DATA: "nulldata",
  NONSTANDARD: "nonstandard",
} as const;
/** One of {@link OutputKind}; the strings are Core's `scriptPubKey.type` names. */
export type OutputKind = typeof OutputKind[keyof typeof OutputKind];

/** Classifies an output script with Core's type names. */
export function classifyOutput(script: Uint8Array): OutputKind {
  if (
    script.length === 25 && script[0] === OP_DUP && script[1] === OP_HASH160 &&
    script[2] === 20 && script[23] === OP_EQUALVERIFY && script[24] === OP_CHECKSIG
  ) return OutputKind.P2PKH;
  if (
    script.length === 23 && script[0] === OP_HASH160 && script[1] === 20 &&
    script[22] === OP_EQUAL
  ) return OutputKind.P2SH;
  const witness = witnessProgram(script);
  if (witness) {
    if (witness.version === 0 && witness.program.length === 20) return OutputKind.P2WPKH;
    if (witness.version === 0 && witness.program.length === 32) return OutputKind.P2WSH;
    if (witness.version === 1 && witness.program.length === 32) return OutputKind.P2TR;
    return OutputKind.WITNESS_UNKNOWN;
  }
  if (script.length >= 1 && script[0] === OP_RETURN) return OutputKind.NULL_DATA;
  return OutputKind.NONSTANDARD;
}

/** Core's `IsWitnessProgram`: version opcode then one 2..40 byte push, nothing else. */
export function witnessProgram(
  script: Uint8Array,
): { version: number; program: Uint8Array } | null {
  if (script.length < 4 || script.length > 42) return null;
  const first = script[0] ?? -1;
  if (first !== OP_0 && (first < OP_1 || first > OP_16)) return null;
  if ((script[1] ?? 0) + 2 !== script.length) return null;
  return { version: first === OP_0 ? 0 : first - OP_1 + 1, program: script.slice(2) };
}

/** One parsed script element: an opcode and, for pushes, its data. */
export interface ScriptOp {
  readonly opcode: number;
  readonly data: Uint8Array | null;
}

/** Splits a script into operations; returns null when a push runs past the end (as Core's GetOp fails). */
export function parseScript(script: Uint8Array): ScriptOp[] | null {
  const ops: ScriptOp[] = [];
  let i = 0;
  while (i < script.length) {
    const opcode = script[i++] ?? 0;
    let size = -1;
    if (opcode > OP_0 && opcode < OP_PUSHDATA1) size = opcode;
    else if (opcode === OP_PUSHDATA1) {
      if (i + 1 > script.length) return null;
      size = script[i] ?? 0;
      i += 1;
    } else if (opcode === OP_PUSHDATA2) {
      if (i + 2 > script.length) return null;
      size = (script[i] ?? 0) | ((script[i + 1] ?? 0) << 8);
      i += 2;
    } else if (opcode === OP_PUSHDATA4) {
      if (i + 4 > script.length) return null;
      size = new DataView(script.buffer, script.byteOffset + i, 4).getUint32(0, true);
      i += 4;
    }
    if (size >= 0) {
      if (i + size > script.length) return null;
      ops.push({ opcode, data: script.slice(i, i + size) });
      i += size;
    } else {
      ops.push({ opcode, data: opcode === OP_0 ? new Uint8Array(0) : null });
    }
  }
  return ops;
}

/** Core's `CScript::GetSigOpCount(fAccurate)`. */
export function countSigOps(script: Uint8Array, accurate: boolean): number {
  let count = 0;
  let lastOpcode = 0xff;
  let i = 0;
  // Walks opcodes like parseScript but stops silently at a bad push, as Core does.
  while (i < script.length) {
    const opcode = script[i++] ?? 0;
    if (opcode > OP_0 && opcode < OP_PUSHDATA1) i += opcode;
    else if (opcode === OP_PUSHDATA1) i += 1 + (script[i] ?? 0);
    else if (opcode === OP_PUSHDATA2) i += 2 + ((script[i] ?? 0) | ((script[i + 1] ?? 0) << 8));
    else if (opcode === OP_PUSHDATA4) {
      if (i + 4 > script.length) break;
      i += 4 + new DataView(script.buffer, script.byteOffset + i, 4).getUint32(0, true);
    }
    if (i > script.length) break;
    if (opcode === OP_CHECKSIG || opcode === OP_CHECKSIGVERIFY) count++;
    else if (opcode === OP_CHECKMULTISIG || opcode === OP_CHECKMULTISIGVERIFY) {
      if (accurate && lastOpcode >= OP_1 && lastOpcode <= OP_16) count += lastOpcode - OP_1 + 1;
      else count += 20;
    }
    lastOpcode = opcode;
  }
  return count;
}

/** Last push of a push-only script (the P2SH redeem script), or null. */
export function lastPush(script: Uint8Array): Uint8Array | null {
  const ops = parseScript(script);
  if (!ops || ops.length === 0) return null;
  for (const op of ops) if (op.data === null && op.opcode > OP_16) return null;
  return ops[ops.length - 1]?.data ?? null;
}

/** Core's `CScript() << nHeight`: OP_0, OP_1..OP_16, OP_1NEGATE or a minimal CScriptNum push. */
export function heightPush(height: number): Uint8Array {
  if (height === 0) return Uint8Array.of(OP_0);
  if (height === -1) return Uint8Array.of(OP_1NEGATE);
  if (height >= 1 && height <= 16) return Uint8Array.of(OP_1 + height - 1);
  const num = scriptNum(height);
  return concatBytes(Uint8Array.of(num.length), num);
}

/** Minimal CScriptNum encoding of an integer. */
export function scriptNum(value: number): Uint8Array {
  if (value === 0) return new Uint8Array(0);
  const negative = value < 0;
  let abs = Math.abs(value);
  const out: number[] = [];
  while (abs > 0) {
    out.push(abs & 0xff);
    abs = Math.floor(abs / 256);
  }
  const last = out[out.length - 1] ?? 0;
  if (last & 0x80) out.push(negative ? 0x80 : 0);
  else if (negative) out[out.length - 1] = last | 0x80;
  return Uint8Array.from(out);
}

/** Core's `GetWitnessCommitmentIndex`: the last output carrying the BIP141 commitment, or -1. */
export function witnessCommitmentIndex(outputs: readonly { script: Uint8Array }[]): number {
  let found = -1;
  outputs.forEach((output, index) => {
    if (
      output.script.length >= 38 &&
      bytesEqual(output.script.subarray(0, 6), WITNESS_COMMITMENT_HEADER)
    ) found = index;
  });
  return found;
}

/** The BIP141 commitment output script for a commitment hash. */
export function witnessCommitmentScript(commitment: Uint8Array): Uint8Array {
  return concatBytes(WITNESS_COMMITMENT_HEADER, commitment);
}

/** The P2PKH output script for a 20-byte key hash. */
export function p2pkhScript(keyHash: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(OP_DUP, OP_HASH160, 20), keyHash, Uint8Array.of(0x88, 0xac));
}

/** The P2WPKH output script for a 20-byte key hash. */
export function p2wpkhScript(keyHash: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(OP_0, 20), keyHash);
}
