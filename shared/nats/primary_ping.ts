/**
 * Round trip from a relay to the primary pool process (`ckpool_relay_primary_rtt_ms`): the
 * primary answers tiny requests on {@link PRIMARY_PING_SUBJECT}; a relay times one request/reply
 * through its NATS path (leaf → hub → primary and back), so the figure is what a block
 * submission to the primary pays on top of its payload.
 *
 * The reply is JSON `{"v":1,"region":"eu","instance":"stratum-eu-0","atMs":…}`, so a relay can
 * also log who answered.
 *
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "nats";

/** Subject the primary answers pings on (request/reply). */
export const PRIMARY_PING_SUBJECT = "mining.primary.ping";

/** Format version of the reply. */
const PING_FORMAT = 1;

/** Longest reply accepted. */
const MAX_REPLY_BYTES = 1024;

/** Who answered a ping. */
export interface PrimaryPingReply {
  /** The primary's region. */
  readonly region: string;
  /** The answering process's instance name. */
  readonly instance: string;
  /** The primary's clock when it answered, ms since the epoch. */
  readonly atMs: number;
}

/** A measured round trip. */
export interface PrimaryPingResult extends PrimaryPingReply {
  /** Request sent → reply received, ms. */
  readonly rttMs: number;
}

/**
 * Answers pings on `connection` until the subscription is closed (or the connection is).
 *
 * @param connection the primary's NATS connection
 * @param identity region and instance put in every reply
 * @param nowMs clock for `atMs`
 * @returns the subscription (unsubscribe to stop answering)
 */
export function servePrimaryPing(
  connection: NatsConnection,
  identity: { readonly region: string; readonly instance: string },
  nowMs: () => number = Date.now,
): Subscription {
  return connection.subscribe(PRIMARY_PING_SUBJECT, {
    callback: (error: Error | null, msg: Msg) => {
      if (error !== null) return;
      msg.respond(
        JSON.stringify({
          v: PING_FORMAT,
          region: identity.region,
          instance: identity.instance,
          atMs: nowMs(),
        }),
      );
    },
  });
}

/**
 * Parses a ping reply.
 *
 * @throws {SyntaxError} naming what is wrong when the bytes are not a version-1 reply
 */
export function decodePingReply(bytes: Uint8Array): PrimaryPingReply {
  if (bytes.length > MAX_REPLY_BYTES) {
    throw new SyntaxError(
      `Cannot read ping reply: ${bytes.length} bytes (most ${MAX_REPLY_BYTES})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new SyntaxError("Cannot read ping reply: not JSON");
  }
  const reply = value as Record<string, unknown> | null;
  if (typeof reply !== "object" || reply === null || reply.v !== PING_FORMAT) {
    throw new SyntaxError(`Cannot read ping reply: not a version ${PING_FORMAT} reply`);
  }
  const { region, instance, atMs } = reply;
  if (typeof region !== "string" || typeof instance !== "string") {
    throw new SyntaxError("Cannot read ping reply: region and instance must be strings");
  }
  if (typeof atMs !== "number" || !Number.isFinite(atMs)) {
    throw new SyntaxError("Cannot read ping reply: atMs must be a finite number");
  }
  return { region: region.slice(0, 64), instance: instance.slice(0, 64), atMs };
}

/**
 * Sends one ping and times the reply.
 *
 * @param connection the relay's NATS connection towards the primary
 * @param timeoutMs longest wait for the reply
 * @param nowMs monotonic clock for the round trip
 * @throws the client's error when nobody answers (no responders) or the reply is late, and
 *   {@link SyntaxError} for a malformed reply
 */
export async function pingPrimary(
  connection: NatsConnection,
  timeoutMs: number,
  nowMs: () => number = () => performance.now(),
): Promise<PrimaryPingResult> {
  const started = nowMs();
  const msg = await connection.request(PRIMARY_PING_SUBJECT, new Uint8Array(0), {
    timeout: timeoutMs,
  });
  const rttMs = nowMs() - started;
  return { ...decodePingReply(msg.data), rttMs };
}
