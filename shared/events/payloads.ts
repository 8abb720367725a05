/**
 * Payload schemas of the nine event types (the envelope's `data` field).
 *
 * Conventions: `user` is the miner's Bitcoin address; `worker` is the worker name or `""`;
 * difficulties and hashrates are finite non-negative numbers and may be fractional; counts and
 * heights are safe integers; hashes are display-order (big-endian) lower-case hex; session ids are
 * the session's extranonce1 as lower-case hex. `reward_sats` is a JSON number: the largest
 * possible amount (21,000,000 BTC = 2.1e15 sats) is below 2^53, so it is exact.
 *
 * Strings a miner controls (worker, user agent, job id) have upper bounds in
 * {@link EVENT_LIMITS}; producers truncate to them before emitting, and the collector refuses
 * longer ones.
 *
 * @module
 */
import { z } from "zod";
import type { EventType } from "./event_type.ts";
import { EVENT_LIMITS } from "./limits.ts";

export { EVENT_LIMITS };

/** Why a share was rejected; `share_submitted.reject_reason`. */
export const ShareRejectReason = {
  Stale: "stale",
  Duplicate: "duplicate",
  LowDifficulty: "low_difficulty",
  BadNtime: "bad_ntime",
  BadVersion: "bad_version",
  UnknownJob: "unknown_job",
  Invalid: "invalid",
} as const;
/** A share reject reason. */
export type ShareRejectReason = typeof ShareRejectReason[keyof typeof ShareRejectReason];

/** What changed a session's difficulty; `diff_updated.reason`. */
export const DiffUpdateReason = {
  Vardiff: "vardiff",
  Suggest: "suggest",
  ReconnectMemory: "reconnect_memory",
  Configure: "configure",
} as const;
/** A difficulty change reason. */
export type DiffUpdateReason = typeof DiffUpdateReason[keyof typeof DiffUpdateReason];

/** How the pool learnt of a new network block; `new_block_network.source`. */
export const NetworkBlockSource = {
  Zmq: "zmq",
  Poll: "poll",
  Primary: "primary",
  Submit: "submit",
} as const;
/** A new-block notification source. */
export type NetworkBlockSource = typeof NetworkBlockSource[keyof typeof NetworkBlockSource];

/** Which best difficulty was beaten; `share_best_diff.scope`. */
export const BestDiffScope = {
  Worker: "worker",
  User: "user",
  Session: "session",
} as const;
/** A best-difficulty scope. */
export type BestDiffScope = typeof BestDiffScope[keyof typeof BestDiffScope];

/** `share_submitted`: one share verdict. `reject_reason` is present exactly when rejected. */
export interface ShareSubmitted {
  readonly user: string;
  readonly worker: string;
  readonly session_id: string;
  /** As the miner sent it (truncated to `maxJobIdLength`), so unknown jobs are reported too. */
  readonly job_id: string;
  /** Difficulty the share's hash meets. */
  readonly share_diff: number;
  /** Difficulty the session was assigned when the share was checked. */
  readonly pool_diff: number;
  readonly accepted: boolean;
  readonly reject_reason?: ShareRejectReason;
  /** The hash met the network target: a block was submitted for this share. */
  readonly block_candidate: boolean;
  readonly ip?: string;
}

/** `block_found`: a block candidate and what the nodes it was submitted to said. */
export interface BlockFound {
  readonly user: string;
  readonly worker: string;
  readonly height: number;
  readonly hash: string;
  /** Coinbase output value paid to the miner, in satoshis. */
  readonly reward_sats: number;
  readonly region: string;
  /** At least one node accepted the block. */
  readonly accepted: boolean;
  /** The node's rejection text (e.g. `"high-hash"`) when not accepted. */
  readonly reject_reason?: string;
  /** Where it was submitted, e.g. `["local", "primary"]`. */
  readonly submitted_to: readonly string[];
}

/** `miner_connected`: a session authorized (or resumed). */
export interface MinerConnected {
  readonly user: string;
  readonly worker: string;
  readonly session_id: string;
  readonly ip: string;
  readonly user_agent: string;
  /** The session resumed earlier state (e.g. difficulty from reconnect memory). */
  readonly resumed: boolean;
}

/** `miner_disconnected`: an authorized session ended. */
export interface MinerDisconnected {
  readonly user: string;
  readonly worker: string;
  readonly session_id: string;
  readonly ip: string;
  readonly reason: string;
  readonly duration_s: number;
  readonly shares_accepted: number;
  readonly shares_rejected: number;
}

/** `diff_updated`: a session's share difficulty changed. */
export interface DiffUpdated {
  readonly user: string;
  readonly worker: string;
  readonly session_id: string;
  readonly old_diff: number;
  readonly new_diff: number;
  readonly reason: DiffUpdateReason;
}

/** `hashrate_update`: periodic per-worker hashrate estimate in H/s. */
export interface HashrateUpdate {
  readonly user: string;
  readonly worker: string;
  readonly hashrate_1m: number;
  readonly hashrate_5m: number;
  readonly hashrate_1h: number;
  readonly shares_1m: number;
}

/** `new_block_network`: the chain tip moved. */
export interface NewBlockNetwork {
  readonly height: number;
  readonly hash: string;
  readonly prev_hash: string;
  readonly source: NetworkBlockSource;
}

/** `share_best_diff`: a share beat the best difficulty of a worker, user or session. */
export interface ShareBestDiff {
  readonly user: string;
  readonly worker: string;
  readonly best_diff: number;
  readonly previous_best: number;
  readonly scope: BestDiffScope;
}

/** `asicboost_detected`: a session negotiated version rolling; hex as on the Stratum wire. */
export interface AsicboostDetected {
  readonly user: string;
  readonly worker: string;
  readonly session_id: string;
  /** 8 lower-case hex digits, e.g. `"1fffe000"`. */
  readonly version_mask: string;
  /** 8 lower-case hex digits. */
  readonly version_bits: string;
}

/** Payload type for each event type. */
export interface EventPayloads {
  share_submitted: ShareSubmitted;
  block_found: BlockFound;
  miner_connected: MinerConnected;
  miner_disconnected: MinerDisconnected;
  diff_updated: DiffUpdated;
  hashrate_update: HashrateUpdate;
  new_block_network: NewBlockNetwork;
  share_best_diff: ShareBestDiff;
  asicboost_detected: AsicboostDetected;
}

const L = EVENT_LIMITS;

const user = z.string().regex(
  new RegExp(`^[A-Za-z0-9]{1,${L.maxUserLength}}$`),
  `expected a Bitcoin address (1-${L.maxUserLength} letters and digits)`,
);
const worker = z.string().max(L.maxWorkerLength);
const sessionId = z.string().regex(
  new RegExp(`^[0-9a-f]{1,${L.maxSessionIdLength}}$`),
  `expected 1-${L.maxSessionIdLength} lower-case hex digits`,
);
const blockHash = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex digits");
const versionBits = z.string().regex(/^[0-9a-f]{8}$/, "expected 8 lower-case hex digits");
const ip = z.string().max(L.maxIpLength).pipe(z.union([z.ipv4(), z.ipv6()]));
const difficulty = z.number().nonnegative();
const positiveDifficulty = z.number().positive();
const hashrate = z.number().nonnegative();
const count = z.int().nonnegative();
const height = z.int().nonnegative();
const reason = z.string().max(L.maxReasonLength);

/** Schema for a region token (envelope `region`, block_found `region`, NATS subject token). */
export const regionSchema: z.ZodString = z.string().regex(
  new RegExp(`^[A-Za-z0-9_-]{1,${L.maxRegionLength}}$`),
  `expected 1-${L.maxRegionLength} of A-Z a-z 0-9 _ -`,
);

/** Most satoshis that can ever exist (21 million BTC). */
export const MAX_MONEY_SATS = 2_100_000_000_000_000;

// Each schema is annotated with its payload interface, so the compiler checks that what the
// schema accepts is a value of that interface.

/** Schema of {@link ShareSubmitted}. */
export const shareSubmittedSchema: z.ZodType<ShareSubmitted> = z.object({
  user,
  worker,
  session_id: sessionId,
  job_id: z.string().max(L.maxJobIdLength),
  share_diff: difficulty,
  pool_diff: positiveDifficulty,
  accepted: z.boolean(),
  reject_reason: z.exactOptional(z.enum(ShareRejectReason)),
  block_candidate: z.boolean(),
  ip: z.exactOptional(ip),
}).superRefine((share, ctx) => {
  if (!share.accepted && share.reject_reason === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["reject_reason"],
      message: "required when accepted is false",
    });
  } else if (share.accepted && share.reject_reason !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["reject_reason"],
      message: "must be absent when accepted is true",
    });
  }
});

/** Schema of {@link BlockFound}. */
export const blockFoundSchema: z.ZodType<BlockFound> = z.object({
  user,
  worker,
  height,
  hash: blockHash,
  reward_sats: z.int().min(0).max(MAX_MONEY_SATS),
  region: regionSchema,
  accepted: z.boolean(),
  reject_reason: z.exactOptional(reason),
  submitted_to: z.array(z.string().min(1).max(L.maxSubmitTargetLength)).max(L.maxSubmittedTo),
});

/** Schema of {@link MinerConnected}. */
export const minerConnectedSchema: z.ZodType<MinerConnected> = z.object({
  user,
  worker,
  session_id: sessionId,
  ip,
  user_agent: z.string().max(L.maxUserAgentLength),
  resumed: z.boolean(),
});

/** Schema of {@link MinerDisconnected}. */
export const minerDisconnectedSchema: z.ZodType<MinerDisconnected> = z.object({
  user,
  worker,
  session_id: sessionId,
  ip,
  reason,
  duration_s: z.number().nonnegative(),
  shares_accepted: count,
  shares_rejected: count,
});

/** Schema of {@link DiffUpdated}. */
export const diffUpdatedSchema: z.ZodType<DiffUpdated> = z.object({
  user,
  worker,
  session_id: sessionId,
  old_diff: positiveDifficulty,
  new_diff: positiveDifficulty,
  reason: z.enum(DiffUpdateReason),
});

/** Schema of {@link HashrateUpdate}. */
export const hashrateUpdateSchema: z.ZodType<HashrateUpdate> = z.object({
  user,
  worker,
  hashrate_1m: hashrate,
  hashrate_5m: hashrate,
  hashrate_1h: hashrate,
  shares_1m: count,
});

/** Schema of {@link NewBlockNetwork}. */
export const newBlockNetworkSchema: z.ZodType<NewBlockNetwork> = z.object({
  height,
  hash: blockHash,
  prev_hash: blockHash,
  source: z.enum(NetworkBlockSource),
});

/** Schema of {@link ShareBestDiff}. */
export const shareBestDiffSchema: z.ZodType<ShareBestDiff> = z.object({
  user,
  worker,
  best_diff: difficulty,
  previous_best: difficulty,
  scope: z.enum(BestDiffScope),
});

/** Schema of {@link AsicboostDetected}. */
export const asicboostDetectedSchema: z.ZodType<AsicboostDetected> = z.object({
  user,
  worker,
  session_id: sessionId,
  version_mask: versionBits,
  version_bits: versionBits,
});

/** Payload schema for each event type. */
export const PAYLOAD_SCHEMAS: { readonly [T in EventType]: z.ZodType<EventPayloads[T]> } = {
  share_submitted: shareSubmittedSchema,
  block_found: blockFoundSchema,
  miner_connected: minerConnectedSchema,
  miner_disconnected: minerDisconnectedSchema,
  diff_updated: diffUpdatedSchema,
  hashrate_update: hashrateUpdateSchema,
  new_block_network: newBlockNetworkSchema,
  share_best_diff: shareBestDiffSchema,
  asicboost_detected: asicboostDetectedSchema,
};
