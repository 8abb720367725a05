/**
 * The job manager: turns templates into Stratum jobs ("workbases"), hands out job ids, builds
 * each job's coinbase template and notify line pieces once, and answers whether a job id is
 * current, stale or unknown. One instance per engine; only the engine's event loop touches it.
 *
 * Nothing per miner is kept per job: a miner's notify line is the job's pieces around the
 * miner's payout script, and share validation splices the script into the coinbase itself.
 */
import { bytesToHex, encodeCompactSize, targetToDifficulty } from "../bitcoin/mod.ts";
import { prevHashToStratum, ServerMethod, u32Hex } from "../stratum/mod.ts";
import {
  buildCoinbaseTemplate,
  type CoinbaseParts,
  coinbasePartsFor,
  type CoinbaseTemplate,
  type FeeOutput,
} from "./coinbase.ts";
import type { BlockTemplate } from "./template.ts";

/** Job manager settings (from the pool config). */
export interface JobManagerOptions {
  readonly extranonce1Size: number;
  readonly extranonce2Size: number;
  /** Pool tag (btcsig) bytes. */
  readonly tag: Uint8Array;
  readonly fee: FeeOutput | null;
  /** How many jobs per tip stay valid for late submits (older refreshes answer "stale"). */
  readonly jobsPerTip: number;
  /** How many superseded-tip jobs to remember so late submits get "stale", not "not found". */
  readonly retiredJobs: number;
}

/** One job: a template plus everything shared by all miners working on it. */
export interface Workbase {
  readonly id: string;
  readonly seq: number;
  readonly template: BlockTemplate;
  readonly cleanJobs: boolean;
  readonly createdAtMs: number;
  readonly prevHashStratum: string;
  readonly versionHex: string;
  readonly nbitsHex: string;
  readonly ntime: number;
  readonly ntimeHex: string;
  readonly merkleBranchHex: readonly string[];
  /** Network difficulty of the template's target, for a cheap block pre-check. */
  readonly networkDifficulty: number;
  /** Hashes of accepted shares on this job, for duplicate detection. */
  readonly acceptedHashes: Set<string>;
  /** The job's coinbase around the per-miner extranonce and payout script. */
  readonly coinbase: CoinbaseTemplate;
  /** The mining.notify line up to the miner's payout script (inside coinb2). */
  readonly notifyHead: string;
  /** The rest of the line after the payout script, with clean_jobs true and false. */
  readonly notifyTailClean: string;
  readonly notifyTailUpdate: string;
}

/** Result of looking a job id up. */
export type JobLookup =
  | { readonly state: "current"; readonly workbase: Workbase }
  | { readonly state: "stale"; readonly workbase: Workbase | null }
  | { readonly state: "unknown" };

const STALE_UNKNOWN_JOB: JobLookup = { state: "stale", workbase: null };
const UNKNOWN_JOB: JobLookup = { state: "unknown" };
/** CompactSize of a payout script length below 0xfd, as hex (standard scripts are ≤ 34 bytes). */
const SHORT_LENGTH_HEX: readonly string[] = Array.from(
  { length: 0xfd },
  (_, n) => n.toString(16).padStart(2, "0"),
);

/** Holds the live jobs. */
export class JobManager {
  readonly #options: JobManagerOptions;
  // The maps hold the lookup answers themselves, so a submit's lookup allocates nothing.
  readonly #live = new Map<string, { readonly state: "current"; readonly workbase: Workbase }>();
  readonly #retired = new Map<string, JobLookup>();
  #current: Workbase | null = null;
  #seq = 0;

  /** @param options settings from the pool config. */
  constructor(options: JobManagerOptions) {
    this.#options = options;
  }

  /** The newest job, or null before the first template. */
  get current(): Workbase | null {
    return this.#current;
  }

  /** Number of jobs that still accept shares. */
  get liveCount(): number {
    return this.#live.size;
  }

  /**
   * Makes a job from a template. `cleanJobs` is true when the previous block hash changed (a new
   * tip): then every older job becomes stale at once.
   */
  addTemplate(template: BlockTemplate, nowMs: number): Workbase {
    const previous = this.#current;
    const cleanJobs = previous === null || previous.template.prevHashHex !== template.prevHashHex;
    const coinbase = buildCoinbaseTemplate({
      height: template.height,
      coinbaseValueSats: template.coinbaseValueSats,
      witnessCommitment: template.witnessCommitment,
      tag: this.#options.tag,
      extranonceSize: this.#options.extranonce1Size + this.#options.extranonce2Size,
      fee: this.#options.fee,
    });
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    const ntime = Math.max(template.curtime, template.mintime);
    const id = this.#seq.toString(16);
    const prevHashStratum = prevHashToStratum(template.prevHash);
    const versionHex = u32Hex(template.version);
    const nbitsHex = u32Hex(template.bits);
    const ntimeHex = u32Hex(ntime);
    const merkleBranchHex = template.merkleBranch.map(bytesToHex);
    // The same text encodeNotify() writes, cut where each miner's payout script goes.
    const notifyHead = `{"id":null,"method":"${ServerMethod.notify}","params":[` +
      `${JSON.stringify(id)},${JSON.stringify(prevHashStratum)},"${coinbase.coinb1Hex}",` +
      `"${coinbase.coinb2HeadHex}`;
    const tail = `${coinbase.coinb2TailHex}",${JSON.stringify(merkleBranchHex)},` +
      `${JSON.stringify(versionHex)},${JSON.stringify(nbitsHex)},${JSON.stringify(ntimeHex)},`;
    const workbase: Workbase = {
      id,
      seq: this.#seq,
      template,
      cleanJobs,
      createdAtMs: nowMs,
      prevHashStratum,
      versionHex,
      nbitsHex,
      ntime,
      ntimeHex,
      merkleBranchHex,
      networkDifficulty: targetToDifficulty(template.target),
      acceptedHashes: new Set(),
      coinbase,
      notifyHead,
      notifyTailClean: `${tail}true]}\n`,
      notifyTailUpdate: `${tail}false]}\n`,
    };
    if (cleanJobs) {
      for (const [id, live] of this.#live) this.#retire(id, live.workbase);
      this.#live.clear();
    }
    this.#live.set(workbase.id, { state: "current", workbase });
    while (this.#live.size > this.#options.jobsPerTip) {
      const [oldestId, oldest] = this.#live.entries().next().value!;
      this.#live.delete(oldestId);
      this.#retire(oldestId, oldest.workbase);
    }
    this.#current = workbase;
    return workbase;
  }

  /** Finds a job by the id a miner submitted. Allocates nothing. */
  lookup(jobId: string): JobLookup {
    const found = this.#live.get(jobId) ?? this.#retired.get(jobId);
    if (found !== undefined) return found;
    const seq = parseInt(jobId, 16);
    // Ids are issued in order, so an id we issued long ago is stale rather than unknown.
    if (Number.isFinite(seq) && seq > 0 && seq <= this.#seq) return STALE_UNKNOWN_JOB;
    return UNKNOWN_JOB;
  }

  /**
   * Coinbase halves for a payout script on a job, built on each call (share validation does not
   * need them; they are for block assembly checks, tools and tests).
   */
  coinbaseFor(workbase: Workbase, _payoutKey: string, payoutScript: Uint8Array): CoinbaseParts {
    return coinbasePartsFor(workbase.coinbase, payoutScript);
  }

  /**
   * The mining.notify line for a payout script: the job's pieces around the script, so building
   * it is a string concatenation. `payoutKey` must be the script's lowercase hex (as
   * {@linkcode AuthorizedWorker.payoutKey} is).
   */
  notifyLine(
    workbase: Workbase,
    payoutKey: string,
    payoutScript: Uint8Array,
    cleanJobs: boolean,
  ): string {
    const length = payoutScript.length;
    const lengthHex = length < 0xfd
      ? SHORT_LENGTH_HEX[length]!
      : bytesToHex(encodeCompactSize(length));
    return workbase.notifyHead + lengthHex + payoutKey +
      (cleanJobs ? workbase.notifyTailClean : workbase.notifyTailUpdate);
  }

  #retire(id: string, workbase: Workbase): void {
    // Retired jobs keep their template (a late share may still be a block on it) but no longer
    // judge duplicates: every share on them is answered "stale".
    workbase.acceptedHashes.clear();
    this.#retired.set(id, { state: "stale", workbase });
    while (this.#retired.size > this.#options.retiredJobs) {
      this.#retired.delete(this.#retired.keys().next().value!);
    }
  }
}
