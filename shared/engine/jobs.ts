/**
 * The job manager: turns templates into Stratum jobs ("workbases"), hands out job ids, caches
 * per-payout coinbase halves and notify lines, and answers whether a job id is current, stale or
 * unknown. One instance per engine; only the engine's event loop touches it.
 */
import { bytesToHex, targetToDifficulty } from "../bitcoin/mod.ts";
import { encodeNotify, prevHashToStratum, u32Hex } from "../stratum/mod.ts";
import { buildCoinbaseParts, type CoinbaseParts, type FeeOutput } from "./coinbase.ts";
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
  readonly coinbases: Map<string, CoinbaseParts>;
  readonly notifyLines: Map<string, string>;
}

/** Result of looking a job id up. */
export type JobLookup =
  | { readonly state: "current"; readonly workbase: Workbase }
  | { readonly state: "stale"; readonly workbase: Workbase | null }
  | { readonly state: "unknown" };

/** Holds the live jobs. */
export class JobManager {
  readonly #options: JobManagerOptions;
  readonly #live = new Map<string, Workbase>();
  readonly #retired = new Map<string, Workbase>();
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
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    const ntime = Math.max(template.curtime, template.mintime);
    const workbase: Workbase = {
      id: this.#seq.toString(16),
      seq: this.#seq,
      template,
      cleanJobs,
      createdAtMs: nowMs,
      prevHashStratum: prevHashToStratum(template.prevHash),
      versionHex: u32Hex(template.version),
      nbitsHex: u32Hex(template.bits),
      ntime,
      ntimeHex: u32Hex(ntime),
      merkleBranchHex: template.merkleBranch.map(bytesToHex),
      networkDifficulty: targetToDifficulty(template.target),
      acceptedHashes: new Set(),
      coinbases: new Map(),
      notifyLines: new Map(),
    };
    if (cleanJobs) {
      for (const [id, wb] of this.#live) this.#retire(id, wb);
      this.#live.clear();
    } else {
      // Older jobs of this tip are only judged now, never sent again: their notify lines go.
      for (const wb of this.#live.values()) wb.notifyLines.clear();
    }
    this.#live.set(workbase.id, workbase);
    while (this.#live.size > this.#options.jobsPerTip) {
      const [oldestId, oldest] = this.#live.entries().next().value!;
      this.#live.delete(oldestId);
      this.#retire(oldestId, oldest);
    }
    this.#current = workbase;
    return workbase;
  }

  /** Finds a job by the id a miner submitted. */
  lookup(jobId: string): JobLookup {
    const live = this.#live.get(jobId);
    if (live !== undefined) return { state: "current", workbase: live };
    const retired = this.#retired.get(jobId);
    if (retired !== undefined) return { state: "stale", workbase: retired };
    const seq = parseInt(jobId, 16);
    // Ids are issued in order, so an id we issued long ago is stale rather than unknown.
    if (Number.isFinite(seq) && seq > 0 && seq <= this.#seq) {
      return { state: "stale", workbase: null };
    }
    return { state: "unknown" };
  }

  /** Coinbase halves for a payout script on a job (built once per job and script). */
  coinbaseFor(workbase: Workbase, payoutKey: string, payoutScript: Uint8Array): CoinbaseParts {
    let parts = workbase.coinbases.get(payoutKey);
    if (parts === undefined) {
      const t = workbase.template;
      parts = buildCoinbaseParts({
        height: t.height,
        coinbaseValueSats: t.coinbaseValueSats,
        witnessCommitment: t.witnessCommitment,
        tag: this.#options.tag,
        extranonceSize: this.#options.extranonce1Size + this.#options.extranonce2Size,
        payoutScript,
        fee: this.#options.fee,
      });
      workbase.coinbases.set(payoutKey, parts);
    }
    return parts;
  }

  /** The mining.notify line for a payout script (cached per job and script). */
  notifyLine(
    workbase: Workbase,
    payoutKey: string,
    payoutScript: Uint8Array,
    cleanJobs: boolean,
  ): string {
    const cacheKey = cleanJobs ? payoutKey : payoutKey + ":0";
    let line = workbase.notifyLines.get(cacheKey);
    if (line === undefined) {
      const parts = this.coinbaseFor(workbase, payoutKey, payoutScript);
      line = encodeNotify({
        jobId: workbase.id,
        prevHash: workbase.prevHashStratum,
        coinb1: parts.coinb1Hex,
        coinb2: parts.coinb2Hex,
        merkleBranch: workbase.merkleBranchHex,
        version: workbase.versionHex,
        nbits: workbase.nbitsHex,
        ntime: workbase.ntimeHex,
        cleanJobs,
      });
      workbase.notifyLines.set(cacheKey, line);
    }
    return line;
  }

  #retire(id: string, workbase: Workbase): void {
    // Retired jobs keep their template (a late share may still be a block on it) but drop every
    // per-miner cache; coinbaseFor() rebuilds a coinbase on the rare late submit.
    workbase.acceptedHashes.clear();
    workbase.notifyLines.clear();
    workbase.coinbases.clear();
    this.#retired.set(id, workbase);
    while (this.#retired.size > this.#options.retiredJobs) {
      this.#retired.delete(this.#retired.keys().next().value!);
    }
  }
}
