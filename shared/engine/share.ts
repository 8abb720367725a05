/**
 * Share validation as one ordered pipeline ending in one verdict (the ckpool habit), as a pure
 * function: bytes in, verdict out, no I/O. A possible block is tested before any stale,
 * duplicate or difficulty rejection, so a block is never thrown away.
 */
import {
  bytesToHex,
  encodeCompactSize,
  hashDifficulty,
  hashMeetsDifficulty,
  hashMeetsTarget,
  sha256dInto,
} from "../bitcoin/mod.ts";
import { StratumErrorCode } from "../stratum/mod.ts";
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

/** Seconds a share's ntime may run ahead of the node's clock (Core refuses blocks > 2 h ahead). */
export const MAX_NTIME_AHEAD_S = 7000;

/**
 * The node's clock now, in seconds, as the job's template shows it: its `curtime` plus the time
 * this host has counted since the job was made. A host whose own clock is off (broken NTP) thus
 * moves neither bound of the ntime window; only its rate matters, over a job's short life. (ckpool
 * bounds ntime by the job's ntime + 7000 for the same reason.)
 *
 * @param workbase the job the share is for.
 * @param nowMs this host's clock, on the same scale as `workbase.createdAtMs`.
 * @returns seconds since the epoch by the node's clock.
 */
export function nodeClockSec(workbase: Workbase, nowMs: number): number {
  return workbase.template.curtime + Math.floor(Math.max(0, nowMs - workbase.createdAtMs) / 1000);
}

/** Everything the validator needs; the caller resolved the job. */
export interface ShareInput {
  readonly workbase: Workbase;
  /** True when the job belongs to a superseded tip or was retired. */
  readonly stale: boolean;
  /** The session's payout script, spliced into the job's coinbase template. */
  readonly payoutScript: Uint8Array;
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
  /** The node's clock now, seconds ({@linkcode nodeClockSec}): ntime's upper bound is from it. */
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

// Scratch buffers of the share path, reused by every call: validateShare runs to completion
// synchronously, and a block candidate gets copies. Per share this leaves only the verdict and
// strings as garbage, which keeps young-generation collections (the latency tail) rare.
let coinbaseScratch = new Uint8Array(512);
/** [node ‖ branch hash]: the merkle fold hashes it in place. */
const merkleScratch = new Uint8Array(64);
const headerScratch = new Uint8Array(80);
const headerView = new DataView(headerScratch.buffer);
const hashScratch = new Uint8Array(32);

/** Char code → nibble, -1 for a non-hex character. */
const NIBBLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) table[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    table[0x41 + i] = 10 + i;
    table[0x61 + i] = 10 + i;
  }
  return table;
})();

/** Decodes hex into `out` at `offset`; SyntaxError (as hexToBytes) on odd length or a bad digit. */
function decodeHexInto(hex: string, out: Uint8Array, offset: number): void {
  if (hex.length % 2 !== 0) throw new SyntaxError(`Cannot decode hex: odd length ${hex.length}`);
  for (let i = 0, j = offset; i < hex.length; i += 2, j++) {
    const a = hex.charCodeAt(i);
    const b = hex.charCodeAt(i + 1);
    const hi = a < 128 ? NIBBLE[a]! : -1;
    const lo = b < 128 ? NIBBLE[b]! : -1;
    if (hi < 0 || lo < 0) {
      const at = hi < 0 ? i : i + 1;
      throw new SyntaxError(
        `Cannot decode hex: character ${JSON.stringify(hex[at])} at index ${at} is not a hex digit`,
      );
    }
    out[j] = (hi << 4) | lo;
  }
}

/**
 * Writes the miner's coinbase (coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2 with the payout
 * script) into the scratch buffer; returns its length.
 */
function writeCoinbase(input: ShareInput): number {
  const cb = input.workbase.coinbase;
  const script = input.payoutScript;
  const en2Bytes = input.extranonce2Hex.length >>> 1;
  // Standard scripts are at most 42 bytes, so their CompactSize is one byte.
  const scriptLength = script.length < 0xfd ? null : encodeCompactSize(script.length);
  const length = cb.coinb1.length + input.extranonce1.length + en2Bytes + cb.coinb2Head.length +
    (scriptLength?.length ?? 1) + script.length + cb.coinb2Tail.length;
  if (length > coinbaseScratch.length) coinbaseScratch = new Uint8Array(length * 2);
  const out = coinbaseScratch;
  let offset = 0;
  out.set(cb.coinb1, offset);
  offset += cb.coinb1.length;
  out.set(input.extranonce1, offset);
  offset += input.extranonce1.length;
  decodeHexInto(input.extranonce2Hex, out, offset);
  offset += en2Bytes;
  out.set(cb.coinb2Head, offset);
  offset += cb.coinb2Head.length;
  if (scriptLength === null) out[offset++] = script.length;
  else {
    out.set(scriptLength, offset);
    offset += scriptLength.length;
  }
  out.set(script, offset);
  offset += script.length;
  out.set(cb.coinb2Tail, offset);
  return length;
}

/** Validates one share. Pure: the only state it touches is the job's accepted-hash set. */
export function validateShare(input: ShareInput): ShareVerdict {
  const { workbase } = input;
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

  const coinbaseLength = writeCoinbase(input);
  const node = merkleScratch;
  sha256dInto(coinbaseScratch, coinbaseLength, node, 0);
  const branch = template.merkleBranch;
  for (let i = 0; i < branch.length; i++) {
    const sibling = branch[i]!;
    if (sibling.length !== 32) {
      throw new RangeError(`Cannot fold merkle branch: hash ${i} is ${sibling.length} bytes`);
    }
    node.set(sibling, 32);
    sha256dInto(node, 64, node, 0);
  }
  const header = headerScratch;
  headerView.setUint32(0, version >>> 0, true);
  header.set(template.prevHash, 4);
  for (let i = 0; i < 32; i++) header[36 + i] = node[i]!;
  headerView.setUint32(68, uint32(input.ntime, "ntime"), true);
  headerView.setUint32(72, template.bits >>> 0, true);
  headerView.setUint32(76, uint32(input.nonce, "nonce"), true);
  const hash = hashScratch;
  sha256dInto(header, 80, hash, 0);
  const shareDiff = hashDifficulty(hash);

  // The float pre-check skips the exact comparison for the overwhelming majority of shares.
  let block: BlockCandidate | null = null;
  if (shareDiff >= workbase.networkDifficulty * 0.999 && hashMeetsTarget(hash, template.target)) {
    block = {
      header: header.slice(),
      coinbase: coinbaseScratch.slice(0, coinbaseLength),
      hashHex: displayHex(hash),
    };
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
      `Low difficulty share (${formatDiff(shareDiff)} < ${formatTarget(input.difficulty)})`,
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

/** The value itself when it is a uint32; RangeError (as serializeHeader) otherwise. */
function uint32(value: number, field: string): number {
  if (value >>> 0 !== value) {
    throw new RangeError(`Cannot serialize header: ${field} ${value} is not a uint32`);
  }
  return value;
}

/** Display-order hex of an internal-order hash. */
function displayHex(hash: Uint8Array): string {
  return bytesToHex(hash.slice().reverse());
}

function formatDiff(d: number): string {
  return d >= 1 ? d.toFixed(2) : d.toPrecision(4);
}

// A session's difficulty changes rarely, so its text is kept for the next low-difficulty reply.
let lastTarget = NaN;
let lastTargetText = "";

function formatTarget(d: number): string {
  if (d !== lastTarget) {
    lastTarget = d;
    lastTargetText = formatDiff(d);
  }
  return lastTargetText;
}
