/**
 * Block submission from a relay to the primary on `mining.blocks.submit` (NATS request/reply).
 *
 * The request is binary, because a block can be 4 MB and hex would double it past what a NATS
 * server carries by default:
 *
 * ```
 * "TBGB" 4 | format 1 | flags 1 (0) | sentAtMs f64 | height u32 | blockHash 32 (internal order)
 * region str8 | network str8 | authToken (u8 length + UTF-8, 0 = none)
 * block (the rest of the message, serialized as for submitblock)
 * ```
 *
 * The reply is small JSON, either the primary's {@link BlockSubmitResult} or an error with a code
 * and a message saying what was wrong:
 *
 * ```json
 * {"v":1,"ok":true,"region":"eu","submitMs":12.5,"result":{"accepted":true,...}}
 * {"v":1,"ok":false,"region":"eu","error":{"code":"bad_request","message":"Cannot ..."}}
 * ```
 *
 * {@link decodeBlockSubmitRequest} checks everything the primary relies on before it spends a
 * submitblock: size, format, the region and network tokens, that the header hashes to the hash
 * the request names (a truncated or corrupted block fails here), and that the coinbase's BIP34
 * height is the height the request names.
 *
 * @module
 */
import { decodeCompactSize } from "../bitcoin/compact_size.ts";
import { sha256d } from "../bitcoin/hash.ts";
import { HEADER_BYTES } from "../bitcoin/header.ts";
import { decodeBip34Height } from "../bitcoin/script_num.ts";
import type { BlockSubmitResult, NodeBlockSubmitResult } from "../bitcoind/template_source.ts";
import { SUBJECT_TOKEN_PATTERN } from "../nats/subjects.ts";
import { ByteReader, ByteWriter, isShortAscii } from "./_bytes.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: true });

/** First four bytes of a block submission request. */
export const BLOCK_SUBMIT_MAGIC: Uint8Array = new TextEncoder().encode("TBGB");

/** Format version of the request and reply. */
export const BLOCK_SUBMIT_FORMAT = 1;

/** Largest serialized block: consensus caps a block at 4,000,000 weight units, so bytes too. */
export const MAX_BLOCK_BYTES = 4_000_000;

/** Bytes of a request before the block. */
const REQUEST_FIXED_BYTES = 4 + 1 + 1 + 8 + 4 + 32;

/** Longest auth token, UTF-8 bytes. */
export const MAX_AUTH_TOKEN_BYTES = 255;

/** Largest request: the fixed part, two tokens, an auth token, a full block. */
export const MAX_BLOCK_SUBMIT_REQUEST_BYTES = REQUEST_FIXED_BYTES + 2 * 33 + 1 +
  MAX_AUTH_TOKEN_BYTES + MAX_BLOCK_BYTES;

/** Largest reply accepted by a relay. */
export const MAX_BLOCK_SUBMIT_REPLY_BYTES = 64 * 1024;

/** Smallest block: a header, a one-byte count and a minimal coinbase. */
const MIN_BLOCK_BYTES = HEADER_BYTES + 1 + 60;

/** Why the primary refused to submit. */
export const BlockSubmitErrorCode = {
  /** The request is malformed (the message says how). */
  badRequest: "bad_request",
  /** The block is for another network than the primary's. */
  wrongNetwork: "wrong_network",
  /** The request's auth token is missing or not one the primary accepts. */
  unauthorized: "unauthorized",
  /** Too many submissions in flight; the relay's own submitblock still runs. */
  busy: "busy",
  /** The primary's submission itself failed (e.g. no node answered). */
  submitFailed: "submit_failed",
} as const;

/** One of {@link BlockSubmitErrorCode}. */
export type BlockSubmitErrorCode = typeof BlockSubmitErrorCode[keyof typeof BlockSubmitErrorCode];

/** A relay's request to submit a block. */
export interface BlockSubmitRequest {
  /** Relay's clock when sent, ms since the epoch. */
  readonly sentAtMs: number;
  /** The block's height (its coinbase's BIP34 height). */
  readonly height: number;
  /** sha256d of the header, internal byte order. */
  readonly blockHash: Uint8Array;
  /** Region of the relay that found it. */
  readonly region: string;
  /** Network the relay mines on. */
  readonly network: string;
  /** The relay's shared secret (`primary.auth_token`); empty when it has none. */
  readonly authToken: string;
  /** The serialized block. */
  readonly block: Uint8Array;
}

/** The primary's reply. */
export type BlockSubmitReply =
  | {
    readonly ok: true;
    /** Region of the primary that answered. */
    readonly region: string;
    /** Time the primary spent submitting, ms. */
    readonly submitMs: number;
    readonly result: BlockSubmitResult;
  }
  | {
    readonly ok: false;
    readonly region: string;
    readonly error: { readonly code: BlockSubmitErrorCode; readonly message: string };
  };

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The height in a block's coinbase scriptSig (BIP34), in the canonical encoding Core checks.
 *
 * @param block a serialized block
 * @returns the height
 * @throws {SyntaxError} when the block is too short, its first transaction is not a coinbase, or
 *   the scriptSig does not start with a height
 */
export function coinbaseHeight(block: Uint8Array): number {
  const fail = (problem: string): never => {
    throw new SyntaxError(`Cannot read coinbase height: ${problem}`);
  };
  try {
    let offset = HEADER_BYTES;
    const txCount = decodeCompactSize(block, offset);
    if (txCount.value < 1) fail("the block has no transactions");
    offset += txCount.size + 4;
    // BIP144 marker and flag.
    if (block[offset] === 0x00 && block[offset + 1] === 0x01) offset += 2;
    const inputs = decodeCompactSize(block, offset);
    if (inputs.value !== 1) fail(`the coinbase has ${inputs.value} inputs, not 1`);
    offset += inputs.size;
    if (offset + 36 > block.length) fail("the block ends inside the coinbase input");
    const prevout = block.subarray(offset, offset + 36);
    const isNull = prevout.subarray(0, 32).every((b) => b === 0) &&
      prevout.subarray(32).every((b) => b === 0xff);
    if (!isNull) fail("the first transaction is not a coinbase");
    offset += 36;
    const scriptLength = decodeCompactSize(block, offset);
    offset += scriptLength.size;
    if (scriptLength.value < 1 || offset + scriptLength.value > block.length) {
      fail("the coinbase scriptSig is empty or past the end");
    }
    return decodeBip34Height(block.subarray(offset, offset + scriptLength.value));
  } catch (error) {
    if (error instanceof SyntaxError) throw error;
    return fail((error as Error).message);
  }
}

/**
 * Encodes a request.
 *
 * @param request the block and who sends it
 * @returns the request bytes
 * @throws {RangeError} when a field cannot be represented (block size, hash length, tokens)
 */
export function encodeBlockSubmitRequest(request: BlockSubmitRequest): Uint8Array {
  const check = (ok: boolean, problem: string) => {
    if (!ok) throw new RangeError(`Cannot encode block submission: ${problem}`);
  };
  check(Number.isFinite(request.sentAtMs), "sentAtMs must be finite");
  check(
    Number.isInteger(request.height) && request.height >= 0 && request.height <= 0x7fffffff,
    "height must be an integer in [0, 2^31)",
  );
  check(request.blockHash.length === 32, "blockHash must be 32 bytes");
  for (const [name, value] of [["region", request.region], ["network", request.network]]) {
    check(
      typeof value === "string" && value.length <= 32 && SUBJECT_TOKEN_PATTERN.test(value!),
      `${name} must be a subject token of at most 32 characters`,
    );
  }
  check(
    request.block.length >= MIN_BLOCK_BYTES && request.block.length <= MAX_BLOCK_BYTES,
    `block of ${request.block.length} bytes is outside [${MIN_BLOCK_BYTES}, ${MAX_BLOCK_BYTES}]`,
  );
  const token = ENCODER.encode(request.authToken);
  check(token.length <= MAX_AUTH_TOKEN_BYTES, `authToken is over ${MAX_AUTH_TOKEN_BYTES} bytes`);
  const w = new ByteWriter(
    REQUEST_FIXED_BYTES + 2 + request.region.length + request.network.length + 1 + token.length +
      request.block.length,
  );
  w.bytes(BLOCK_SUBMIT_MAGIC);
  w.u8(BLOCK_SUBMIT_FORMAT);
  w.u8(0);
  w.f64(request.sentAtMs);
  w.u32(request.height);
  w.bytes(request.blockHash);
  w.str8(request.region);
  w.str8(request.network);
  w.u8(token.length);
  w.bytes(token);
  w.bytes(request.block);
  return w.finish();
}

/**
 * Decodes and checks a request: format, size, tokens, header hash and coinbase height.
 *
 * @param bytes the request payload
 * @returns the request (the block is a view into `bytes`)
 * @throws {RangeError} when the request is larger than {@link MAX_BLOCK_SUBMIT_REQUEST_BYTES}
 * @throws {SyntaxError} naming what is wrong with it
 */
export function decodeBlockSubmitRequest(bytes: Uint8Array): BlockSubmitRequest {
  if (bytes.length > MAX_BLOCK_SUBMIT_REQUEST_BYTES) {
    throw new RangeError(
      `Cannot decode block submission: ${bytes.length} bytes is above the ${MAX_BLOCK_SUBMIT_REQUEST_BYTES}-byte cap`,
    );
  }
  const r = new ByteReader(bytes, "block submission");
  if (!bytesEqual(r.bytes(4, "magic"), BLOCK_SUBMIT_MAGIC)) {
    throw r.error("magic", 'is not "TBGB" (not a block submission)');
  }
  const format = r.u8("format");
  if (format !== BLOCK_SUBMIT_FORMAT) {
    throw r.error("format", `${format} is not supported (this build reads format 1)`);
  }
  const flags = r.u8("flags");
  if (flags !== 0) throw r.error("flags", `0x${flags.toString(16)} has unknown bits`);
  const sentAtMs = r.f64("sentAtMs");
  const height = r.u32("height");
  if (height > 0x7fffffff) throw r.error("height", `${height} is above 2^31 - 1`);
  const blockHash = r.bytes(32, "blockHash");
  const region = r.str8("region", 32, SUBJECT_TOKEN_PATTERN, "a subject token");
  const network = r.str8("network", 32, SUBJECT_TOKEN_PATTERN, "a subject token");
  const tokenBytes = r.bytes(r.u8("authToken length"), "authToken");
  let authToken: string;
  try {
    authToken = DECODER.decode(tokenBytes);
  } catch {
    throw r.error("authToken", "is not UTF-8");
  }
  if (r.remaining < MIN_BLOCK_BYTES) {
    throw r.error("block", `of ${r.remaining} bytes is shorter than any block`);
  }
  if (r.remaining > MAX_BLOCK_BYTES) {
    throw r.error("block", `of ${r.remaining} bytes is above ${MAX_BLOCK_BYTES}`);
  }
  const block = r.bytes(r.remaining, "block");
  const headerHash = sha256d(block.subarray(0, HEADER_BYTES));
  if (!bytesEqual(headerHash, blockHash)) {
    throw r.error(
      "blockHash",
      `${displayHex(blockHash)} is not the header's hash ${displayHex(headerHash)}`,
    );
  }
  let coinbase: number;
  try {
    coinbase = coinbaseHeight(block);
  } catch (error) {
    throw r.error("block", `has no usable coinbase height (${(error as Error).message})`);
  }
  if (coinbase !== height) {
    throw r.error("height", `${height} is not the coinbase's BIP34 height ${coinbase}`);
  }
  return { sentAtMs, height, blockHash, region, network, authToken, block };
}

/** Display hex (reversed) of an internal-order hash. */
export function displayHex(hash: Uint8Array): string {
  let out = "";
  for (let i = hash.length - 1; i >= 0; i--) out += hash[i]!.toString(16).padStart(2, "0");
  return out;
}

/**
 * Encodes a reply as JSON.
 *
 * @param reply the result or the error
 * @returns UTF-8 JSON bytes
 */
export function encodeBlockSubmitReply(reply: BlockSubmitReply): Uint8Array {
  return ENCODER.encode(JSON.stringify({ v: BLOCK_SUBMIT_FORMAT, ...reply }));
}

function replyFail(problem: string): never {
  throw new SyntaxError(`Cannot decode block submission reply: ${problem}`);
}

function nodeResult(raw: unknown, index: number): NodeBlockSubmitResult {
  if (typeof raw !== "object" || raw === null) replyFail(`results[${index}] is not an object`);
  const o = raw as Record<string, unknown>;
  if (typeof o.url !== "string" || !isShortAscii(o.url, 512)) {
    replyFail(`results[${index}].url must be a string`);
  }
  if (o.result !== null && typeof o.result !== "string") {
    replyFail(`results[${index}].result must be null or a string`);
  }
  if (o.error !== undefined && typeof o.error !== "string") {
    replyFail(`results[${index}].error must be a string when present`);
  }
  if (typeof o.tipMoved !== "boolean") replyFail(`results[${index}].tipMoved must be a boolean`);
  return {
    url: o.url,
    result: o.result as string | null,
    tipMoved: o.tipMoved,
    ...(typeof o.error === "string" ? { error: o.error } : {}),
  };
}

/**
 * Decodes and validates a reply.
 *
 * @param bytes the reply payload
 * @returns the reply
 * @throws {SyntaxError} naming what is wrong (size, JSON, version, a missing or malformed field)
 */
export function decodeBlockSubmitReply(bytes: Uint8Array): BlockSubmitReply {
  if (bytes.length > MAX_BLOCK_SUBMIT_REPLY_BYTES) {
    replyFail(`${bytes.length} bytes is above the ${MAX_BLOCK_SUBMIT_REPLY_BYTES}-byte cap`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(DECODER.decode(bytes));
  } catch (error) {
    replyFail(`not UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    replyFail("not a JSON object");
  }
  const o = parsed as Record<string, unknown>;
  if (o.v !== BLOCK_SUBMIT_FORMAT) replyFail(`version ${JSON.stringify(o.v)} is not 1`);
  const region = o.region;
  if (typeof region !== "string" || !SUBJECT_TOKEN_PATTERN.test(region)) {
    replyFail("region must be a subject token");
  }
  if (o.ok === false) {
    const error = o.error as Record<string, unknown> | null;
    if (typeof error !== "object" || error === null) replyFail("error must be an object");
    const codes: readonly string[] = Object.values(BlockSubmitErrorCode);
    if (typeof error.code !== "string" || !codes.includes(error.code)) {
      replyFail(`error.code ${JSON.stringify(error.code)} is unknown`);
    }
    if (typeof error.message !== "string") replyFail("error.message must be a string");
    return {
      ok: false,
      region,
      error: { code: error.code as BlockSubmitErrorCode, message: error.message },
    };
  }
  if (o.ok !== true) replyFail("ok must be true or false");
  if (typeof o.submitMs !== "number" || !Number.isFinite(o.submitMs)) {
    replyFail("submitMs must be a finite number");
  }
  const result = o.result as Record<string, unknown> | null;
  if (typeof result !== "object" || result === null) replyFail("result must be an object");
  if (typeof result.accepted !== "boolean") replyFail("result.accepted must be a boolean");
  if (typeof result.tipMoved !== "boolean") replyFail("result.tipMoved must be a boolean");
  if (typeof result.blockHash !== "string" || !/^[0-9a-f]{64}$/.test(result.blockHash)) {
    replyFail("result.blockHash must be 64 lowercase hex digits");
  }
  if (!Array.isArray(result.results) || result.results.length > 64) {
    replyFail("result.results must be an array of at most 64 entries");
  }
  return {
    ok: true,
    region,
    submitMs: o.submitMs,
    result: {
      accepted: result.accepted,
      tipMoved: result.tipMoved,
      blockHash: result.blockHash,
      results: result.results.map(nodeResult),
    },
  };
}
