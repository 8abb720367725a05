/**
 * The boundary between a session and the engine that owns it: what a session sends to (its
 * `Transport`) and what it may ask of the engine (`SessionHost`), with the settings and types both
 * sides share. Kept apart from the session's state machine so each reads on its own.
 */
import type { Network } from "../bitcoin/mod.ts";
import type { SubmitRequest } from "../stratum/mod.ts";
import type { Clock } from "./clock.ts";
import type { JobManager, Workbase } from "./jobs.ts";
import type { RateLimitOptions } from "./rate_limit.ts";
import type { Session } from "./session.ts";
import type { ShareVerdict } from "./share.ts";
import type { VarDiffOptions } from "./vardiff.ts";

/** Where a session's output goes: the connection that owns it. */
export interface Transport {
  /** Queues one complete line for the miner. */
  send(line: string): void;
  /** Flushes queued lines and closes the connection. */
  close(reason: string): void;
}

/** The identity a worker authorized with. */
export interface AuthorizedWorker {
  readonly username: string;
  readonly address: string;
  readonly worker: string;
  readonly payoutScript: Uint8Array;
  /** Cache key of the payout script (hex), shared by all sessions paying the same script. */
  readonly payoutKey: string;
}

/** Engine-wide settings every session reads. */
export interface SessionOptions {
  readonly network: Network;
  readonly extranonce2Size: number;
  /** The pool's version_mask (0 disables version rolling). */
  readonly poolVersionMask: number;
  readonly startDifficulty: number;
  readonly vardiff: VarDiffOptions;
  readonly rateLimits: RateLimitOptions;
  /** After a retarget, shares at the previous difficulty are still accepted for this long. */
  readonly difficultyGraceMs: number;
  /** Longest line accepted from a miner. */
  readonly maxLineBytes: number;
}

/** What the engine offers sessions. */
export interface SessionHost {
  readonly options: SessionOptions;
  readonly clock: Clock;
  readonly jobs: JobManager;
  /** A fresh extranonce1, or the one of `resumeId` when it is free to reuse. */
  allocateExtranonce1(resumeId: string | null): { extranonce1: Uint8Array; resumed: boolean };
  /** Gives an extranonce1 back (kept reserved for resume for a while). */
  releaseExtranonce1(extranonce1: Uint8Array): void;
  /** Remembered difficulty for a reconnecting worker (may resolve later; never awaited on hot path). */
  recallDifficulty(session: Session, username: string): void;
  /**
   * Records the difficulty for reconnect memory (fire-and-forget). Sessions pass only a
   * difficulty they had a share accepted at: anyone may connect under another miner's name, so
   * what that name starts at next time must be backed by work, not by a request.
   */
  rememberDifficulty(username: string, difficulty: number): void;
  /** A share verdict, for metrics, events, best-share tracking and block submission. */
  onShare(
    session: Session,
    submit: SubmitRequest,
    verdict: ShareVerdict,
    workbase: Workbase,
    handlingUs: number,
  ): void;
  /**
   * A share refused before validation because its job is gone (`stale`: a superseded tip whose
   * job data was dropped) or was never issued (`unknown_job`); counted and reported like any
   * other rejected share.
   */
  onJobRefused(
    session: Session,
    submit: SubmitRequest,
    reason: "stale" | "unknown_job",
    handlingUs: number,
  ): void;
  /** A worker authorized (first authorization on the connection is `first`). */
  onAuthorized(session: Session, worker: AuthorizedWorker, first: boolean): void;
  /** The session changed difficulty. */
  onDifficultyChanged(
    session: Session,
    oldDiff: number,
    newDiff: number,
    reason: DifficultyReason,
  ): void;
  /** A rate limit refused something; `rule` names the limit. */
  onRateLimited(session: Session, rule: string): void;
  /**
   * A `d=`/`diff=` password setting that was not a usable difficulty was ignored (`setting` is
   * its bounded, printable text): logged, never refused, as an authorize error would stop a
   * miner whose password field merely holds text the pool cannot read.
   */
  onPasswordDifficultyIgnored(session: Session, setting: string): void;
  /** A protocol error answered to the miner (for metrics). */
  onProtocolError(session: Session, kind: string): void;
  /** The pool is draining: refuse new subscriptions. */
  readonly draining: boolean;
}

/** Why a difficulty changed (the diff_updated event's reason). */
export type DifficultyReason = "vardiff" | "suggest" | "reconnect_memory" | "configure";
