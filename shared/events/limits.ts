/**
 * Upper bounds on event string and list fields, apart from the zod payload schemas so the share
 * path (which truncates miner strings to them) loads no schema library.
 *
 * @module
 */

/** Upper bounds on string and list fields; producers must truncate to these. */
export const EVENT_LIMITS = {
  /** Bitcoin addresses are at most 90 characters (bech32); this leaves room. */
  maxUserLength: 128,
  maxWorkerLength: 128,
  maxUserAgentLength: 256,
  /** Job ids come from the miner's submit (an unknown job id is reported as sent). */
  maxJobIdLength: 64,
  /** Session ids are extranonce1 in hex: up to 16 bytes. */
  maxSessionIdLength: 32,
  maxReasonLength: 256,
  maxIpLength: 45,
  /** Entries in block_found.submitted_to and the length of each. */
  maxSubmittedTo: 8,
  maxSubmitTargetLength: 64,
  /** Region tokens (also used in NATS subjects). */
  maxRegionLength: 64,
} as const;
