/**
 * Regtest address decoding with Core's `DecodeDestination` rules and error texts, and the
 * `validateaddress` result built from it.
 *
 * @module
 */
import { base58, bech32, bech32m, createBase58check } from "@scure/base";
import { concatBytes, sha256, toHex } from "./bytes.ts";
import { p2pkhScript } from "./script.ts";

const REGTEST_HRP = "bcrt";
const PUBKEY_PREFIX = 111;
const SCRIPT_PREFIX = 196;
const base58check = createBase58check(sha256);

/** A decoded destination. */
export interface Destination {
  /** Canonical encoding (bech32 lowercased). */
  readonly address: string;
  readonly script: Uint8Array;
  readonly isScript: boolean | undefined;
  readonly witness: { readonly version: number; readonly program: Uint8Array } | null;
}

/** Decode result: a destination or Core's error text. */
export type DecodeResult =
  | { readonly ok: true; readonly destination: Destination }
  | { readonly ok: false; readonly error: string };

function witnessScript(version: number, program: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(version === 0 ? 0 : 0x50 + version, program.length), program);
}

function decodeBase58(text: string): DecodeResult {
  let data: Uint8Array;
  try {
    data = base58check.decode(text);
  } catch {
    try {
      base58.decode(text);
      return { ok: false, error: "Invalid checksum or length of Base58 address (P2PKH or P2SH)" };
    } catch {
      return { ok: false, error: "Invalid or unsupported Segwit (Bech32) or Base58 encoding." };
    }
  }
  const hash = data.slice(1);
  if (data.length === 21 && data[0] === PUBKEY_PREFIX) {
    return {
      ok: true,
      destination: { address: text, script: p2pkhScript(hash), isScript: false, witness: null },
    };
  }
  if (data.length === 21 && data[0] === SCRIPT_PREFIX) {
    const script = concatBytes(Uint8Array.of(0xa9, 20), hash, Uint8Array.of(0x87));
    return { ok: true, destination: { address: text, script, isScript: true, witness: null } };
  }
  if (data.length >= 1 && (data[0] === PUBKEY_PREFIX || data[0] === SCRIPT_PREFIX)) {
    return { ok: false, error: "Invalid length for Base58 address (P2PKH or P2SH)" };
  }
  return { ok: false, error: "Invalid or unsupported Base58-encoded address." };
}

function decodeSegwit(text: string): DecodeResult {
  let decoded: { prefix: string; words: number[] } | null = null;
  let isBech32m = false;
  try {
    decoded = bech32.decode(text as `${string}1${string}`, 90);
  } catch {
    try {
      decoded = bech32m.decode(text as `${string}1${string}`, 90);
      isBech32m = true;
    } catch {
      return { ok: false, error: "Invalid Bech32 checksum" };
    }
  }
  const [version, ...words] = decoded.words;
  if (version === undefined) return { ok: false, error: "Empty Bech32 data section" };
  if (decoded.prefix !== REGTEST_HRP) {
    return {
      ok: false,
      error:
        `Invalid or unsupported prefix for Segwit (Bech32) address (expected ${REGTEST_HRP}, got ${decoded.prefix}).`,
    };
  }
  if (version === 0 && isBech32m) {
    return { ok: false, error: "Version 0 witness address must use Bech32 checksum" };
  }
  if (version !== 0 && !isBech32m) {
    return { ok: false, error: "Version 1+ witness address must use Bech32m checksum" };
  }
  let program: Uint8Array;
  try {
    program = Uint8Array.from(bech32.fromWords(words));
  } catch {
    return { ok: false, error: "Invalid padding in Bech32 data section" };
  }
  if (version === 0 && program.length !== 20 && program.length !== 32) {
    const unit = program.length === 1 ? "byte" : "bytes";
    return {
      ok: false,
      error: `Invalid Bech32 v0 address program size (${program.length} ${unit}), per BIP141`,
    };
  }
  if (version > 16) return { ok: false, error: "Invalid Bech32 address witness version" };
  if (program.length < 2 || program.length > 40) {
    const unit = program.length === 1 ? "byte" : "bytes";
    return { ok: false, error: `Invalid Bech32 address program size (${program.length} ${unit})` };
  }
  const isScript = version === 0
    ? program.length === 32
    : version === 1 && (program.length === 32 || toHex(program) === "4e73")
    ? true
    : undefined;
  const encoder = version === 0 ? bech32 : bech32m;
  const address = encoder.encode(REGTEST_HRP, [version, ...bech32.toWords(program)], 90);
  return {
    ok: true,
    destination: {
      address,
      script: witnessScript(version, program),
      isScript,
      witness: { version, program },
    },
  };
}

/** Decodes a regtest address: bcrt1 (bech32/bech32m) or base58 with prefixes 111 (m/n) and 196 (2). */
export function decodeAddress(text: string): DecodeResult {
  const isBech32 = text.slice(0, REGTEST_HRP.length).toLowerCase() === REGTEST_HRP;
  return isBech32 ? decodeSegwit(text) : decodeBase58(text);
}

/** Core's `validateaddress` result object. */
export function validateAddress(text: string): Record<string, unknown> {
  const decoded = decodeAddress(text);
  if (!decoded.ok) return { isvalid: false, error_locations: [], error: decoded.error };
  const { destination } = decoded;
  const result: Record<string, unknown> = {
    isvalid: true,
    address: destination.address,
    scriptPubKey: toHex(destination.script),
  };
  if (destination.isScript !== undefined) result.isscript = destination.isScript;
  result.iswitness = destination.witness !== null;
  if (destination.witness) {
    result.witness_version = destination.witness.version;
    result.witness_program = toHex(destination.witness.program);
  }
  return result;
}
