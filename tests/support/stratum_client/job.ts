/**
 * A mining.notify job as a miner sees it, and the header a share commits to.
 */
import {
  bytesToHex,
  hexToBytes,
  merkleRootFromBranch,
  serializeHeader,
  sha256d,
} from "@tbg/shared/bitcoin";
import { stratumToPrevHash } from "@tbg/shared/stratum";

/** A decoded mining.notify. */
export interface MinerJob {
  readonly jobId: string;
  readonly prevHash: Uint8Array;
  readonly coinb1: Uint8Array;
  readonly coinb2: Uint8Array;
  readonly merkleBranch: readonly Uint8Array[];
  readonly version: number;
  readonly bits: number;
  readonly ntime: number;
  readonly cleanJobs: boolean;
  /** Local receive time, for latency measurements. */
  readonly receivedAtMs: number;
}

/** Decodes mining.notify params; throws TypeError on a malformed notification. */
export function decodeNotify(params: unknown[]): MinerJob {
  const [jobId, prevHash, coinb1, coinb2, branch, version, nbits, ntime, clean] = params;
  if (
    typeof jobId !== "string" || typeof prevHash !== "string" || typeof coinb1 !== "string" ||
    typeof coinb2 !== "string" || !Array.isArray(branch) || typeof version !== "string" ||
    typeof nbits !== "string" || typeof ntime !== "string" || typeof clean !== "boolean"
  ) {
    throw new TypeError("Cannot decode mining.notify: unexpected params");
  }
  return {
    jobId,
    prevHash: stratumToPrevHash(prevHash),
    coinb1: hexToBytes(coinb1),
    coinb2: hexToBytes(coinb2),
    merkleBranch: branch.map((h) => hexToBytes(String(h))),
    version: parseInt(version, 16) >>> 0,
    bits: parseInt(nbits, 16) >>> 0,
    ntime: parseInt(ntime, 16) >>> 0,
    cleanJobs: clean,
    receivedAtMs: performance.now(),
  };
}

/** Builds the coinbase transaction (without witness) for given extranonces. */
export function buildCoinbase(
  job: MinerJob,
  extranonce1: Uint8Array,
  extranonce2: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(
    job.coinb1.length + extranonce1.length + extranonce2.length + job.coinb2.length,
  );
  out.set(job.coinb1, 0);
  out.set(extranonce1, job.coinb1.length);
  out.set(extranonce2, job.coinb1.length + extranonce1.length);
  out.set(job.coinb2, job.coinb1.length + extranonce1.length + extranonce2.length);
  return out;
}

/** The 80-byte header for a job, extranonces, ntime, version and nonce. */
export function buildHeader(
  job: MinerJob,
  extranonce1: Uint8Array,
  extranonce2: Uint8Array,
  ntime: number,
  version: number,
  nonce: number,
): Uint8Array {
  const coinbaseHash = sha256d(buildCoinbase(job, extranonce1, extranonce2));
  const merkleRoot = merkleRootFromBranch(coinbaseHash, [...job.merkleBranch]);
  return serializeHeader({
    version,
    prevHash: job.prevHash,
    merkleRoot,
    time: ntime,
    bits: job.bits,
    nonce,
  });
}

/** Big-endian hex of an extranonce2 counter of `size` bytes. */
export function extranonce2Hex(counter: bigint, size: number): string {
  return counter.toString(16).padStart(size * 2, "0").slice(-size * 2);
}

export { bytesToHex };
