/**
 * Miner mode of the support client: grinds nonces on the CPU for the current job at the pool's
 * share difficulty and submits real shares. Yields to the event loop between batches so new jobs,
 * difficulty changes and responses are handled while it mines.
 */
import { difficultyToTarget } from "@tbg/shared/bitcoin";
import { grindNonce } from "../miner/grind.ts";
import type { StratumClient, SubmitOutcome } from "./client.ts";
import { buildHeader, extranonce2Hex, type MinerJob } from "./job.ts";

/** Miner tuning. */
export interface CpuMinerOptions {
  /** Nonces tried between yields to the event loop. */
  readonly batchNonces?: number;
  /** Roll version bits within the negotiated mask (ASICBoost-style), when one was negotiated. */
  readonly rollVersion?: boolean;
  /** Cap on hashes per second, so several demo miners share two cores politely. */
  readonly maxHashesPerSecond?: number;
  /** Called after every submit with its outcome. */
  readonly onShare?: (outcome: SubmitOutcome, job: MinerJob) => void;
  /**
   * Before submitting, let pending notifications land and drop the share when a clean_jobs has
   * retired its job, as cgminer and ASIC firmware do by default: work known to be stale is not
   * sent. Default false (every share found is submitted).
   */
  readonly discardStale?: boolean;
}

/** Running totals. */
export interface CpuMinerStats {
  hashes: number;
  submitted: number;
  accepted: number;
  rejected: number;
  /** Shares found on a job a clean_jobs had retired, not submitted (`discardStale`). */
  discarded: number;
  readonly rejectReasons: Map<string, number>;
}

/** Grinds shares for one StratumClient until stopped. */
export class CpuMiner {
  readonly #client: StratumClient;
  readonly #options: CpuMinerOptions;
  readonly stats: CpuMinerStats = {
    hashes: 0,
    submitted: 0,
    accepted: 0,
    rejected: 0,
    discarded: 0,
    rejectReasons: new Map(),
  };
  #running = false;
  #loop: Promise<void> | null = null;
  #extranonce2Counter = BigInt(Math.floor(Math.random() * 0xffff)) << 16n;
  #inFlight = new Set<Promise<void>>();

  /** @param client an authorized client. */
  constructor(client: StratumClient, options: CpuMinerOptions = {}) {
    this.#client = client;
    this.#options = options;
  }

  /** Starts mining in the background. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#mine();
  }

  /** Stops mining and waits for outstanding submits. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #mine(): Promise<void> {
    const batch = this.#options.batchNonces ?? 2048;
    const startedAt = performance.now();
    // The cap paces this run only: counting earlier runs' hashes would idle a restarted miner.
    const hashesAtStart = this.stats.hashes;
    while (this.#running && !this.#client.connection.isClosed) {
      let job: MinerJob;
      try {
        job = await this.#client.waitForJob(1_000);
      } catch {
        continue;
      }
      const extranonce2Size = this.#client.extranonce2Size;
      const extranonce2 = extranonce2Hex(this.#extranonce2Counter++, extranonce2Size);
      const en2Bytes = Uint8Array.from(extranonce2.match(/../g)!.map((h) => parseInt(h, 16)));
      const mask = this.#options.rollVersion ? this.#client.versionMask : 0;
      const rolled = mask === 0 ? 0 : rollBits(Number(this.#extranonce2Counter & 0xffffn), mask);
      const version = ((job.version & ~mask) | rolled) >>> 0;
      const ntime = Math.max(job.ntime, Math.floor(Date.now() / 1000));
      const header = buildHeader(job, this.#client.extranonce1, en2Bytes, ntime, version, 0);
      for (let start = 0; start < 0x1_0000_0000 && this.#running; start += batch) {
        if (this.#client.currentJob !== job) break;
        const target = difficultyToTarget(this.#client.difficulty);
        const count = Math.min(batch, 0x1_0000_0000 - start);
        const nonce = grindNonce(header, target, start, count);
        this.stats.hashes += nonce === null ? count : nonce - start + 1;
        if (nonce !== null) {
          if (this.#options.discardStale) {
            await new Promise((resolve) => setTimeout(resolve, 0));
            // The client forgets every job when a clean_jobs notify arrives.
            if (!this.#client.jobs.has(job.jobId)) {
              this.stats.discarded++;
              break;
            }
          }
          this.#submit(job, extranonce2, ntime, nonce, mask === 0 ? undefined : rolled);
          start = nonce + 1 - batch;
        }
        await this.#pace(startedAt, this.stats.hashes - hashesAtStart);
      }
    }
  }

  #submit(
    job: MinerJob,
    extranonce2: string,
    ntime: number,
    nonce: number,
    versionBits?: number,
  ): void {
    this.stats.submitted++;
    const p = this.#client.submit(job.jobId, extranonce2, ntime, nonce, versionBits).then(
      (outcome) => {
        if (outcome.accepted) this.stats.accepted++;
        else {
          this.stats.rejected++;
          const reason = outcome.error?.[1] ?? "rejected";
          this.stats.rejectReasons.set(reason, (this.stats.rejectReasons.get(reason) ?? 0) + 1);
        }
        this.#options.onShare?.(outcome, job);
      },
    ).catch(() => {
      this.stats.rejected++;
    }).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  async #pace(startedAt: number, hashes: number): Promise<void> {
    const cap = this.#options.maxHashesPerSecond;
    let delayMs = 0;
    if (cap !== undefined && cap > 0) {
      const earliestMs = (hashes / cap) * 1000;
      delayMs = Math.max(0, earliestMs - (performance.now() - startedAt));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delayMs, 1000)));
  }
}

/** Spreads a counter over the set bits of `mask`. */
function rollBits(counter: number, mask: number): number {
  let out = 0;
  let bit = 0;
  for (let i = 0; i < 32; i++) {
    if ((mask >>> i) & 1) {
      if ((counter >>> bit) & 1) out |= 1 << i;
      bit++;
    }
  }
  return out >>> 0;
}
