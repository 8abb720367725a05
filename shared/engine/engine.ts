/**
 * The Stratum engine: owns the sessions, the job manager, the extranonce1 space and the per-IP
 * limits; turns templates into jobs and broadcasts them; receives share verdicts and hands found
 * blocks to the block submitter. Shared by the primary pool and the regional relays: they differ
 * only in the template source and the block submitter they plug in.
 *
 * Only the process's event loop touches an Engine. Nothing in a session's request handling awaits
 * the network: block submission, events and difficulty memory are fire-and-forget from here.
 */
import { keepSmallBytes, releaseSmallBytes } from "./small_bytes.ts";
import { bytesToHex } from "../bitcoin/mod.ts";
import type { EventPayloads, EventType, NetworkBlockSource } from "../events/mod.ts";
import type { StructuredLogger } from "../log/mod.ts";
import type { SubmitRequest } from "../stratum/mod.ts";
import { assembleBlockHex } from "./block.ts";
import { blockRejectReason } from "./block_reject_reason.ts";
import type { Clock } from "./clock.ts";
import type { DifficultyMemory } from "./difficulty_memory.ts";
import { HashrateMeter } from "./hashrate.ts";
import { HashrateSchedule } from "./hashrate_schedule.ts";
import { JobManager, type JobManagerOptions, type Workbase } from "./jobs.ts";
import { IpLimiter } from "./rate_limit.ts";
import {
  type AuthorizedWorker,
  type DifficultyReason,
  Session,
  type SessionHost,
  type SessionOptions,
  type Transport,
} from "./session.ts";
import type { BlockCandidate, ShareVerdict } from "./share.ts";
import type { BlockTemplate } from "./template.ts";

/** Hands events to the pipeline without blocking (the emitter owns buffering and NATS). */
export interface EventSink {
  /**
   * Queues one event.
   *
   * @param verdictAtMs `performance.now()` when the share verdict that caused the event was
   *   known; the emission latency metric is measured from it (from the call when absent).
   */
  emit<T extends EventType>(type: T, data: EventPayloads[T], verdictAtMs?: number): void;
}

/** Result of submitting a block to the node(s). */
export interface BlockSubmission {
  readonly accepted: boolean;
  /** Per destination: null on success, else the reject string or error. */
  readonly results: readonly { readonly target: string; readonly result: string | null }[];
}

/** Delivers a found block to Bitcoin (all configured nodes, or local node + primary on a relay). */
export interface BlockSubmitter {
  submitBlock(blockHex: string, hashHex: string, height: number): Promise<BlockSubmission>;
}

/** What the engine reports to metrics (a thin interface so tests need no Prometheus). */
export interface EngineObserver {
  connections(count: number): void;
  share(accepted: boolean, reason: string | null, handlingUs: number): void;
  blockSubmitted(accepted: boolean): void;
  rateLimited(rule: string): void;
  protocolError(kind: string): void;
  hashrate(totalHs: number): void;
  notifyBroadcast(ms: number, sessions: number, cleanJobs: boolean): void;
}

/** Engine settings beyond the per-session ones. */
export interface EngineOptions extends SessionOptions {
  readonly extranonce1Size: number;
  /** High bytes of every extranonce1 this engine hands out (partitions regions/processes). */
  readonly extranonce1Prefix: Uint8Array;
  readonly maxClients: number;
  readonly jobs: Omit<JobManagerOptions, "extranonce1Size" | "extranonce2Size">;
  /** Connections that have not authorized within this time are closed. */
  readonly authorizeTimeoutMs: number;
  /**
   * Authorized connections that sent no line (no share, no request) for this long are closed;
   * 0 never closes them (config `dropidle`).
   */
  readonly idleTimeoutMs: number;
  /** How often each worker's hashrate_update is emitted (spread over the interval's seconds). */
  readonly hashrateUpdateIntervalMs: number;
  /** Region label put on block_found. */
  readonly region: string;
}

/** Collaborators the engine needs. */
export interface EngineDeps {
  readonly clock: Clock;
  readonly submitter: BlockSubmitter;
  readonly events: EventSink | null;
  readonly observer: EngineObserver;
  readonly difficultyMemory: DifficultyMemory;
  readonly log: StructuredLogger;
}

/** Outcome of admitting a new TCP connection. */
export type Admission = { readonly ok: true } | { readonly ok: false; readonly rule: string };

const RESUME_KEEP_MS = 10 * 60_000;

/** The rate-limit metric's rule for connections closed as idle (the config key). */
export const DROPIDLE_RULE = "dropidle";
/** Close reason (log, miner_disconnected event) of an idle connection. */
export const IDLE_TIMEOUT_REASON = "idle timeout";
const RESUME_KEEP_MAX = 100_000;

/** The Stratum engine. */
export class Engine implements SessionHost {
  readonly options: EngineOptions;
  readonly clock: Clock;
  readonly jobs: JobManager;
  readonly sessions: Set<Session> = new Set();
  readonly #deps: EngineDeps;
  readonly #ipLimiter: IpLimiter;
  readonly #inUse = new Set<string>();
  readonly #released = new Map<string, number>();
  readonly #bestByWorker = new Map<string, number>();
  readonly #bestByUser = new Map<string, number>();
  readonly #meters = new Map<Session, HashrateMeter>();
  readonly #asicboostSeen = new WeakSet<Session>();
  #counter = 0;
  #nextSessionId = 1;
  #draining = false;
  readonly #hashrateSchedule: HashrateSchedule;
  /** Blocks found by this engine, newest last (bounded). */
  readonly blocks: { hashHex: string; height: number; user: string; accepted: boolean }[] = [];

  /** @param options settings derived from the config. */
  constructor(options: EngineOptions, deps: EngineDeps) {
    const counterBytes = options.extranonce1Size - options.extranonce1Prefix.length;
    if (counterBytes < 2) {
      throw new RangeError(
        "Cannot create engine: extranonce1 needs at least 2 bytes after its prefix",
      );
    }
    this.options = options;
    this.clock = deps.clock;
    this.#deps = deps;
    this.jobs = new JobManager({
      ...options.jobs,
      extranonce1Size: options.extranonce1Size,
      extranonce2Size: options.extranonce2Size,
    });
    this.#ipLimiter = new IpLimiter(options.rateLimits, options.maxClients, deps.clock);
    this.#hashrateSchedule = new HashrateSchedule(options.hashrateUpdateIntervalMs);
  }

  /** Sessions opened since the engine started (connections that got past admission). */
  get openedTotal(): number {
    return this.#nextSessionId - 1;
  }

  /** Open sessions not yet authorized (every authorized session has a hashrate meter). */
  get awaitingAuthorize(): number {
    return this.sessions.size - this.#meters.size;
  }

  /** True once drain() was called. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Decides whether a new connection from `ip` may proceed (per-IP and global limits). */
  admit(ip: string): Admission {
    if (this.#draining) return { ok: false, rule: "draining" };
    const verdict = this.#ipLimiter.onConnect(ip);
    if (!verdict.allowed) {
      this.#deps.observer.rateLimited(verdict.rule);
      return { ok: false, rule: verdict.rule };
    }
    return { ok: true };
  }

  /**
   * Frees the per-IP slot of an admitted connection that ended before it had a session (its TLS
   * handshake failed or timed out). Its per-minute count stays: the attempt was made.
   */
  abandon(ip: string): void {
    this.#ipLimiter.onDisconnect(ip);
  }

  /** Creates the session for an admitted connection. */
  open(ip: string, transport: Transport): Session {
    const session = new Session(this.#nextSessionId++, ip, this, transport);
    this.sessions.add(session);
    this.#deps.observer.connections(this.sessions.size);
    return session;
  }

  /** Forgets a session whose connection ended. */
  close(session: Session, reason: string): void {
    if (!this.sessions.delete(session)) return;
    this.#ipLimiter.onDisconnect(session.ip);
    session.dispose();
    this.#meters.delete(session);
    this.#deps.observer.connections(this.sessions.size);
    if (session.payout !== null) {
      const nowMs = this.clock.nowMs();
      this.#deps.log.debug("miner disconnected", {
        user: session.payout.address,
        worker: session.payout.worker,
        reason,
        difficulty: session.difficulty,
        accepted: session.sharesAccepted,
        rejected: session.sharesRejected,
      });
      this.#deps.events?.emit("miner_disconnected", {
        user: session.payout.address,
        worker: session.payout.worker,
        session_id: session.extranonce1Hex,
        ip: session.ip,
        reason: reason.slice(0, 128),
        duration_s: Math.max(0, Math.round((nowMs - session.connectedAtMs) / 1000)),
        shares_accepted: session.sharesAccepted,
        shares_rejected: session.sharesRejected,
      });
    }
  }

  /**
   * Installs a new template: makes a job and sends it to every ready session. Returns the job.
   * A new previous-block hash means clean_jobs=true (drop old work); a refresh means false.
   * A tip change after the first template is reported as new_block_network; `prev_hash` is the
   * tip the pool worked on before (the new block's parent unless the chain reorganised).
   *
   * @param source How the tip change was learnt (ZMQ, polling, the primary over NATS).
   */
  onTemplate(template: BlockTemplate, source: NetworkBlockSource = "poll"): Workbase {
    const previous = this.jobs.current;
    const workbase = this.jobs.addTemplate(template, this.clock.nowMs());
    if (previous !== null && workbase.cleanJobs) {
      this.#deps.events?.emit("new_block_network", {
        height: template.height - 1,
        hash: template.prevHashHex,
        prev_hash: previous.template.prevHashHex,
        source,
      });
    }
    const start = performance.now();
    let sent = 0;
    for (const session of this.sessions) {
      if (session.authorized && session.subscribed) {
        session.sendJob(workbase, workbase.cleanJobs);
        sent++;
      }
    }
    this.#deps.observer.notifyBroadcast(performance.now() - start, sent, workbase.cleanJobs);
    return workbase;
  }

  /** Once a second: idle difficulty decay, authorize and idle timeouts, hashrate reporting. */
  tick(): void {
    const nowMs = this.clock.nowMs();
    const idleTimeoutMs = this.options.idleTimeoutMs;
    const schedule = this.#hashrateSchedule;
    schedule.beginTick(nowMs);
    let total = 0;
    for (const session of this.sessions) {
      if (!session.authorized) {
        if (nowMs - session.connectedAtMs > this.options.authorizeTimeoutMs) {
          session.close("authorize timeout");
        }
        continue;
      }
      if (idleTimeoutMs > 0 && nowMs - session.lastLineAtMs >= idleTimeoutMs) {
        this.#dropIdle(session, nowMs);
        continue;
      }
      session.tick();
      const meter = this.#meters.get(session);
      if (meter === undefined) continue;
      if (
        !schedule.isDue(meter.reportSlot) || session.payout === null || this.#deps.events === null
      ) {
        total += meter.hashrate5m(nowMs);
        continue;
      }
      const rates = meter.hashrates(nowMs);
      total += rates.h5m;
      this.#deps.events.emit("hashrate_update", {
        user: session.payout.address,
        worker: session.payout.worker,
        hashrate_1m: rates.h1m,
        hashrate_5m: rates.h5m,
        hashrate_1h: rates.h1h,
        shares_1m: rates.shares1m,
      });
    }
    this.#deps.observer.hashrate(total);
    for (const [key, releasedAt] of this.#released) {
      if (nowMs - releasedAt < RESUME_KEEP_MS) break;
      this.#released.delete(key);
    }
  }

  /**
   * Closes an authorized connection that has been silent for `idleTimeoutMs`, counted as the
   * `dropidle` rule of the rate-limit metric and logged with the reason.
   */
  #dropIdle(session: Session, nowMs: number): void {
    this.#deps.observer.rateLimited(DROPIDLE_RULE);
    this.#deps.log.info("idle connection closed", {
      user: session.payout?.address,
      worker: session.payout?.worker,
      ip: session.ip,
      idle_s: Math.round((nowMs - session.lastLineAtMs) / 1000),
      reason: IDLE_TIMEOUT_REASON,
    });
    session.close(IDLE_TIMEOUT_REASON);
  }

  /** Starts a drain: refuse new work and ask every miner to reconnect (elsewhere or later). */
  drain(): void {
    this.stopAdmitting();
    for (const session of this.sessions) session.sendReconnect();
  }

  /**
   * Starts a drain without telling anyone yet: new connections and subscriptions are refused;
   * the caller sends client.reconnect itself (spread over a window: `spreadReconnects`).
   */
  stopAdmitting(): void {
    this.#draining = true;
  }

  // ---- SessionHost ---------------------------------------------------------------------------

  /** @inheritdoc */
  allocateExtranonce1(resumeId: string | null): { extranonce1: Uint8Array; resumed: boolean } {
    const size = this.options.extranonce1Size;
    if (
      resumeId !== null && resumeId.length === size * 2 && this.#released.has(resumeId) &&
      !this.#inUse.has(resumeId)
    ) {
      this.#released.delete(resumeId);
      this.#inUse.add(resumeId);
      return { extranonce1: keepSmallBytes(hexBytes(resumeId)), resumed: true };
    }
    const prefix = this.options.extranonce1Prefix;
    const counterBytes = size - prefix.length;
    const space = 2 ** (8 * Math.min(counterBytes, 6));
    for (let attempt = 0; attempt < 1_000_000; attempt++) {
      this.#counter = (this.#counter + 1) % space;
      const en1 = new Uint8Array(size);
      en1.set(prefix, 0);
      let v = this.#counter;
      for (let i = size - 1; i >= prefix.length; i--) {
        en1[i] = v & 0xff;
        v = Math.floor(v / 256);
      }
      const hex = bytesToHex(en1);
      if (this.#inUse.has(hex) || this.#released.has(hex)) continue;
      this.#inUse.add(hex);
      // Kept for the session's life: a slab block (releaseExtranonce1 returns it).
      return { extranonce1: keepSmallBytes(en1), resumed: false };
    }
    throw new RangeError("Cannot allocate extranonce1: space exhausted");
  }

  /** @inheritdoc */
  releaseExtranonce1(extranonce1: Uint8Array): void {
    const hex = bytesToHex(extranonce1);
    releaseSmallBytes(extranonce1);
    this.#inUse.delete(hex);
    this.#released.set(hex, this.clock.nowMs());
    if (this.#released.size > RESUME_KEEP_MAX) {
      this.#released.delete(this.#released.keys().next().value!);
    }
  }

  /** @inheritdoc */
  recallDifficulty(session: Session, username: string): void {
    this.#deps.difficultyMemory.get(username).then((diff) => {
      if (diff !== undefined && this.sessions.has(session)) session.applyRememberedDifficulty(diff);
    }).catch((e: unknown) => {
      this.#deps.log.warn("difficulty memory lookup failed", { error: String(e) });
    });
  }

  /** @inheritdoc */
  rememberDifficulty(username: string, difficulty: number): void {
    this.#deps.difficultyMemory.set(username, difficulty);
  }

  /** @inheritdoc */
  onAuthorized(session: Session, worker: AuthorizedWorker, first: boolean): void {
    if (first) {
      const meter = new HashrateMeter(this.clock.nowMs());
      meter.reportSlot = this.#hashrateSchedule.assign();
      this.#meters.set(session, meter);
    }
    this.#deps.events?.emit("miner_connected", {
      user: worker.address,
      worker: worker.worker,
      session_id: session.extranonce1Hex,
      ip: session.ip,
      user_agent: session.userAgent,
      resumed: session.resumed,
    });
  }

  /** @inheritdoc */
  onDifficultyChanged(
    session: Session,
    oldDiff: number,
    newDiff: number,
    reason: DifficultyReason,
  ): void {
    if (session.payout === null) return;
    this.#deps.events?.emit("diff_updated", {
      user: session.payout.address,
      worker: session.payout.worker,
      session_id: session.extranonce1Hex,
      old_diff: oldDiff,
      new_diff: newDiff,
      reason,
    });
  }

  /** @inheritdoc */
  onRateLimited(_session: Session, rule: string): void {
    this.#deps.observer.rateLimited(rule);
  }

  /** @inheritdoc */
  onPasswordDifficultyIgnored(session: Session, setting: string): void {
    this.#deps.log.info("password difficulty ignored", {
      setting,
      user: session.payout?.username ?? null,
      ip: session.ip,
      user_agent: session.userAgent,
    });
  }

  /** @inheritdoc */
  onProtocolError(_session: Session, kind: string): void {
    this.#deps.observer.protocolError(kind);
  }

  /** @inheritdoc */
  onJobRefused(
    session: Session,
    submit: SubmitRequest,
    reason: "stale" | "unknown_job",
    handlingUs: number,
  ): void {
    const events = this.#deps.events;
    const verdictAtMs = events === null ? 0 : performance.now();
    this.#deps.observer.share(false, reason, handlingUs);
    const worker = session.worker(submit.workerName) ?? session.payout!;
    events?.emit("share_submitted", {
      user: worker.address,
      worker: worker.worker,
      session_id: session.extranonce1Hex,
      job_id: submit.jobId,
      share_diff: 0,
      pool_diff: session.difficulty,
      accepted: false,
      reject_reason: reason,
      block_candidate: false,
      ip: session.ip,
    }, verdictAtMs);
  }

  /** @inheritdoc */
  onShare(
    session: Session,
    submit: SubmitRequest,
    verdict: ShareVerdict,
    workbase: Workbase,
    handlingUs: number,
  ): void {
    const events = this.#deps.events;
    // The verdict is known here: every event of this share is timed from this instant.
    const verdictAtMs = events === null ? 0 : performance.now();
    const payout = session.payout!;
    const worker = session.worker(submit.workerName) ?? payout;
    const nowMs = this.clock.nowMs();
    this.#deps.observer.share(
      verdict.accepted,
      verdict.accepted ? null : verdict.reason,
      handlingUs,
    );
    if (verdict.block !== null) this.#submitBlock(verdict.block, workbase, worker);
    if (verdict.accepted) {
      this.#meters.get(session)?.add(session.creditedDifficulty, nowMs);
      this.#trackBest(session, worker, verdict.shareDiff, verdictAtMs);
      if (
        submit.versionBits !== null && submit.versionBits !== 0 && !this.#asicboostSeen.has(session)
      ) {
        this.#asicboostSeen.add(session);
        events?.emit("asicboost_detected", {
          user: worker.address,
          worker: worker.worker,
          session_id: session.extranonce1Hex,
          version_mask: session.versionMask.toString(16).padStart(8, "0"),
          version_bits: submit.versionBits.toString(16).padStart(8, "0"),
        }, verdictAtMs);
      }
    }
    events?.emit("share_submitted", {
      user: worker.address,
      worker: worker.worker,
      session_id: session.extranonce1Hex,
      job_id: submit.jobId,
      share_diff: verdict.shareDiff,
      pool_diff: session.difficulty,
      accepted: verdict.accepted,
      ...(verdict.accepted ? {} : { reject_reason: verdict.reason }),
      block_candidate: verdict.block !== null,
      ip: session.ip,
    }, verdictAtMs);
  }

  #trackBest(
    session: Session,
    worker: AuthorizedWorker,
    shareDiff: number,
    verdictAtMs: number,
  ): void {
    if (shareDiff > session.bestDiff) session.bestDiff = shareDiff;
    const events = this.#deps.events;
    const previousWorker = this.#bestByWorker.get(worker.username) ?? 0;
    if (shareDiff > previousWorker) {
      this.#bestByWorker.set(worker.username, shareDiff);
      events?.emit("share_best_diff", {
        user: worker.address,
        worker: worker.worker,
        best_diff: shareDiff,
        previous_best: previousWorker,
        scope: "worker",
      }, verdictAtMs);
    }
    const previousUser = this.#bestByUser.get(worker.address) ?? 0;
    if (shareDiff > previousUser) {
      this.#bestByUser.set(worker.address, shareDiff);
      events?.emit("share_best_diff", {
        user: worker.address,
        worker: worker.worker,
        best_diff: shareDiff,
        previous_best: previousUser,
        scope: "user",
      }, verdictAtMs);
    }
  }

  #submitBlock(candidate: BlockCandidate, workbase: Workbase, worker: AuthorizedWorker): void {
    const template = workbase.template;
    const blockHex = assembleBlockHex(candidate, template);
    const log = this.#deps.log;
    log.info("block candidate found, submitting", {
      hash: candidate.hashHex,
      height: template.height,
      user: worker.address,
      worker: worker.worker,
    });
    const reward = Number(template.coinbaseValueSats);
    this.#deps.submitter.submitBlock(blockHex, candidate.hashHex, template.height).then(
      (submission) => {
        this.#deps.observer.blockSubmitted(submission.accepted);
        this.blocks.push({
          hashHex: candidate.hashHex,
          height: template.height,
          user: worker.address,
          accepted: submission.accepted,
        });
        if (this.blocks.length > 1000) this.blocks.shift();
        log.info(submission.accepted ? "block accepted" : "block rejected", {
          hash: candidate.hashHex,
          height: template.height,
          results: submission.results,
        });
        const rejectReason = submission.accepted
          ? undefined
          : blockRejectReason(submission.results);
        this.#deps.events?.emit("block_found", {
          user: worker.address,
          worker: worker.worker,
          height: template.height,
          hash: candidate.hashHex,
          reward_sats: reward,
          region: this.options.region,
          accepted: submission.accepted,
          ...(rejectReason === undefined ? {} : { reject_reason: rejectReason }),
          submitted_to: submission.results.map((r) => r.target),
        });
      },
    ).catch((e: unknown) => {
      this.#deps.observer.blockSubmitted(false);
      log.error("block submission failed", { hash: candidate.hashHex, error: String(e) });
    });
  }
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
