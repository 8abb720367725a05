/**
 * Target 1: the bytes a miner sends, through the line decoder and the Stratum JSON-RPC parser,
 * up to the reply the session would write. Oracles: parseLine never throws (its contract); the
 * decoder yields the same lines whatever the read chunking, none above the cap; every result has
 * the documented shape; every error reply is one line of JSON that echoes the request id.
 */
import { LineDecoder } from "../../../shared/stratum/line_decoder.ts";
import { parseLine, type ParseResult } from "../../../shared/stratum/parse.ts";
import { encodeError, encodeResult } from "../../../shared/stratum/encode.ts";
import { stratumError } from "../../../shared/stratum/errors.ts";
import { mutateJson } from "../json_mutate.ts";
import type { Rng } from "../rng.ts";
import { check, type FuzzTarget } from "../target.ts";

/** The pool's line cap (16 KiB, the stratum listener's default). */
export const MAX_LINE_BYTES = 16 * 1024;

/** Keys, methods and values of Stratum requests as miners send them. */
export const STRATUM_STRINGS: readonly string[] = [
  "id",
  "method",
  "params",
  "result",
  "error",
  "jsonrpc",
  "mining.subscribe",
  "mining.authorize",
  "mining.submit",
  "mining.configure",
  "mining.suggest_difficulty",
  "mining.extranonce.subscribe",
  "mining.suggest_target",
  "mining.capabilities",
  "mining.notify",
  "mining.set_difficulty",
  "mining.ping",
  "version-rolling",
  "version-rolling.mask",
  "version-rolling.min-bit-count",
  "minimum-difficulty",
  "minimum-difficulty.value",
  "subscribe-extranonce",
  "info",
  "1fffe000",
  "ffffffff",
  "bitaxe/BM1370/v2.9.0",
  "NerdMinerV2",
  "cgminer/4.12.1",
  "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
  "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080.rig1",
  "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq.worker",
  "x",
  "x,d=5000",
  "diff=0.001",
  "1",
  "00000001",
  "0000000000000001",
  "6553f100",
];

const encoder = new TextEncoder();

/** The Stratum parser with a fixed extranonce2 size, fed the way a connection feeds it. */
export function stratumTarget(extranonce2Size = 8): FuzzTarget {
  return {
    name: "stratum",
    description:
      "line decoder + Stratum JSON-RPC parser (shared/stratum/line_decoder.ts, parse.ts)",
    modules: ["/shared/stratum/"],
    maxInputBytes: MAX_LINE_BYTES + 2048,
    dictionary: [
      ...STRATUM_STRINGS.map((s) => JSON.stringify(s)),
      "\n",
      "\r\n",
      "\\u0000",
      "{}",
      "[]",
    ],
    seeds: () => [],
    mutate: (input: Uint8Array, rng: Rng) => mutateLines(input, rng),
    run(input: Uint8Array): void {
      for (const line of decodeLines(input)) {
        checkParse(parseLine(line, { extranonce2Size }), extranonce2Size);
      }
    },
  };
}

/** Mutates one line of a transcript as JSON (the others stay as they are). */
export function mutateLines(input: Uint8Array, rng: Rng): Uint8Array | null {
  const text = new TextDecoder().decode(input);
  const lines = text.split("\n");
  const at = rng.below(lines.length);
  const mutated = mutateJson(encoder.encode(lines[at]!), rng, STRATUM_STRINGS);
  if (mutated === null) return null;
  lines[at] = new TextDecoder().decode(mutated);
  return encoder.encode(lines.join("\n"));
}

/**
 * Splits `input` into lines twice and checks both agree: fed whole, and fed in chunks of a size
 * taken from the input, each chunk in a reused read buffer whose bytes past `length` are stale
 * newlines (the connection's read loop reuses its buffer).
 */
export function decodeLines(input: Uint8Array): string[] {
  const whole: string[] = [];
  const wholeResult = new LineDecoder(MAX_LINE_BYTES).feed(input, (l) => whole.push(l));

  const chunked: string[] = [];
  // Reads of 1–8 bytes for one input in eight (a slow sender), else 64–4096: a line pending over
  // many tiny reads is copied once per read, which would make most of the run's time.
  const chunkSize = ((input[0] ?? 0) & 7) === 0
    ? 1 + (input.length % 8)
    : 64 + ((input.length * 31) % 4033);
  const readBuffer = new Uint8Array(chunkSize + 8).fill(0x0a);
  const decoder = new LineDecoder(MAX_LINE_BYTES);
  let chunkedResult = "ok";
  for (let at = 0; at < input.length && chunkedResult === "ok"; at += chunkSize) {
    const chunk = input.subarray(at, at + chunkSize);
    readBuffer.set(chunk);
    chunkedResult = decoder.feed(readBuffer, (l) => chunked.push(l), chunk.length);
    readBuffer.fill(0x0a);
  }

  check(
    wholeResult === chunkedResult,
    `decoder results differ: ${wholeResult} fed whole, ${chunkedResult} in chunks`,
  );
  check(sameLines(whole, chunked), "chunked feeding from a reused buffer yields other lines");
  for (const line of whole) {
    check(line.length > 0, "an empty line was delivered");
    check(!line.includes("\n"), "a delivered line contains a newline");
    check(line.length <= MAX_LINE_BYTES, "a line above the cap was delivered");
  }
  return whole;
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

const HEX_ONLY = /^[0-9a-f]*$/;

/** The documented shape of a parse result, and the reply the session writes for it. */
export function checkParse(result: ParseResult, extranonce2Size: number): void {
  if (result.kind === "ignored") return;
  if (result.kind === "error") {
    check(
      typeof result.code === "number" && Number.isInteger(result.code),
      "error code is not an integer",
    );
    check(
      typeof result.message === "string" && result.message.length <= 256,
      "error message is unbounded",
    );
    check(/^[\x20-\x7e]*$/.test(result.message), "error message carries unprintable characters");
    checkId(result.id);
    const reply = encodeError(result.id, stratumError(result.code, result.message));
    checkReply(reply, result.id);
    return;
  }
  check(
    result.kind === "request",
    `unknown result kind ${String((result as { kind: unknown }).kind)}`,
  );
  const request = result.request;
  checkId(request.id);
  check(
    typeof result.notification === "boolean" && (!result.notification || request.id === null),
    "a notification carries an id",
  );
  checkReply(encodeResult(request.id, true), request.id);
  switch (request.method) {
    case "mining.submit":
      check(
        request.extranonce2.length === extranonce2Size * 2 && HEX_ONLY.test(request.extranonce2),
        "submit extranonce2 is not lowercase hex of the configured size",
      );
      check(
        request.jobId.length >= 1 && request.jobId.length <= 8 && HEX_ONLY.test(request.jobId),
        "submit job id is not 1-8 lowercase hex",
      );
      for (const n of [request.ntime, request.nonce, request.versionBits ?? 0]) {
        check(Number.isInteger(n) && n >= 0 && n <= 0xffffffff, "submit number is not a uint32");
      }
      check(typeof request.workerName === "string", "submit worker is not a string");
      break;
    case "mining.suggest_difficulty":
      check(
        Number.isFinite(request.difficulty) && request.difficulty > 0,
        "suggested difficulty is not a positive finite number",
      );
      break;
    case "mining.configure":
      check(
        request.minimumDifficulty === null ||
          (Number.isFinite(request.minimumDifficulty) && request.minimumDifficulty > 0),
        "configure minimum difficulty is not positive and finite",
      );
      check(
        request.versionRollingMask === null ||
          (Number.isInteger(request.versionRollingMask) && request.versionRollingMask >= 0 &&
            request.versionRollingMask <= 0xffffffff),
        "configure mask is not a uint32",
      );
      break;
    case "mining.authorize":
      check(
        request.address.length >= 1 && request.address.length <= 90,
        "authorize address length out of bounds",
      );
      check(
        request.passwordDifficulty === null ||
          (Number.isFinite(request.passwordDifficulty) && request.passwordDifficulty > 0),
        "password difficulty is not positive and finite",
      );
      check(
        request.ignoredPasswordDifficulty === null ||
          /^[\x20-\x7e]{1,32}$/.test(request.ignoredPasswordDifficulty),
        "ignored password difficulty is not bounded printable text",
      );
      break;
    case "mining.subscribe":
      check(request.userAgent.length <= 256, "subscribe user agent is unbounded");
      break;
    default:
      break;
  }
}

function checkId(id: unknown): void {
  check(
    id === null || typeof id === "string" || typeof id === "number",
    `request id of type ${typeof id}`,
  );
}

function checkReply(reply: string, id: unknown): void {
  check(
    reply.endsWith("\n") && reply.indexOf("\n") === reply.length - 1,
    "reply is not exactly one line",
  );
  const parsed = JSON.parse(reply) as { id: unknown };
  // JSON has no Infinity: an id of 1e400 parses to Infinity and is echoed as null.
  const echoed = typeof id === "number" && !Number.isFinite(id) ? null : id;
  check(parsed.id === echoed, "reply does not echo the request id");
}
