/**
 * Bitcoin address decoding (base58check P2PKH/P2SH, BIP173/BIP350 segwit) to
 * the output script a coinbase pays to. Bech32 strings are checked and converted
 * in place (bech32.ts: an authorize leaves almost no garbage); base58check comes
 * from @scure/base. This module classifies failures and maps payloads to scripts.
 *
 * @module
 */

import { base58, createBase58check } from "@scure/base";
import { bech32ValueAt, bech32Variant, bech32WordsToBytes } from "./bech32.ts";
import { sha256 } from "./hash.ts";

/** Networks an address can belong to. */
export const Network = {
  mainnet: "mainnet",
  testnet: "testnet",
  testnet4: "testnet4",
  signet: "signet",
  regtest: "regtest",
} as const;
/** One of {@link Network}. */
export type Network = typeof Network[keyof typeof Network];

/** Output types the pool can pay a block reward to. */
export const AddressType = {
  p2pkh: "p2pkh",
  p2sh: "p2sh",
  p2wpkh: "p2wpkh",
  p2wsh: "p2wsh",
  p2tr: "p2tr",
} as const;
/** One of {@link AddressType}. */
export type AddressType = typeof AddressType[keyof typeof AddressType];

/** Why an address was refused; callers map these to user-facing replies. */
export const AddressErrorReason = {
  tooLong: "too_long",
  badChecksum: "bad_checksum",
  badEncoding: "bad_encoding",
  wrongBech32Variant: "wrong_bech32_variant",
  badProgramLength: "bad_program_length",
  unsupportedWitnessVersion: "unsupported_witness_version",
  unknownPrefix: "unknown_prefix",
  mixedCase: "mixed_case",
  wrongNetwork: "wrong_network",
} as const;
/** One of {@link AddressErrorReason}. */
export type AddressErrorReason = typeof AddressErrorReason[keyof typeof AddressErrorReason];

/** An address that cannot be decoded or used; `reason` says why. */
export class AddressError extends TypeError {
  override name = "AddressError";
  /** Machine-readable cause. */
  readonly reason: AddressErrorReason;

  /**
   * @param reason Machine-readable cause.
   * @param message Human-readable message, `Cannot ...: ...`.
   * @param options Standard error options (`cause`).
   */
  constructor(reason: AddressErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** A decoded address and the output script that pays it. */
export interface DecodedAddress {
  /** The address as given. */
  address: string;
  /** Output type. */
  type: AddressType;
  /**
   * Networks sharing this encoding: testnet, testnet4 and signet share both
   * encodings; regtest shares their base58 versions but has its own bech32 HRP.
   */
  networks: readonly Network[];
  /** The scriptPubKey to pay. */
  scriptPubKey: Uint8Array;
  /** Witness version, for segwit addresses only. */
  witnessVersion?: number;
}

/** Longest accepted address; also BIP173's limit for a bech32 string. */
const MAX_ADDRESS_CHARS = 90;

const MAINNET: readonly Network[] = Object.freeze([Network.mainnet]);
const TEST_SIGNET: readonly Network[] = Object.freeze([
  Network.testnet,
  Network.testnet4,
  Network.signet,
]);
const TEST_SIGNET_REGTEST: readonly Network[] = Object.freeze([
  Network.testnet,
  Network.testnet4,
  Network.signet,
  Network.regtest,
]);
const REGTEST: readonly Network[] = Object.freeze([Network.regtest]);

const BECH32_HRP_NETWORKS: readonly (readonly [string, readonly Network[]])[] = [
  ["bc", MAINNET],
  ["tb", TEST_SIGNET],
  ["bcrt", REGTEST],
];

const BASE58_VERSIONS: ReadonlyMap<number, { type: AddressType; networks: readonly Network[] }> =
  new Map([
    [0x00, { type: AddressType.p2pkh, networks: MAINNET }],
    [0x05, { type: AddressType.p2sh, networks: MAINNET }],
    [0x6f, { type: AddressType.p2pkh, networks: TEST_SIGNET_REGTEST }],
    [0xc4, { type: AddressType.p2sh, networks: TEST_SIGNET_REGTEST }],
  ]);

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const base58check = createBase58check(sha256);
/** Witness program bytes of the address being decoded (at most 50: 90 characters). */
const programScratch = new Uint8Array(64);

function fail(reason: AddressErrorReason, state: string): never {
  throw new AddressError(reason, `Cannot decode address: ${state}`);
}

function bytesText(count: number): string {
  return count === 1 ? "1 byte" : `${count} bytes`;
}

function onlyCharsFrom(s: string, alphabet: string): boolean {
  for (const c of s) if (!alphabet.includes(c)) return false;
  return true;
}

/**
 * Decodes a mainnet, testnet, testnet4, signet or regtest address.
 *
 * Bech32 rules follow BIP350: witness v0 must use bech32 and have a 20- or
 * 32-byte program; v1+ must use bech32m. Only v1 with 32 bytes (P2TR) is
 * accepted among v1+; other versions and lengths are valid addresses the pool
 * does not pay to. All-uppercase bech32 is accepted, mixed case is not.
 *
 * @param address The address text, without surrounding whitespace.
 * @returns Type, networks and scriptPubKey.
 * @throws {AddressError} With a `reason` for each kind of failure.
 */
export function decodeAddress(address: string): DecodedAddress {
  if (address.length > MAX_ADDRESS_CHARS) {
    fail("too_long", `${address.length} characters is more than ${MAX_ADDRESS_CHARS}`);
  }
  if (address.length === 0) fail("bad_encoding", "address is empty");
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) {
      fail("bad_encoding", `character code ${code} at index ${i} is not printable ASCII`);
    }
  }
  // "1" is not a letter, so its position is the same in any case; the prefix is compared in
  // place, without lower-casing the address (every authorize decodes one).
  const separator = address.lastIndexOf("1");
  const networks = separator > 0 ? hrpNetworks(address, separator) : undefined;
  if (networks !== undefined) return decodeSegwit(address, separator, networks);
  if (separator > 0 && bech32Variant(address) !== null) {
    const hrp = address.slice(0, separator).toLowerCase();
    fail("unknown_prefix", `bech32 prefix "${hrp}" is not bc, tb or bcrt`);
  }
  if (onlyCharsFrom(address, BASE58_ALPHABET)) return decodeBase58(address);
  return fail("bad_encoding", "not a base58 or bech32 address");
}

/** The networks of a known bech32 prefix `address[0..separator)`, in either case. */
function hrpNetworks(address: string, separator: number): readonly Network[] | undefined {
  for (const [hrp, networks] of BECH32_HRP_NETWORKS) {
    if (hrp.length !== separator) continue;
    let same = true;
    for (let i = 0; i < separator && same; i++) {
      const code = address.charCodeAt(i);
      same = (code >= 0x41 && code <= 0x5a ? code | 0x20 : code) === hrp.charCodeAt(i);
    }
    if (same) return networks;
  }
  return undefined;
}

function hasMixedCase(address: string): boolean {
  let lower = false;
  let upper = false;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (code >= 0x61 && code <= 0x7a) lower = true;
    else if (code >= 0x41 && code <= 0x5a) upper = true;
  }
  return lower && upper;
}

function decodeSegwit(
  address: string,
  separator: number,
  networks: readonly Network[],
): DecodedAddress {
  if (hasMixedCase(address)) fail("mixed_case", "bech32 address mixes upper and lower case");
  for (let i = separator + 1; i < address.length; i++) {
    if (bech32ValueAt(address, i) < 0) {
      fail("bad_encoding", "bech32 data part has a character outside the bech32 alphabet");
    }
  }
  const dataChars = address.length - separator - 1;
  if (dataChars < 6) fail("bad_encoding", "bech32 data part is shorter than its checksum");
  const variant = bech32Variant(address);
  if (variant === null) fail("bad_checksum", "bech32 checksum is invalid");
  const usesBech32m = variant === "bech32m";
  if (dataChars === 6) fail("bad_encoding", "bech32 data section is empty");
  const version = bech32ValueAt(address, separator + 1);
  const length = bech32WordsToBytes(
    address,
    separator + 2,
    address.length - 6,
    programScratch,
  );
  if (length < 0) fail("bad_encoding", "bech32 data has invalid padding");
  // Checks in the order of the BIP350 reference decoder.
  if (length < 2 || length > 40) {
    fail("bad_program_length", `witness program is ${bytesText(length)}, expected 2..40`);
  }
  if (version > 16) {
    fail("unsupported_witness_version", `witness version ${version} does not exist (0..16)`);
  }
  if (version === 0 && length !== 20 && length !== 32) {
    fail(
      "bad_program_length",
      `witness v0 program is ${bytesText(length)}, expected 20 or 32 (BIP141)`,
    );
  }
  if (version === 0 && usesBech32m) {
    fail("wrong_bech32_variant", "witness v0 address must use bech32, not bech32m");
  }
  if (version !== 0 && !usesBech32m) {
    fail("wrong_bech32_variant", `witness v${version} address must use bech32m, not bech32`);
  }
  let type: AddressType;
  if (version === 0) type = length === 20 ? AddressType.p2wpkh : AddressType.p2wsh;
  else if (version === 1 && length === 32) type = AddressType.p2tr;
  else {
    return fail(
      "unsupported_witness_version",
      `witness v${version} with a ${length}-byte program is not a type the pool pays to`,
    );
  }
  const scriptPubKey = new Uint8Array(2 + length);
  scriptPubKey[0] = version === 0 ? 0x00 : 0x50 + version;
  scriptPubKey[1] = length;
  for (let i = 0; i < length; i++) scriptPubKey[2 + i] = programScratch[i]!;
  return { address, type, networks, scriptPubKey, witnessVersion: version };
}

function decodeBase58(address: string): DecodedAddress {
  const raw = base58.decode(address);
  if (raw.length !== 25) {
    fail("bad_encoding", `base58 payload is ${raw.length} bytes, expected 25`);
  }
  let payload: Uint8Array;
  try {
    payload = base58check.decode(address);
  } catch (error: unknown) {
    throw new AddressError("bad_checksum", "Cannot decode address: base58 checksum is invalid", {
      cause: error,
    });
  }
  const version = payload[0]!;
  const kind = BASE58_VERSIONS.get(version);
  if (kind === undefined) {
    fail(
      "unknown_prefix",
      `base58 version byte 0x${
        version.toString(16).padStart(2, "0")
      } is not a Bitcoin address version`,
    );
  }
  const hash = payload.subarray(1);
  const scriptPubKey = kind.type === AddressType.p2pkh
    ? Uint8Array.of(0x76, 0xa9, 0x14, ...hash, 0x88, 0xac)
    : Uint8Array.of(0xa9, 0x14, ...hash, 0x87);
  return { address, type: kind.type, networks: kind.networks, scriptPubKey };
}

/**
 * Tells whether a decoded address is usable on a network.
 *
 * @param decoded Output of {@link decodeAddress}.
 * @param network The network the pool runs on.
 * @returns `true` if the address's encoding belongs to that network.
 */
export function addressBelongsTo(decoded: DecodedAddress, network: Network): boolean {
  return decoded.networks.includes(network);
}

/**
 * Decodes an address and checks it belongs to the pool's network.
 *
 * @param address The address text.
 * @param network The network the pool runs on.
 * @returns The scriptPubKey to pay.
 * @throws {AddressError} As {@link decodeAddress}, or with reason
 *   `wrong_network` for an address of another network.
 */
export function addressToScriptPubKey(address: string, network: Network): Uint8Array {
  const decoded = decodeAddress(address);
  if (!addressBelongsTo(decoded, network)) {
    throw new AddressError(
      "wrong_network",
      `Cannot use address ${address}: it is a ${
        decoded.networks.join("/")
      } address, not ${network}`,
    );
  }
  return decoded.scriptPubKey;
}
