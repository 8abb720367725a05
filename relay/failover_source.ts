/**
 * The relay's template source: the primary's templates over NATS, with the local bitcoind as
 * preemptive fast path and as fallback (independent mode), and dual block submission. The rules
 * live in {@link FailoverPolicy}; this class wires the two sources, the liveness check timer, the
 * logs and the observer (metrics) to it.
 *
 * Both sources run for the whole life of the relay: the local one follows its node's ZMQ
 * hashblock and polling, so a local template is always at hand when a new block shows up there
 * first or when the primary goes silent; activation therefore costs no getblocktemplate round
 * trip. Neither source is awaited at start: the relay serves whichever feed delivers work, and a
 * dead local node (or primary) must not keep it from starting.
 *
 * @module
 */
import type { BlockSubmitResult, TemplateSource, TemplateUpdate } from "@tbg/shared/bitcoind";
import { blockHashHex, HEADER_BYTES, hexToBytes } from "@tbg/shared/bitcoin";
import { type Clock, systemClock } from "@tbg/shared/engine";
import type { StructuredLogger } from "@tbg/shared/log";
import {
  type Candidate,
  FailoverPolicy,
  type PolicyStep,
  RelayMode,
  TemplateOrigin,
  type TemplateTip,
} from "./failover_policy.ts";
import { submitBothPaths, type SubmitOutcome, type SubmitPath } from "./dual_submit.ts";

/** What the failover reads from the primary's last heartbeat. */
export interface HeartbeatView {
  /** The primary's run (its template messages carry the same epoch). */
  readonly epoch: number;
  /** Sequence of the last template the primary sent in this epoch; 0 before the first. */
  readonly templateSequence: number;
  /** The primary's own template source (its bitcoind) is healthy. */
  readonly templatesHealthy: boolean;
}

/** Where a template stands in the primary's order: its run and its sequence in that run. */
export interface TemplatePosition {
  readonly epoch: number;
  readonly sequence: number;
}

/** What the failover needs from the primary's feed beyond a template source. */
export interface PrimaryTemplateFeed extends TemplateSource {
  /** The primary's last heartbeat, or null before the first. */
  readonly lastHeartbeat: HeartbeatView | null;
  /** When it arrived (relay clock), ms since the epoch; 0 before any. */
  readonly lastHeartbeatAtMs: number;
}

/**
 * The position of a primary template update: NATS updates carry `message.epoch` and
 * `message.sequence`; anything else has none.
 */
export function templatePosition(update: TemplateUpdate): TemplatePosition | undefined {
  const message = (update as { message?: { epoch?: unknown; sequence?: unknown } }).message;
  const epoch = message?.epoch;
  const sequence = message?.sequence;
  return typeof epoch === "number" && typeof sequence === "number"
    ? { epoch, sequence }
    : undefined;
}

/**
 * Whether a heartbeat proves the primary is serving this relay: its template source is healthy
 * and the relay holds every template the heartbeat says was sent. A primary that beats but whose
 * templates do not arrive (or cannot be made) is as good as lost for the relay's miners.
 */
export function heartbeatConfirms(
  heartbeat: HeartbeatView,
  position: TemplatePosition | null,
): boolean {
  if (!heartbeat.templatesHealthy) return false;
  if (heartbeat.templateSequence === 0) return true;
  if (position === null) return false;
  if (position.epoch !== heartbeat.epoch) return position.epoch > heartbeat.epoch;
  return position.sequence >= heartbeat.templateSequence;
}

/** Told what the failover does, for metrics. Every method must be cheap and must not throw. */
export interface FailoverObserver {
  /** The mode is now `mode` (also called once when the observer is attached). */
  modeChanged(mode: RelayMode): void;
  /** Work from the local node was sent before the primary's template for its tip. */
  preemptiveCleanJobs(): void;
  /** A template arrived from the primary (delivered or not). */
  primaryTemplate(update: TemplateUpdate): void;
  /** One path of a block submission ended. */
  blockSubmitPath(path: SubmitPath, outcome: SubmitOutcome, ms: number): void;
}

/** Settings of {@link FailoverTemplateSource}. */
export interface FailoverTemplateSourceOptions {
  /** Templates, heartbeats and block submission from the primary. */
  readonly primary: PrimaryTemplateFeed;
  /** The relay's own bitcoind(s). */
  readonly local: TemplateSource;
  /** No template or heartbeat from the primary for this long → independent mode (config key). */
  readonly independentAfterMs: number;
  readonly log: StructuredLogger;
  /** Time source (ms since the epoch); the process clock unless given. */
  readonly clock?: Clock;
  /** How often the primary's liveness is checked, ms; {@link defaultCheckIntervalMs} unless given. */
  readonly checkIntervalMs?: number;
}

/**
 * Liveness check period: a twentieth of the threshold, within 50 ms–1 s, so activation happens
 * at most 5% (and at most a second) after the threshold.
 */
export function defaultCheckIntervalMs(independentAfterMs: number): number {
  return Math.min(1_000, Math.max(50, Math.floor(independentAfterMs / 20)));
}

/**
 * The chain position a getblocktemplate-shaped update builds on.
 *
 * @throws {TypeError} when the update has no usable `previousblockhash` or `height`
 */
export function templateTip(update: TemplateUpdate): TemplateTip {
  const gbt = update.gbt as { previousblockhash?: unknown; height?: unknown } | null;
  const prevHash = gbt?.previousblockhash;
  const height = gbt?.height;
  if (typeof prevHash !== "string" || !/^[0-9a-fA-F]{64}$/.test(prevHash)) {
    throw new TypeError("Cannot read template tip: previousblockhash is not 64 hex digits");
  }
  if (typeof height !== "number" || !Number.isInteger(height) || height < 1) {
    throw new TypeError("Cannot read template tip: height is not a positive integer");
  }
  return { prevHash: prevHash.toLowerCase(), height };
}

const SILENT_OBSERVER: FailoverObserver = {
  modeChanged: () => {},
  preemptiveCleanJobs: () => {},
  primaryTemplate: () => {},
  blockSubmitPath: () => {},
};

/** Templates from the primary, the local node when it knows better, and failover between them. */
export class FailoverTemplateSource implements TemplateSource {
  readonly #primary: PrimaryTemplateFeed;
  readonly #local: TemplateSource;
  readonly #log: StructuredLogger;
  readonly #clock: Clock;
  readonly #checkIntervalMs: number;
  readonly #independentAfterMs: number;
  #policy: FailoverPolicy<TemplateUpdate> | null = null;
  #observer: FailoverObserver = SILENT_OBSERVER;
  #state: "idle" | "running" | "stopped" = "idle";
  #onTemplate: (update: TemplateUpdate) => void = () => {};
  #first = Promise.withResolvers<void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #starts: Promise<unknown>[] = [];
  #lastTemplateAtMs = 0;
  #preemptive = 0;
  /** The primary's last template update, for an observer attached late. */
  #lastPrimaryUpdate: TemplateUpdate | null = null;
  /** Last template from the primary (relay clock), ms; 0 before any. */
  #primaryTemplateAtMs = 0;
  /** Position of the last template from the primary; null before any. */
  #primaryPosition: TemplatePosition | null = null;
  /** Last heartbeat that confirmed the relay is served ({@link heartbeatConfirms}), ms. */
  #confirmedHeartbeatAtMs = 0;

  /**
   * @param options the two sources, threshold, logger, clock
   * @throws {RangeError} when the threshold or check interval is not positive
   */
  constructor(options: FailoverTemplateSourceOptions) {
    this.#primary = options.primary;
    this.#local = options.local;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#independentAfterMs = options.independentAfterMs;
    this.#checkIntervalMs = options.checkIntervalMs ??
      defaultCheckIntervalMs(options.independentAfterMs);
    if (!(options.independentAfterMs > 0) || !(this.#checkIntervalMs > 0)) {
      throw new RangeError(
        "Cannot create failover source: independentAfterMs and checkIntervalMs must be positive",
      );
    }
  }

  /** passthrough or independent. */
  get mode(): RelayMode {
    return this.#policy?.mode ?? RelayMode.passthrough;
  }

  /** Where the miners' current work came from; null before the first template. */
  get currentOrigin(): TemplateOrigin | null {
    return this.#policy?.current?.origin ?? null;
  }

  /** Preemptive clean_jobs sent so far. */
  get preemptiveCount(): number {
    return this.#preemptive;
  }

  /** The feed the relay relies on now answers: the primary's in passthrough, else the local one. */
  get healthy(): boolean {
    if (this.#state !== "running") return false;
    return this.mode === RelayMode.passthrough ? this.#primary.healthy : this.#local.healthy;
  }

  /** When the current work's template was handed to the engine, ms; 0 before the first. */
  get lastTemplateAtMs(): number {
    return this.#lastTemplateAtMs;
  }

  /**
   * Attaches the metrics observer and tells it what it missed: the current mode, the preemptive
   * clean_jobs so far and the primary's last template (the engine may start before the metrics
   * exist).
   */
  observe(observer: FailoverObserver): void {
    this.#observer = observer;
    observer.modeChanged(this.mode);
    for (let i = 0; i < this.#preemptive; i++) observer.preemptiveCleanJobs();
    if (this.#lastPrimaryUpdate !== null) observer.primaryTemplate(this.#lastPrimaryUpdate);
  }

  /**
   * Starts both sources and the liveness check; resolves once the engine has its first template
   * (the primary's, or the local node's once independent mode begins).
   *
   * @throws {Error} when started twice or stopped before the first template
   */
  async start(onTemplate: (update: TemplateUpdate) => void): Promise<void> {
    if (this.#state !== "idle") throw new Error(`Cannot start failover source: ${this.#state}`);
    this.#state = "running";
    this.#onTemplate = onTemplate;
    this.#policy = new FailoverPolicy<TemplateUpdate>({
      independentAfterMs: this.#independentAfterMs,
      startedAtMs: this.#clock.nowMs(),
    });
    this.#starts = [
      this.#startSource("primary", this.#primary, (u) => this.#onPrimary(u)),
      this.#startSource("local", this.#local, (u) => this.#onLocal(u)),
    ];
    this.#timer = setInterval(() => this.checkNow(), this.#checkIntervalMs);
    await this.#first.promise;
    this.#log.info("relay template feed ready", {
      mode: this.mode,
      origin: this.currentOrigin,
      independentAfterMs: this.#independentAfterMs,
    });
  }

  /** Stops the check timer and both sources. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#first.reject(
      new Error("Cannot start failover source: stopped before the first template"),
    );
    this.#first.promise.catch(() => undefined);
    await Promise.allSettled([this.#primary.stop(), this.#local.stop()]);
    await Promise.allSettled(this.#starts);
  }

  /**
   * Checks the primary's liveness now (the timer calls this; tests call it after moving a
   * manual clock).
   */
  checkNow(): void {
    if (this.#state !== "running" || this.#policy === null) return;
    this.#noteHeartbeat();
    const step = this.#policy.check(
      this.#clock.nowMs(),
      Math.max(this.#primaryTemplateAtMs, this.#confirmedHeartbeatAtMs),
      this.#confirmedHeartbeatAtMs,
    );
    this.#apply(step);
  }

  /** Takes the primary's last heartbeat into account when it confirms the relay is served. */
  #noteHeartbeat(): void {
    const heartbeat = this.#primary.lastHeartbeat;
    const atMs = this.#primary.lastHeartbeatAtMs;
    if (heartbeat === null || atMs <= this.#confirmedHeartbeatAtMs) return;
    if (heartbeatConfirms(heartbeat, this.#primaryPosition)) this.#confirmedHeartbeatAtMs = atMs;
  }

  /**
   * Dual submission: the local bitcoind and the primary in parallel; accepted if either accepts.
   *
   * @throws {TypeError} when `hex` is not the hex of at least a block header
   */
  async submitBlock(hex: string): Promise<BlockSubmitResult> {
    if (hex.length < HEADER_BYTES * 2 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new TypeError("Cannot submit block: not the hex of a serialized block");
    }
    const blockHash = blockHashHex(hexToBytes(hex.slice(0, HEADER_BYTES * 2)));
    const result = await submitBothPaths(
      hex,
      blockHash,
      (h) => this.#local.submitBlock(h),
      (h) => this.#primary.submitBlock(h),
      (path, outcome, ms) => {
        this.#observer.blockSubmitPath(path, outcome, ms);
        this.#log.info("block submission path answered", { path, outcome, ms, blockHash });
      },
    );
    (result.accepted ? this.#log.info : this.#log.error).call(this.#log, "block submitted", {
      blockHash,
      accepted: result.accepted,
      results: result.results,
    });
    return result;
  }

  #startSource(
    name: string,
    source: TemplateSource,
    onTemplate: (update: TemplateUpdate) => void,
  ): Promise<unknown> {
    return source.start(onTemplate).catch((error: unknown) => {
      if (this.#state !== "running") return;
      // The other feed may still serve; the relay keeps running on it.
      this.#log.error("template source failed to start", {
        source: name,
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }

  #candidate(update: TemplateUpdate, origin: TemplateOrigin): Candidate<TemplateUpdate> | null {
    try {
      return { update, tip: templateTip(update), atMs: this.#clock.nowMs() };
    } catch (error) {
      this.#log.error("template refused", { origin, error: String(error) });
      return null;
    }
  }

  #onPrimary(update: TemplateUpdate): void {
    if (this.#state !== "running" || this.#policy === null) return;
    this.#lastPrimaryUpdate = update;
    this.#observer.primaryTemplate(update);
    const candidate = this.#candidate(update, TemplateOrigin.primary);
    if (candidate === null) return;
    this.#primaryTemplateAtMs = candidate.atMs;
    this.#primaryPosition = templatePosition(update) ?? this.#primaryPosition;
    this.#noteHeartbeat();
    this.#apply(this.#policy.onPrimaryTemplate(candidate, this.#confirmedHeartbeatAtMs));
  }

  #onLocal(update: TemplateUpdate): void {
    if (this.#state !== "running" || this.#policy === null) return;
    const candidate = this.#candidate(update, TemplateOrigin.local);
    if (candidate === null) return;
    this.#apply(this.#policy.onLocalTemplate(candidate));
  }

  #apply(step: PolicyStep<TemplateUpdate>): void {
    if (step.modeChange !== null) this.#logModeChange(step.modeChange);
    if (step.deliver === null) {
      if (step.skipped !== null) this.#log.debug("template not used", { why: step.skipped });
      return;
    }
    const { candidate, origin } = step.deliver;
    if (step.preemptive) {
      this.#preemptive++;
      this.#observer.preemptiveCleanJobs();
      this.#log.info("preemptive clean_jobs: the local node saw a new block first", {
        height: candidate.tip.height,
        prevHash: candidate.tip.prevHash,
      });
    }
    const update: TemplateUpdate = step.modeChange === null
      ? candidate.update
      : { ...candidate.update, reason: "failover" };
    this.#lastTemplateAtMs = this.#clock.nowMs();
    try {
      this.#onTemplate(update);
    } catch (error) {
      this.#log.error("template consumer threw", { origin, error: String(error) });
    }
    this.#first.resolve();
  }

  #logModeChange(mode: RelayMode): void {
    this.#observer.modeChanged(mode);
    const nowMs = this.#clock.nowMs();
    const age = (atMs: number) => atMs === 0 ? null : Math.round(nowMs - atMs);
    if (mode === RelayMode.independent) {
      const heartbeat = this.#primary.lastHeartbeat;
      const contact = Math.max(this.#primaryTemplateAtMs, this.#confirmedHeartbeatAtMs);
      this.#log.warn(
        "independent mode: no usable templates from the primary, building them locally",
        {
          silentForMs: age(contact),
          thresholdMs: this.#independentAfterMs,
          templateAgeMs: age(this.#primaryTemplateAtMs),
          heartbeatAgeMs: age(this.#primary.lastHeartbeatAtMs),
          primaryTemplatesHealthy: heartbeat?.templatesHealthy ?? null,
          localHealthy: this.#local.healthy,
        },
      );
    } else {
      this.#log.info("passthrough mode: primary's templates resumed", {
        heartbeatAgeMs: age(this.#confirmedHeartbeatAtMs),
      });
    }
  }
}
