/**
 * Stratum V1 message shapes. One small type per method, as public-pool does, so every handler's
 * input and output is spelled out; parsing and validation live in `parse.ts`.
 */
import type { StratumWireError } from "./errors.ts";

/** A JSON-RPC id as miners send it. */
export type RequestId = number | string | null;

/** Client → server methods this pool understands. */
export const ClientMethod = {
  subscribe: "mining.subscribe",
  authorize: "mining.authorize",
  configure: "mining.configure",
  suggestDifficulty: "mining.suggest_difficulty",
  /** bfgminer's `--request-diff`: parsed into a suggest_difficulty request. */
  suggestTarget: "mining.suggest_target",
  /** bfgminer's capability announcement: acknowledged, nothing to configure. */
  capabilities: "mining.capabilities",
  extranonceSubscribe: "mining.extranonce.subscribe",
  submit: "mining.submit",
} as const;

/** Union of client method names. */
export type ClientMethod = typeof ClientMethod[keyof typeof ClientMethod];

/** Server → client notification methods. */
export const ServerMethod = {
  notify: "mining.notify",
  setDifficulty: "mining.set_difficulty",
  setVersionMask: "mining.set_version_mask",
  setExtranonce: "mining.set_extranonce",
  reconnect: "client.reconnect",
} as const;

/** Union of server notification names. */
export type ServerMethod = typeof ServerMethod[keyof typeof ServerMethod];

/** mining.subscribe: `[user_agent?, session_id?]` (host/port extras are ignored). */
export interface SubscribeRequest {
  readonly method: typeof ClientMethod.subscribe;
  readonly id: RequestId;
  readonly userAgent: string;
  /** Hex session id presented by a reconnecting client, if any. */
  readonly sessionId: string | null;
}

/** mining.authorize: `[username, password]`, username = `address[.worker]`. */
export interface AuthorizeRequest {
  readonly method: typeof ClientMethod.authorize;
  readonly id: RequestId;
  /** The Bitcoin address part (not yet decoded; the session decodes it against the network). */
  readonly address: string;
  /** Worker name, `""` when absent. */
  readonly worker: string;
  readonly password: string;
  /** A `d=`/`diff=` difficulty in the password (see `password_difficulty.ts`), or null. */
  readonly passwordDifficulty: number | null;
  /** A `d=`/`diff=` setting whose value was not a usable difficulty (for the log), or null. */
  readonly ignoredPasswordDifficulty: string | null;
}

/** BIP310 mining.configure: `[extensions[], params{}]`. */
export interface ConfigureRequest {
  readonly method: typeof ClientMethod.configure;
  readonly id: RequestId;
  readonly extensions: readonly string[];
  /** `version-rolling.mask` as a 32-bit value, when asked for. */
  readonly versionRollingMask: number | null;
  /** `version-rolling.min-bit-count`, when given. */
  readonly versionRollingMinBitCount: number | null;
  /** `minimum-difficulty.value`, when given. */
  readonly minimumDifficulty: number | null;
}

/**
 * mining.suggest_difficulty: `[difficulty]`; also what mining.suggest_target `[target hex]`
 * parses into (the target's difficulty).
 */
export interface SuggestDifficultyRequest {
  readonly method: typeof ClientMethod.suggestDifficulty;
  readonly id: RequestId;
  readonly difficulty: number;
}

/** mining.capabilities: `[{...}]`, bfgminer's list of what it supports. */
export interface CapabilitiesRequest {
  readonly method: typeof ClientMethod.capabilities;
  readonly id: RequestId;
}

/** mining.extranonce.subscribe: `[]`. */
export interface ExtranonceSubscribeRequest {
  readonly method: typeof ClientMethod.extranonceSubscribe;
  readonly id: RequestId;
}

/**
 * mining.submit: `[worker, job_id, extranonce2, ntime, nonce, version_bits?]`.
 * Hex fields are validated for form here and kept as hex; numeric fields are parsed.
 */
export interface SubmitRequest {
  readonly method: typeof ClientMethod.submit;
  readonly id: RequestId;
  readonly workerName: string;
  readonly jobId: string;
  readonly extranonce2: string;
  readonly ntime: number;
  readonly nonce: number;
  /** The rolled version bits as sent (already masked by nothing), or null without the 6th param. */
  readonly versionBits: number | null;
}

/** Any request this pool understands. */
export type StratumRequest =
  | SubscribeRequest
  | AuthorizeRequest
  | ConfigureRequest
  | SuggestDifficultyRequest
  | CapabilitiesRequest
  | ExtranonceSubscribeRequest
  | SubmitRequest;

/** A response line: exactly one of result or error is meaningful. */
export interface StratumResponse {
  readonly id: RequestId;
  readonly result: unknown;
  readonly error: StratumWireError | null;
}

/** mining.notify params in wire order. */
export interface NotifyParams {
  readonly jobId: string;
  /** Previous block hash in Stratum's word-swapped hex (see `prevHashToStratum`). */
  readonly prevHash: string;
  readonly coinb1: string;
  readonly coinb2: string;
  readonly merkleBranch: readonly string[];
  /** Big-endian hex of the 32-bit values. */
  readonly version: string;
  readonly nbits: string;
  readonly ntime: string;
  readonly cleanJobs: boolean;
}
