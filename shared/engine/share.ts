/**
 * Share validation as one ordered pipeline ending in one verdict (the ckpool habit), as a pure
 * function: bytes in, verdict out, no I/O. A possible block is tested before any stale,
 * duplicate or difficulty rejection, so a block is never thrown away.
 */
import {
  bytesToHex,
  hashDifficulty,
  hashMeetsDifficulty,
  hashMeetsTarget,
  hexToBytes,
  merkleRootFromBranch,
  serializeHeader,
  sha256d,
} from "../bitcoin/mod.ts";
import { StratumErrorCode } from "../stratum/mod.ts";
import type { CoinbaseParts } from "./coinbase.ts";
import type { Workbase } from "./jobs.ts";

/** Why a share was refused (the values used in share_submitted events). */
export const RejectReason = {
  stale: "stale",
  duplicate: "duplicate",
  lowDifficulty: "low_difficulty",
  badNtime: "bad_ntime",
  badVersion: "bad_version",
  unknownJob: "unknown_job",
  invalid: "invalid",
} as const;

/** Union of reject reasons. */
export type RejectReason = typeof RejectReason[keyof typeof RejectReason];

/** Seconds a share's ntime may run ahead of the pool's clock (Core refuses blocks > 2 h ahead). */
export const MAX_NTIME_AHEAD_S = 7000;

/** Everything the validator needs; the caller resolved the job and the session's coinbase. */
export interface ShareInput {
  readonly workbase: Workbase;
  /** True when the job belongs to a superseded tip or was retired. */
  readonly stale: boolean;
  readonly coinbase: CoinbaseParts;
  readonly extranonce1: Uint8Array;
  readonly extranonce2Hex: string;
  readonly ntime: number;
  readonly nonce: number;
  /** Rolled version bits from the 6th param, or null. */
  readonly versionBits: number | null;
  /** The version-rolling mask negotiated with this session (0 when none). */
  readonly versionMask: number;
  readonly difficulty: number;
  /** The difficulty before the last retarget, while its grace period lasts; otherwise null. */
  readonly previousDifficulty: number | null;
  readonly nowSec: number;
}

/** A block found by a share: what the submitter needs to assemble it. */
export interface BlockCandidate {
  readonly header: Uint8Array;
  /** The coinbase without witness (txid form). */
  readonly coinbase: Uint8Array;
  readonly hashHex: string;
}

/** The verdict. `hashHex`/`shareDiff` are present whenever the header was hashed. */
export type ShareVerdict =
  | {
    readonly accepted: true;
    readonly shareDiff: number;
    readonly hashHex: string;
    readonly block: BlockCandidate | null;
    readonly version: number;
  }
  | {
    readonly accepted: false;
    readonly reason: RejectReason;
    readonly code: StratumErrorCode;
    readonly message: string;
    readonly shareDiff: number;
    readonly block: BlockCandidate | null;
  };

/** Validates one share. Pure: the only state it touches is the job's accepted-hash set. */
export function validateShare(input: ShareInput): ShareVerdict {
  const { workbase, coinbase } = input;
  const template = workbase.template;

  if (input.ntime < template.mintime || input.ntime > input.nowSec + MAX_NTIME_AHEAD_S) {
    return reject(RejectReason.badNtime, StratumErrorCode.other, "ntime out of range", 0, null);
  }
  let version = template.version;
  if (input.versionBits !== null) {
    if ((input.versionBits & ~input.versionMask) !== 0) {
      return reject(
        RejectReason.badVersion,
        StratumErrorCode.other,
        input.versionMask === 0
          ? "Version rolling was not negotiated (mining.configure)"
          : "Version bits outside the negotiated mask",
        0,
        null,
      );
    }
    version = ((template.version & ~input.versionMask) | input.versionBits) >>> 0;
  }

  const extranonce2 = hexToBytes(input.extranonce2Hex);
  const cb = new Uint8Array(
    coinbase.coinb1.length + input.extranonce1.length + extranonce2.length + coinbase.coinb2.length,
  );
  cb.set(coinbase.coinb1, 0);
  cb.set(input.extranonce1, coinbase.coinb1.length);
  cb.set(extranonce2, coinbase.coinb1.length + input.extranonce1.length);
  cb.set(coinbase.coinb2, coinbase.coinb1.length + input.extranonce1.length + extranonce2.length);
  const merkleRoot = merkleRootFromBranch(sha256d(cb), template.merkleBranch as Uint8Array[]);
  const header = serializeHeader({
    version,
    prevHash: template.prevHash,
    merkleRoot,
    time: input.ntime,
    bits: template.bits,
    nonce: input.nonce,
  });
  const hash = sha256d(header);
  const shareDiff = hashDifficulty(hash);

  // The float pre-check skips the exact comparison for the overwhelming majority of shares.
  let block: BlockCandidate | null = null;
  if (shareDiff >= workbase.networkDifficulty * 0.999 && hashMeetsTarget(hash, template.target)) {
    block = { header, coinbase: cb, hashHex: displayHex(hash) };
  }

  if (input.stale) {
    return reject(RejectReason.stale, StratumErrorCode.jobNotFound, "Stale job", shareDiff, block);
  }
  const meets = hashMeetsDifficulty(hash, input.difficulty) ||
    (input.previousDifficulty !== null && hashMeetsDifficulty(hash, input.previousDifficulty));
  if (!meets && block === null) {
    return reject(
      RejectReason.lowDifficulty,
      StratumErrorCode.lowDifficulty,
      `Low difficulty share (${formatDiff(shareDiff)} < ${formatDiff(input.difficulty)})`,
      shareDiff,
      null,
    );
  }
  // Only shares that meet the difficulty get this far, so the hex is built for few of them.
  const hashHex = block?.hashHex ?? displayHex(hash);
  if (workbase.acceptedHashes.has(hashHex)) {
    return reject(
      RejectReason.duplicate,
      StratumErrorCode.duplicate,
      "Duplicate share",
      shareDiff,
      block,
    );
  }
  workbase.acceptedHashes.add(hashHex);
  return { accepted: true, shareDiff, hashHex, block, version };
}

function reject(
  reason: RejectReason,
  code: StratumErrorCode,
  message: string,
  shareDiff: number,
  block: BlockCandidate | null,
): ShareVerdict {
  return { accepted: false, reason, code, message, shareDiff, block };
}

/** Display-order hex of an internal-order hash. */
function displayHex(hash: Uint8Array): string {
  return bytesToHex(hash.slice().reverse());
}

function formatDiff(d: number): string {
  return d >= 1 ? d.toFixed(2) : d.toPrecision(4);
}
