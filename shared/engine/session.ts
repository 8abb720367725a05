/**
 * One miner connection's protocol state machine: subscribe, configure, authorize, difficulty,
 * submits. It never touches a socket, a database or the network: replies go to a `Transport`,
 * and everything that crosses the session boundary (job lookup, extranonce allocation, block
 * submission, events, metrics) goes through the `SessionHost` the engine provides. Requests of
 * one connection are handled strictly in order and synchronously.
 */
import { addressToScriptPubKey, bytesToHex } from "../bitcoin/mod.ts";
import {
  type AuthorizeRequest,
  ClientMethod,
  encodeError,
  encodeNotification,
  encodeResult,
  encodeSetDifficulty,
  parseLine,
  type RequestId,
  ServerMethod,
  stratumError,
  StratumErrorCode,
  type StratumWireError,
  type SubmitRequest,
  u32Hex,
} from "../stratum/mod.ts";
import type { Workbase } from "./jobs.ts";
import { ConnectionLimiter, RateLimitRule } from "./rate_limit.ts";
import { clampRequestedDifficulty } from "./requested_difficulty.ts";
import { nodeClockSec, type ShareInput, validateShare } from "./share.ts";
import type { AuthorizedWorker, DifficultyReason, SessionHost, Transport } from "./session_host.ts";
import { VarDiff } from "./vardiff.ts";
import { keepSmallBytes, releaseSmallBytes } from "./small_bytes.ts";

export type {
  AuthorizedWorker,
  DifficultyReason,
  SessionHost,
  SessionOptions,
  Transport,
} from "./session_host.ts";

/**
 * The validator's input, reused by every submit of the process: validateShare() runs to completion
 * synchronously and keeps no reference to it, so one object saves an allocation per share. Every
 * submit sets every field before the call, so the initial values are never read.
 */
const shareInput: { -readonly [K in keyof ShareInput]: ShareInput[K] } = {
  workbase: null as unknown as Workbase,
  stale: false,
  payoutScript: new Uint8Array(0),
  extranonce1: new Uint8Array(0),
  extranonce2Hex: "",
  ntime: 0,
  nonce: 0,
  versionBits: null,
  versionMask: 0,
  difficulty: 1,
  previousDifficulty: null,
  nowSec: 0,
};

/** Protocol state of one connection. */
export class Session {
  readonly id: number;
  readonly ip: string;
  readonly connectedAtMs: number;
  readonly #host: SessionHost;
  readonly #transport: Transport;
  readonly #limiter: ConnectionLimiter;
  extranonce1: Uint8Array | null = null;
  extranonce1Hex = "";
  userAgent = "";
  resumed = false;
  /** The first worker authorized on this connection: the one paid. */
  payout: AuthorizedWorker | null = null;
  /**
   * Workers authorized after the first, by username; null until there is one (most miners
   * authorize once, and an empty Map per connection is about 150 B).
   */
  #moreWorkers: Map<string, AuthorizedWorker> | null = null;
  versionMask = 0;
  extranonceSubscribed = false;
  #minerMinimum: number | null = null;
  #suggested: number | null = null;
  #vardiff: VarDiff | null = null;
  #lastJobSent: Workbase | null = null;
  /** The difficulty of the latest accepted share: the only one reconnect memory may keep. */
  #earnedDifficulty: number | null = null;
  sharesAccepted = 0;
  sharesRejected = 0;
  bestDiff = 0;
  lastShareAtMs = 0;
  /** Difficulty credited for the most recent accepted share (for hashrate meters). */
  creditedDifficulty = 0;
  /** Clock reading of the last line received (connection time before any): idle detection. */
  lastLineAtMs: number;
  #closed = false;
  /**
   * The line being handled is a JSON-RPC notification: whatever it causes happens, but no
   * response (result or error) is written for it.
   */
  #notification = false;
  /** A `d=` password difficulty is in force: it wins over later suggest_difficulty requests. */
  #pinnedByPassword = false;

  /** @param id engine-unique connection number. */
  constructor(id: number, ip: string, host: SessionHost, transport: Transport) {
    this.id = id;
    this.ip = ip;
    this.#host = host;
    this.#transport = transport;
    this.connectedAtMs = host.clock.nowMs();
    this.lastLineAtMs = this.connectedAtMs;
    this.#limiter = new ConnectionLimiter(host.options.rateLimits, host.clock);
  }

  /** True once subscribed. */
  get subscribed(): boolean {
    return this.extranonce1 !== null;
  }

  /** True once at least one worker authorized. */
  get authorized(): boolean {
    return this.payout !== null;
  }

  /** The worker authorized on this connection as `username`, if any. */
  worker(username: string): AuthorizedWorker | undefined {
    const payout = this.payout;
    if (payout === null) return undefined;
    return payout.username === username ? payout : this.#moreWorkers?.get(username);
  }

  /** Current share difficulty. */
  get difficulty(): number {
    return this.#vardiff?.current ?? this.#host.options.startDifficulty;
  }

  /** Estimated hashrate, H/s. */
  get hashrate(): number {
    return this.#vardiff?.hashrateEstimate() ?? 0;
  }

  /** Handles one line from the miner. */
  handleLine(line: string): void {
    if (this.#closed) return;
    this.lastLineAtMs = this.#host.clock.nowMs();
    // The session options carry extranonce2Size: no options object per line.
    const parsed = parseLine(line, this.#host.options);
    this.#notification = parsed.kind !== "ignored" && parsed.notification;
    // Every line counts against the connection's budget, whatever it turns out to be.
    if (this.#limiter.onRequest() === "disconnect") {
      const id = parsed.kind === "ignored"
        ? null
        : parsed.kind === "error"
        ? parsed.id
        : parsed.request.id;
      return this.#refuse(id, RateLimitRule.maxRequestsPerMinute, "Too many requests");
    }
    if (parsed.kind === "ignored") return;
    if (parsed.kind === "error") {
      const kind = parsed.fatal ? "invalid_json" : "invalid_request";
      this.#protocolError(parsed.id, kind, stratumError(parsed.code, parsed.message));
      if (parsed.fatal) this.close("invalid JSON");
      return;
    }
    const request = parsed.request;
    switch (request.method) {
      case ClientMethod.submit:
        return this.#submit(request);
      case ClientMethod.subscribe:
        return this.#subscribe(request.id, request.userAgent, request.sessionId);
      case ClientMethod.authorize:
        return this.#authorize(request);
      case ClientMethod.configure:
        if (this.#limiter.onConfigure() === "disconnect") {
          return this.#refuse(
            request.id,
            RateLimitRule.maxConfiguresPerMinute,
            "Too many configure requests",
          );
        }
        return this.#configure(request);
      case ClientMethod.suggestDifficulty:
        if (this.#limiter.onSuggestDifficulty() === "disconnect") {
          return this.#refuse(
            request.id,
            RateLimitRule.maxSuggestDifficultyPerMinute,
            "Too many suggest_difficulty requests",
          );
        }
        return this.#suggestDifficulty(request.id, request.difficulty);
      case ClientMethod.capabilities:
        this.#reply(encodeResult(request.id, true));
        return;
      case ClientMethod.extranonceSubscribe:
        this.extranonceSubscribed = true;
        this.#reply(encodeResult(request.id, true));
        return;
    }
  }

  /** Sends a job if this session is ready for work. */
  sendJob(workbase: Workbase, cleanJobs: boolean): void {
    if (this.#closed || this.payout === null || this.extranonce1 === null) return;
    this.#lastJobSent = workbase;
    this.#transport.send(
      this.#host.jobs.notifyLine(
        workbase,
        this.payout.payoutKey,
        this.payout.payoutScript,
        cleanJobs,
      ),
    );
  }

  /**
   * Applies a remembered difficulty (from reconnect memory) if still relevant, within the bounds
   * of a miner's request: the store is shared and may hold a value this process never wrote.
   */
  applyRememberedDifficulty(difficulty: number): void {
    if (this.#vardiff === null || this.sharesAccepted > 0 || this.#suggested !== null) return;
    this.#setDifficulty(
      this.#vardiff.setRemembered(this.#withinRequestBounds(difficulty))?.newDiff ?? null,
      "reconnect_memory",
    );
  }

  /** Periodic tick: lets an idle miner's difficulty decay. */
  tick(): void {
    if (this.#vardiff === null || this.#closed) return;
    this.#setDifficulty(this.#vardiff.maybeRetarget()?.newDiff ?? null, "vardiff");
  }

  /** Asks the miner to reconnect (drain), optionally elsewhere. */
  sendReconnect(host?: string, port?: number, waitS = 0): void {
    const params = host === undefined ? [] : [host, port ?? 3333, waitS];
    this.#transport.send(encodeNotification(ServerMethod.reconnect, params));
  }

  /** Closes the connection. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close(reason);
  }

  /** Releases resources when the connection ended. */
  dispose(): void {
    this.#closed = true;
    this.#limiter.release();
    if (this.payout !== null && this.#earnedDifficulty !== null) {
      this.#host.rememberDifficulty(this.payout.username, this.#earnedDifficulty);
    }
    if (this.extranonce1 !== null) this.#host.releaseExtranonce1(this.extranonce1);
    if (this.payout !== null) releaseSmallBytes(this.payout.payoutScript);
  }

  #subscribe(id: RequestId, userAgent: string, resumeId: string | null): void {
    if (this.#limiter.onSubscribe() === "disconnect") {
      return this.#refuse(id, RateLimitRule.maxSubscribesPerMinute, "Too many subscribe requests");
    }
    if (this.#host.draining) {
      this.#reply(
        encodeError(id, stratumError(StratumErrorCode.other, "Pool is restarting, reconnect")),
      );
      return this.close("draining");
    }
    if (this.extranonce1 === null) {
      const { extranonce1, resumed } = this.#host.allocateExtranonce1(resumeId);
      this.extranonce1 = extranonce1;
      this.extranonce1Hex = bytesToHex(extranonce1);
      this.resumed = resumed;
    }
    this.userAgent = userAgent;
    const sid = this.extranonce1Hex;
    this.#reply(
      encodeResult(id, [
        [[ServerMethod.setDifficulty, sid], [ServerMethod.notify, sid]],
        sid,
        this.#host.options.extranonce2Size,
      ]),
    );
    this.#startWorkIfReady();
  }

  #authorize(request: AuthorizeRequest): void {
    const { id, address, worker } = request;
    if (this.#limiter.onAuthorize() === "disconnect") {
      return this.#refuse(id, RateLimitRule.maxAuthorizesPerMinute, "Too many authorize requests");
    }
    const username = worker === "" ? address : `${address}.${worker}`;
    if (this.worker(username) !== undefined) {
      this.#reply(encodeResult(id, true));
      return;
    }
    if (this.payout !== null && this.payout.address !== address) {
      return this.#protocolError(
        id,
        "second_address",
        stratumError(
          StratumErrorCode.unauthorized,
          "Cannot authorize a second payout address on one connection; open another connection",
        ),
      );
    }
    let payoutScript: Uint8Array;
    try {
      payoutScript = addressToScriptPubKey(address, this.#host.options.network);
    } catch (e) {
      const reason = e instanceof Error ? e.message : "invalid address";
      return this.#protocolError(
        id,
        "bad_address",
        stratumError(StratumErrorCode.unauthorized, `Unauthorized: ${reason}`),
      );
    }
    const authorized: AuthorizedWorker = {
      username,
      address,
      worker,
      // Every worker of a connection pays the same address: one copy, a slab block that
      // dispose() returns.
      payoutScript: this.payout?.payoutScript ?? keepSmallBytes(payoutScript),
      payoutKey: this.payout?.payoutKey ?? bytesToHex(payoutScript),
    };
    const first = this.payout === null;
    if (first) {
      this.payout = authorized;
      // Difficulty is per connection: only the paid (first) worker's password sets it.
      this.#applyPasswordDifficulty(request);
    } else (this.#moreWorkers ??= new Map()).set(username, authorized);
    this.#reply(encodeResult(id, true));
    this.#host.onAuthorized(this, authorized, first);
    if (first) {
      this.#startWorkIfReady();
      this.#host.recallDifficulty(this, username);
    }
  }

  #configure(
    request: Extract<ReturnType<typeof parseLine>, { kind: "request" }>["request"] & {
      method: typeof ClientMethod.configure;
    },
  ): void {
    const result: Record<string, unknown> = {};
    for (const extension of request.extensions) {
      switch (extension) {
        case "version-rolling": {
          const minerMask = request.versionRollingMask ?? 0xffffffff;
          const mask = (this.#host.options.poolVersionMask & minerMask) >>> 0;
          this.versionMask = mask;
          result["version-rolling"] = mask !== 0;
          result["version-rolling.mask"] = u32Hex(mask);
          break;
        }
        case "minimum-difficulty":
          if (request.minimumDifficulty !== null) {
            const minimum = this.#withinRequestBounds(request.minimumDifficulty);
            this.#minerMinimum = minimum;
            if (this.#vardiff !== null) {
              this.#setDifficulty(
                this.#vardiff.setMinerMinimum(minimum)?.newDiff ?? null,
                "configure",
              );
            }
          }
          result["minimum-difficulty"] = request.minimumDifficulty !== null;
          break;
        case "subscribe-extranonce":
          this.extranonceSubscribed = true;
          result["subscribe-extranonce"] = true;
          break;
        default:
          result[extension.slice(0, 64)] = false;
      }
    }
    this.#reply(encodeResult(request.id, result));
  }

  /**
   * A `d=` in the password works as a suggest_difficulty sent with the authorize, clamped the
   * same way, and pins the difficulty against later suggestions: the user typed it to override
   * the firmware's own value (NerdMiner re-suggests its default as a keepalive after 30 s idle).
   * Called before work starts (the first worker starts it), so vardiff begins at this value.
   * It sets no reconnect memory; only accepted shares do.
   */
  #applyPasswordDifficulty(request: AuthorizeRequest): void {
    if (request.ignoredPasswordDifficulty !== null) {
      this.#host.onPasswordDifficultyIgnored(this, request.ignoredPasswordDifficulty);
    }
    if (request.passwordDifficulty === null) return;
    this.#suggested = this.#withinRequestBounds(request.passwordDifficulty);
    this.#pinnedByPassword = true;
  }

  #suggestDifficulty(id: RequestId, requested: number): void {
    this.#reply(encodeResult(id, true));
    if (this.#pinnedByPassword) return;
    const difficulty = this.#withinRequestBounds(requested);
    this.#suggested = difficulty;
    if (this.#vardiff === null) return;
    const changed = this.#vardiff.setSuggested(difficulty)?.newDiff ?? null;
    // The job is re-sent only when the difficulty moved, so that it applies at once; answering
    // every suggestion with a fresh notify turned 3.7 MB of requests into 24 MB of replies.
    if (changed === null) return;
    this.#setDifficulty(changed, "suggest");
    if (this.#lastJobSent !== null) this.sendJob(this.#lastJobSent, false);
  }

  #submit(submit: SubmitRequest): void {
    const host = this.#host;
    const startedAt = performance.now();
    if (this.extranonce1 === null) {
      return this.#protocolError(
        submit.id,
        "not_subscribed",
        stratumError(StratumErrorCode.notSubscribed, "Not subscribed"),
      );
    }
    if (this.payout === null || this.worker(submit.workerName) === undefined) {
      return this.#protocolError(
        submit.id,
        "unauthorized",
        stratumError(StratumErrorCode.unauthorized, "Unauthorized worker"),
      );
    }
    if (this.#limiter.onSubmit() === "banned") {
      host.onRateLimited(this, RateLimitRule.maxSharesPerMinute);
      this.#reply(
        encodeError(
          submit.id,
          stratumError(StratumErrorCode.other, "Too many submits: temporarily banned"),
        ),
      );
      return;
    }
    const lookup = host.jobs.lookup(submit.jobId);
    if (lookup.state === "unknown" || lookup.workbase === null) {
      const stale = lookup.state === "stale";
      this.#countReject();
      this.#reply(
        encodeError(
          submit.id,
          stratumError(StratumErrorCode.jobNotFound, stale ? "Stale job" : "Job not found"),
        ),
      );
      host.onJobRefused(
        this,
        submit,
        stale ? "stale" : "unknown_job",
        (performance.now() - startedAt) * 1000,
      );
      if (!stale) this.#invalid();
      return;
    }
    const workbase = lookup.workbase;
    const vardiff = this.#vardiff!;
    const nowMs = host.clock.nowMs();
    const previous = vardiff.previous !== vardiff.current &&
        (nowMs - vardiff.changedAtMs < host.options.difficultyGraceMs ||
          workbase.createdAtMs < vardiff.changedAtMs)
      ? vardiff.previous
      : null;
    const input = shareInput;
    input.workbase = workbase;
    input.stale = lookup.state === "stale";
    input.payoutScript = this.payout.payoutScript;
    input.extranonce1 = this.extranonce1;
    input.extranonce2Hex = submit.extranonce2;
    input.ntime = submit.ntime;
    input.nonce = submit.nonce;
    input.versionBits = submit.versionBits;
    input.versionMask = this.versionMask;
    input.difficulty = vardiff.current;
    input.previousDifficulty = previous;
    input.nowSec = nodeClockSec(workbase, nowMs);
    const verdict = validateShare(input);
    if (verdict.accepted) {
      this.sharesAccepted++;
      this.lastShareAtMs = nowMs;
      this.#reply(encodeResult(submit.id, true));
      // A share accepted under the grace rule earns the difficulty it was mined at, not the new one.
      const credit = previous !== null && verdict.shareDiff < vardiff.current
        ? previous
        : vardiff.current;
      this.creditedDifficulty = credit;
      // Remembered when it changes, not only at disconnect: a pool that crashes never disposes
      // its sessions, and its miners should get their difficulty back from the next process.
      if (credit !== this.#earnedDifficulty && this.payout !== null) {
        host.rememberDifficulty(this.payout.username, credit);
      }
      this.#earnedDifficulty = credit;
      host.onShare(this, submit, verdict, workbase, (performance.now() - startedAt) * 1000);
      vardiff.recordShare(credit);
      const retarget = vardiff.maybeRetarget();
      if (retarget !== null) {
        this.#setDifficulty(retarget.newDiff, "vardiff");
        if (this.#lastJobSent !== null) this.sendJob(this.#lastJobSent, false);
      }
      return;
    }
    this.#countReject();
    this.#reply(encodeError(submit.id, stratumError(verdict.code, verdict.message)));
    host.onShare(this, submit, verdict, workbase, (performance.now() - startedAt) * 1000);
    if (verdict.reason !== "stale") this.#invalid();
  }

  /**
   * Answers a request with a protocol error, counting it against max_invalid_requests_per_minute
   * (beyond which the connection is closed).
   */
  #protocolError(id: RequestId, kind: string, error: StratumWireError): void {
    this.#host.onProtocolError(this, kind);
    this.#reply(encodeError(id, error));
    if (this.#limiter.onInvalidRequest() === "disconnect") {
      this.#host.onRateLimited(this, RateLimitRule.maxInvalidRequestsPerMinute);
      this.close("too many invalid requests");
    }
  }

  /** Writes a response to the line being handled, unless that line is a notification. */
  #reply(line: string): void {
    if (!this.#notification) this.#transport.send(line);
  }

  /** Refuses a request by a rate-limit rule: counts it, answers with an error and disconnects. */
  #refuse(id: RequestId, rule: RateLimitRule, message: string): void {
    this.#host.onRateLimited(this, rule);
    this.#reply(encodeError(id, stratumError(StratumErrorCode.other, message)));
    this.close(`${rule} exceeded`);
  }

  #countReject(): void {
    this.sharesRejected++;
  }

  #invalid(): void {
    if (this.#limiter.onInvalidShare() === "disconnect") {
      this.#host.onRateLimited(this, RateLimitRule.maxInvalidSharesPerMinute);
      this.close("too many invalid shares");
    }
  }

  #startWorkIfReady(): void {
    if (this.extranonce1 === null || this.payout === null || this.#vardiff !== null) return;
    const options = this.#host.options;
    // A difficulty the miner asked for before authorizing is its starting point, not a retarget
    // (so no grace period at the start difficulty applies).
    const initial = Math.max(this.#suggested ?? options.startDifficulty, this.#minerMinimum ?? 0);
    this.#vardiff = new VarDiff(options.vardiff, this.#host.clock, initial);
    if (this.#minerMinimum !== null) this.#vardiff.setMinerMinimum(this.#minerMinimum);
    if (this.#suggested !== null) this.#vardiff.setSuggested(this.#suggested);
    this.#transport.send(encodeSetDifficulty(this.#vardiff.current));
    const current = this.#host.jobs.current;
    if (current !== null) this.sendJob(current, true);
  }

  /** A difficulty asked for by the miner, or recalled for it, within what the pool allows. */
  #withinRequestBounds(difficulty: number): number {
    const options = this.#host.options;
    return clampRequestedDifficulty(
      difficulty,
      options,
      this.#host.jobs.current?.networkDifficulty ?? null,
    );
  }

  #setDifficulty(newDiff: number | null, reason: DifficultyReason): void {
    if (newDiff === null || this.#vardiff === null) return;
    this.#transport.send(encodeSetDifficulty(newDiff));
    this.#host.onDifficultyChanged(this, this.#vardiff.previous, newDiff, reason);
  }
}
