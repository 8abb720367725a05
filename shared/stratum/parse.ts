/**
 * Turns one line from a miner into a typed request, or into the exact error to answer with.
 * Field rules follow the Phase 5 input validation matrix (§2.2.2): every hex field has an exact
 * length, names are bounded and restricted to safe characters, nothing is trusted.
 */
import { targetToDifficulty } from "../bitcoin/target.ts";
import { StratumErrorCode } from "./errors.ts";
import {
  ClientMethod,
  type RequestId,
  type StratumRequest,
  type SubmitRequest,
} from "./messages.ts";
import { parsePasswordDifficulty } from "./password_difficulty.ts";

/** Longest Bitcoin address accepted in a username (validation matrix). */
export const MAX_ADDRESS_CHARS = 90;
/** Longest worker name accepted (validation matrix). */
export const MAX_WORKER_CHARS = 128;
/** Longest user agent accepted (validation matrix). */
export const MAX_USER_AGENT_CHARS = 256;
/** Longest job id accepted (validation matrix: hex, at most 8 chars). */
export const MAX_JOB_ID_CHARS = 8;
/** Longest session id a client may present for resume (hex). */
export const MAX_SESSION_ID_CHARS = 16;

/**
 * The largest difficulty a miner may ask for: that of target 1, the hardest target a hash can
 * meet (difficulty-1 target 0xffff·2^208 over 1). Anything above it is not a difficulty at all.
 */
export const MAX_REQUESTED_DIFFICULTY = 0xffff * 2 ** 208;
const MAX_REQUESTED_DIFFICULTY_TEXT = MAX_REQUESTED_DIFFICULTY.toPrecision(3);

/** Parser settings that come from the pool's configuration. */
export interface ParseOptions {
  /** Extranonce2 size in bytes (`nonce2length`); submits must carry exactly twice as many hex chars. */
  readonly extranonce2Size: number;
}

/** A request that parsed and passed field validation. */
export interface ParsedRequest {
  readonly kind: "request";
  readonly request: StratumRequest;
  /** A JSON-RPC notification (no `id`, or `"id": null`): handled, but never answered. */
  readonly notification: boolean;
}

/**
 * A line that must be answered with an error (and, when `fatal`, followed by a disconnect),
 * unless it is a notification, which is never answered.
 */
export interface ParseFailure {
  readonly kind: "error";
  readonly id: RequestId;
  readonly code: StratumErrorCode;
  readonly message: string;
  /** Invalid JSON or a non-object line: the stream can no longer be trusted. */
  readonly fatal: boolean;
  /** A JSON-RPC notification (no `id`, or `"id": null`): the error is counted, not written. */
  readonly notification: boolean;
}

/** A line that needs no answer (a client's reply to one of our notifications). */
export interface IgnoredLine {
  readonly kind: "ignored";
}

/** Outcome of parsing one line. */
export type ParseResult = ParsedRequest | ParseFailure | IgnoredLine;

const HEX = /^[0-9a-fA-F]+$/;
/** Digits with an optional fraction: no sign, exponent, hex prefix or whitespace; bounded. */
const PLAIN_DECIMAL = /^[0-9]{1,20}(?:\.[0-9]{1,20})?$/;
const WORKER = /^[A-Za-z0-9_.-]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** True when `s` is a hex string of exactly `chars` characters. */
export function isHexOfExactLength(s: unknown, chars: number): s is string {
  return typeof s === "string" && s.length === chars && HEX.test(s);
}

/** True for a worker name per the validation matrix: 1–128 chars of `[A-Za-z0-9_.-]`. */
export function isValidWorkerName(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_WORKER_CHARS && WORKER.test(name);
}

/** Parses one Stratum line (without its newline). Never throws. */
export function parseLine(line: string, options: ParseOptions): ParseResult {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return failure(null, StratumErrorCode.other, "Invalid JSON: line is not a JSON object", true);
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return failure(null, StratumErrorCode.other, "Invalid request: expected a JSON object", true);
  }
  const record = message as Record<string, unknown>;
  const rawId = record.id;
  const id: RequestId = typeof rawId === "number" || typeof rawId === "string" ? rawId : null;
  const method = record.method;
  if (method === undefined && ("result" in record || "error" in record)) return { kind: "ignored" };
  // JSON-RPC 1.0 (which Stratum follows) makes a request with a null id a notification; 2.0 one
  // without an id member. Neither gets a reply. An id of another type (an object, a boolean) is
  // a malformed request, answered with a null id as before.
  const notification = rawId === undefined || rawId === null;
  const result = parseRequest(id, record, method, options);
  if (notification) {
    return result.kind === "request"
      ? { kind: "request", request: result.request, notification }
      : { ...result, notification };
  }
  return result;
}

function parseRequest(
  id: RequestId,
  record: Record<string, unknown>,
  method: unknown,
  options: ParseOptions,
): ParsedRequest | ParseFailure {
  if (typeof method !== "string") {
    return failure(id, StratumErrorCode.other, "Invalid request: method must be a string", false);
  }
  const params = record.params === undefined || record.params === null ? [] : record.params;
  if (!Array.isArray(params)) {
    return failure(
      id,
      StratumErrorCode.other,
      `Invalid params for ${safe(method)}: expected an array`,
      false,
    );
  }
  switch (method) {
    case ClientMethod.submit:
      return parseSubmit(id, params, options);
    case ClientMethod.subscribe:
      return parseSubscribe(id, params);
    case ClientMethod.authorize:
      return parseAuthorize(id, params);
    case ClientMethod.configure:
      return parseConfigure(id, params);
    case ClientMethod.suggestDifficulty:
      return parseSuggestDifficulty(id, params);
    case ClientMethod.suggestTarget:
      return parseSuggestTarget(id, params);
    case ClientMethod.capabilities:
      return ok({ method: ClientMethod.capabilities, id });
    case ClientMethod.extranonceSubscribe:
      return ok({ method: ClientMethod.extranonceSubscribe, id });
    default:
      return failure(id, StratumErrorCode.other, `Unknown method: ${safe(method)}`, false);
  }
}

function parseSubmit(
  id: RequestId,
  params: unknown[],
  options: ParseOptions,
): ParsedRequest | ParseFailure {
  if (params.length < 5 || params.length > 6) {
    return failure(id, StratumErrorCode.other, "Invalid submit: expected 5 or 6 params", false);
  }
  const [workerName, jobId, extranonce2, ntime, nonce, versionBits] = params;
  if (
    typeof workerName !== "string" || workerName.length > MAX_ADDRESS_CHARS + 1 + MAX_WORKER_CHARS
  ) {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid submit: worker name must be a string",
      false,
    );
  }
  if (
    typeof jobId !== "string" || jobId.length === 0 || jobId.length > MAX_JOB_ID_CHARS ||
    !HEX.test(jobId)
  ) {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid submit: job id must be 1-8 hex chars",
      false,
    );
  }
  const en2Chars = options.extranonce2Size * 2;
  if (!isHexOfExactLength(extranonce2, en2Chars)) {
    return failure(
      id,
      StratumErrorCode.other,
      `Invalid submit: extranonce2 must be ${en2Chars} hex chars`,
      false,
    );
  }
  if (!isHexOfExactLength(ntime, 8)) {
    return failure(id, StratumErrorCode.other, "Invalid submit: ntime must be 8 hex chars", false);
  }
  // NerdMiner formats the nonce without leading zeros (Arduino `String(nonce, HEX)`); ckpool and
  // public-pool read it as a number, so 1-8 hex chars are taken here too (same value either way).
  if (typeof nonce !== "string" || nonce.length === 0 || nonce.length > 8 || !HEX.test(nonce)) {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid submit: nonce must be 1-8 hex chars",
      false,
    );
  }
  let version: number | null = null;
  if (versionBits !== undefined) {
    if (!isHexOfExactLength(versionBits, 8)) {
      return failure(
        id,
        StratumErrorCode.other,
        "Invalid submit: version bits must be 8 hex chars",
        false,
      );
    }
    version = parseInt(versionBits, 16) >>> 0;
  }
  const request: SubmitRequest = {
    method: ClientMethod.submit,
    id,
    workerName,
    jobId: jobId.toLowerCase(),
    extranonce2: extranonce2.toLowerCase(),
    ntime: parseInt(ntime, 16) >>> 0,
    nonce: parseInt(nonce, 16) >>> 0,
    versionBits: version,
  };
  return ok(request);
}

function parseSubscribe(id: RequestId, params: unknown[]): ParsedRequest | ParseFailure {
  const [userAgent = "", sessionId = null] = params;
  if (typeof userAgent !== "string") {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid subscribe: user agent must be a string",
      false,
    );
  }
  if (userAgent.length > MAX_USER_AGENT_CHARS || !PRINTABLE_ASCII.test(userAgent)) {
    return failure(
      id,
      StratumErrorCode.other,
      `Invalid subscribe: user agent must be printable ASCII of at most ${MAX_USER_AGENT_CHARS} chars`,
      false,
    );
  }
  let session: string | null = null;
  if (typeof sessionId === "string" && sessionId.length > 0) {
    if (sessionId.length > MAX_SESSION_ID_CHARS || !HEX.test(sessionId)) {
      return failure(
        id,
        StratumErrorCode.other,
        "Invalid subscribe: session id must be hex",
        false,
      );
    }
    session = sessionId.toLowerCase();
  }
  return ok({ method: ClientMethod.subscribe, id, userAgent, sessionId: session });
}

function parseAuthorize(id: RequestId, params: unknown[]): ParsedRequest | ParseFailure {
  const [username, password = ""] = params;
  if (typeof username !== "string" || username.length === 0) {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid authorize: username must be a non-empty string",
      false,
    );
  }
  const dot = username.indexOf(".");
  const address = dot === -1 ? username : username.slice(0, dot);
  const worker = dot === -1 ? "" : username.slice(dot + 1);
  if (address.length === 0 || address.length > MAX_ADDRESS_CHARS) {
    return failure(
      id,
      StratumErrorCode.other,
      `Invalid authorize: address must be 1-${MAX_ADDRESS_CHARS} chars`,
      false,
    );
  }
  if (dot !== -1 && !isValidWorkerName(worker)) {
    return failure(
      id,
      StratumErrorCode.other,
      `Invalid authorize: worker name must be 1-${MAX_WORKER_CHARS} chars of letters, digits, '_', '-' or '.'`,
      false,
    );
  }
  const pass = typeof password === "string" ? password : "";
  const asked = parsePasswordDifficulty(pass, MAX_REQUESTED_DIFFICULTY);
  return ok({
    method: ClientMethod.authorize,
    id,
    address,
    worker,
    password: pass,
    passwordDifficulty: asked.difficulty,
    ignoredPasswordDifficulty: asked.ignored,
  });
}

function parseConfigure(id: RequestId, params: unknown[]): ParsedRequest | ParseFailure {
  const [extensions, options = {}] = params;
  if (
    !Array.isArray(extensions) || !extensions.every((e) => typeof e === "string" && e.length <= 64)
  ) {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid configure: extensions must be a list of names",
      false,
    );
  }
  if (extensions.length > 16) {
    return failure(id, StratumErrorCode.other, "Invalid configure: too many extensions", false);
  }
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid configure: params must be an object",
      false,
    );
  }
  const opts = options as Record<string, unknown>;
  let mask: number | null = null;
  const rawMask = opts["version-rolling.mask"];
  if (rawMask !== undefined) {
    if (
      typeof rawMask !== "string" || rawMask.length === 0 || rawMask.length > 8 ||
      !HEX.test(rawMask)
    ) {
      return failure(
        id,
        StratumErrorCode.other,
        "Invalid configure: version-rolling.mask must be hex",
        false,
      );
    }
    mask = parseInt(rawMask, 16) >>> 0;
  }
  const minBits = opts["version-rolling.min-bit-count"];
  const minBitCount =
    typeof minBits === "number" && Number.isInteger(minBits) && minBits >= 0 && minBits <= 32
      ? minBits
      : null;
  const minDiff = opts["minimum-difficulty.value"];
  let minimumDifficulty: number | null = null;
  if (minDiff !== undefined) {
    // BIP310 defines the value as a JSON number; no miner we know sends it as a string.
    const value = typeof minDiff === "number" ? requestedDifficulty(minDiff) : null;
    if (value === null) {
      return failure(
        id,
        StratumErrorCode.other,
        `Invalid configure: minimum-difficulty.value must be a JSON number above 0 and at most ${MAX_REQUESTED_DIFFICULTY_TEXT}`,
        false,
      );
    }
    minimumDifficulty = value;
  }
  return ok({
    method: ClientMethod.configure,
    id,
    extensions: extensions as string[],
    versionRollingMask: mask,
    versionRollingMinBitCount: minBitCount,
    minimumDifficulty,
  });
}

function parseSuggestDifficulty(id: RequestId, params: unknown[]): ParsedRequest | ParseFailure {
  const raw = params[0];
  // NerdMiner, ESP-Miner (Bitaxe) and cgminer send a JSON number. cpuminer-opt sends the value
  // as a quoted "%f" string ("16.000000"), so a plain decimal string is taken too; nothing else
  // that Number() would accept ("0x10", "1e3", " 16", "Infinity") is.
  const value = typeof raw === "number"
    ? requestedDifficulty(raw)
    : typeof raw === "string" && PLAIN_DECIMAL.test(raw)
    ? requestedDifficulty(Number(raw))
    : null;
  if (value === null) {
    return failure(
      id,
      StratumErrorCode.other,
      `Invalid suggest_difficulty: expected a number above 0 and at most ${MAX_REQUESTED_DIFFICULTY_TEXT} (a JSON number or a plain decimal string)`,
      false,
    );
  }
  return ok({ method: ClientMethod.suggestDifficulty, id, difficulty: value });
}

/**
 * bfgminer `--request-diff` sends its wanted share target as 64 hex chars, most significant
 * first (`00000000ffff...` for difficulty 1); it becomes the equivalent difficulty suggestion.
 */
function parseSuggestTarget(id: RequestId, params: unknown[]): ParsedRequest | ParseFailure {
  const raw = params[0];
  const target = isHexOfExactLength(raw, 64) ? BigInt(`0x${raw}`) : 0n;
  const value = target === 0n ? null : requestedDifficulty(targetToDifficulty(target));
  if (value === null) {
    return failure(
      id,
      StratumErrorCode.other,
      "Invalid suggest_target: expected a non-zero target of 64 hex chars",
      false,
    );
  }
  return ok({ method: ClientMethod.suggestDifficulty, id, difficulty: value });
}

/** The value when it is a usable difficulty: finite, above 0, at most the largest one. */
function requestedDifficulty(value: number): number | null {
  return Number.isFinite(value) && value > 0 && value <= MAX_REQUESTED_DIFFICULTY ? value : null;
}

function ok(request: StratumRequest): ParsedRequest {
  return { kind: "request", request, notification: false };
}

function failure(
  id: RequestId,
  code: StratumErrorCode,
  message: string,
  fatal: boolean,
): ParseFailure {
  return { kind: "error", id, code, message, fatal, notification: false };
}

/** Echo at most 64 printable chars of an untrusted method name in an error message. */
function safe(text: string): string {
  return text.slice(0, 64).replace(/[^\x20-\x7e]/g, "?");
}
