/**
 * The primary's heartbeat on `mining.heartbeat.{region}`: a small JSON message sent every
 * `templates.heartbeat_ms`, so a relay tells a lost primary (no heartbeat) from a quiet chain
 * (heartbeats, no new template). It also carries the sequence of the last template sent, so a
 * relay sees when it has missed one, and whether the primary's own template feed is healthy.
 *
 * ```json
 * {"v":1,"role":"primary","region":"eu","network":"mainnet","instance":"stratum-eu-0",
 *  "epoch":1716364800000,"sequence":42,"sentAtMs":1716364842000.25,"templateSequence":7,
 *  "templatesHealthy":true}
 * ```
 *
 * @module
 */
import { SUBJECT_TOKEN_PATTERN } from "../nats/subjects.ts";
import { isShortAscii } from "./_bytes.ts";

/** Format version of the heartbeat. */
export const HEARTBEAT_FORMAT = 1;

/** Largest heartbeat accepted, bytes. */
export const MAX_HEARTBEAT_BYTES = 1024;

/** Longest instance name carried. */
const MAX_INSTANCE_CHARS = 64;

/** One heartbeat of the primary. */
export interface PrimaryHeartbeat {
  /** Region of the primary (also the subject's last token). */
  readonly region: string;
  /** Bitcoin network it serves templates for. */
  readonly network: string;
  /** Instance name of the publishing process. */
  readonly instance: string;
  /** The publisher's run (its start time, ms); the epoch of its template messages. */
  readonly epoch: number;
  /** 1 for the run's first heartbeat, one more for each after it. */
  readonly sequence: number;
  /** Primary's clock when sent, ms since the epoch. */
  readonly sentAtMs: number;
  /** Sequence of the last template sent in this epoch; 0 before the first. */
  readonly templateSequence: number;
  /** The primary's template source is healthy (its bitcoind answers). */
  readonly templatesHealthy: boolean;
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a heartbeat as JSON.
 *
 * @param heartbeat the heartbeat
 * @returns UTF-8 JSON bytes
 */
export function encodeHeartbeat(heartbeat: PrimaryHeartbeat): Uint8Array {
  return ENCODER.encode(JSON.stringify({
    v: HEARTBEAT_FORMAT,
    role: "primary",
    region: heartbeat.region,
    network: heartbeat.network,
    instance: heartbeat.instance,
    epoch: heartbeat.epoch,
    sequence: heartbeat.sequence,
    sentAtMs: heartbeat.sentAtMs,
    templateSequence: heartbeat.templateSequence,
    templatesHealthy: heartbeat.templatesHealthy,
  }));
}

function fail(problem: string): never {
  throw new SyntaxError(`Cannot decode heartbeat: ${problem}`);
}

function token(o: Record<string, unknown>, key: string): string {
  const value = o[key];
  if (typeof value !== "string" || value.length > 32 || !SUBJECT_TOKEN_PATTERN.test(value)) {
    fail(`${key} must be a subject token of at most 32 characters`);
  }
  return value;
}

function count(o: Record<string, unknown>, key: string): number {
  const value = o[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail(`${key} must be an integer ≥ 0`);
  }
  return value;
}

/**
 * Decodes and validates a heartbeat.
 *
 * @param bytes the message payload
 * @returns the heartbeat
 * @throws {SyntaxError} naming the problem: too large, not UTF-8 JSON, wrong version or role, a
 *   missing or malformed field
 */
export function decodeHeartbeat(bytes: Uint8Array): PrimaryHeartbeat {
  if (bytes.length > MAX_HEARTBEAT_BYTES) {
    fail(`${bytes.length} bytes is above the ${MAX_HEARTBEAT_BYTES}-byte cap`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(DECODER.decode(bytes));
  } catch (error) {
    fail(`not UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    fail("not a JSON object");
  }
  const o = parsed as Record<string, unknown>;
  if (o.v !== HEARTBEAT_FORMAT) fail(`version ${JSON.stringify(o.v)} is not ${HEARTBEAT_FORMAT}`);
  if (o.role !== "primary") fail(`role ${JSON.stringify(o.role)} is not "primary"`);
  const instance = o.instance;
  if (typeof instance !== "string" || !isShortAscii(instance, MAX_INSTANCE_CHARS)) {
    fail(`instance must be printable ASCII of at most ${MAX_INSTANCE_CHARS} characters`);
  }
  const sentAtMs = o.sentAtMs;
  if (typeof sentAtMs !== "number" || !Number.isFinite(sentAtMs)) {
    fail("sentAtMs must be a finite number");
  }
  if (typeof o.templatesHealthy !== "boolean") fail("templatesHealthy must be a boolean");
  return {
    region: token(o, "region"),
    network: token(o, "network"),
    instance,
    epoch: count(o, "epoch"),
    sequence: count(o, "sequence"),
    sentAtMs,
    templateSequence: count(o, "templateSequence"),
    templatesHealthy: o.templatesHealthy,
  };
}
