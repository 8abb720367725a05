/**
 * Which template a relay's miners work on: the decision logic of the failover template source,
 * free of timers and I/O so every rule is tested with explicit times.
 *
 * Two feeds arrive: the primary's templates (over NATS) and the local bitcoind's (getblocktemplate
 * on start, on every local ZMQ hashblock or polled tip change, and on refresh). Rules:
 *
 * - Passthrough (the normal mode): the primary's templates are delivered. A local template is
 *   delivered only when it builds on a higher block than the current work: the local node saw a
 *   new block before the primary's template for it arrived (a preemptive clean_jobs). While the
 *   relay works on such a local template, the primary's templates for lower heights are skipped
 *   and local refreshes of that tip are delivered; the primary's template for the same height or
 *   higher takes over again (the engine sends clean_jobs only if the previous block differs).
 * - Independent: entered when neither a template nor a heartbeat has come from the primary for
 *   `independentAfterMs` (counted from start before the first contact). Local templates are
 *   delivered, never one below the current work's height unless the relay already follows its
 *   local node. The primary's templates are held back.
 * - Back to passthrough: once a heartbeat and a template from the primary have both arrived after
 *   independence began, the heartbeat is recent, and the template is not below the current work.
 *
 * The engine decides clean_jobs by comparing previous-block hashes, so switching between feeds on
 * the same tip never interrupts miners.
 *
 * @module
 */

/** Where a delivered template came from. */
export const TemplateOrigin = {
  primary: "primary",
  local: "local",
} as const;

/** One of {@link TemplateOrigin}. */
export type TemplateOrigin = typeof TemplateOrigin[keyof typeof TemplateOrigin];

/** The relay's mode. */
export const RelayMode = {
  /** Templates from the primary. */
  passthrough: "passthrough",
  /** Templates from the local bitcoind, the primary being unreachable. */
  independent: "independent",
} as const;

/** One of {@link RelayMode}. */
export type RelayMode = typeof RelayMode[keyof typeof RelayMode];

/** The chain position a template builds on. */
export interface TemplateTip {
  /** Previous block hash, display hex, lower case. */
  readonly prevHash: string;
  /** Height of the block the template makes. */
  readonly height: number;
}

/** A template offered to the policy. */
export interface Candidate<U> {
  /** What the source produced, handed back untouched when delivered. */
  readonly update: U;
  readonly tip: TemplateTip;
  /** When it arrived, ms. */
  readonly atMs: number;
}

/** What the caller must do after an input. */
export interface PolicyStep<U> {
  /** Template to hand to the engine now, with its origin; null for none. */
  readonly deliver: { readonly candidate: Candidate<U>; readonly origin: TemplateOrigin } | null;
  /** The delivery is a preemptive clean_jobs: the local node saw a new block first. */
  readonly preemptive: boolean;
  /** The mode the relay switched to with this input; null when unchanged. */
  readonly modeChange: RelayMode | null;
  /** Why nothing was delivered, for debug logs; null when something was. */
  readonly skipped: string | null;
}

/** Settings of {@link FailoverPolicy}. */
export interface FailoverPolicyOptions {
  /** No template or heartbeat from the primary for this long → independent mode. */
  readonly independentAfterMs: number;
  /** When the relay started, ms (the silence before the first contact counts from here). */
  readonly startedAtMs: number;
}

const NOTHING = { deliver: null, preemptive: false, modeChange: null } as const;

/** The failover decision state of one relay. Only the failover source calls it. */
export class FailoverPolicy<U> {
  readonly #thresholdMs: number;
  readonly #startedAtMs: number;
  #mode: RelayMode = RelayMode.passthrough;
  #current: { readonly tip: TemplateTip; readonly origin: TemplateOrigin } | null = null;
  #latestPrimary: Candidate<U> | null = null;
  #latestLocal: Candidate<U> | null = null;
  #independentSinceMs = 0;

  /**
   * @param options threshold and start time
   * @throws {RangeError} when the threshold is not a positive finite number
   */
  constructor(options: FailoverPolicyOptions) {
    if (!(options.independentAfterMs > 0 && Number.isFinite(options.independentAfterMs))) {
      throw new RangeError(
        `Cannot create failover policy: independentAfterMs ${options.independentAfterMs} is not > 0`,
      );
    }
    this.#thresholdMs = options.independentAfterMs;
    this.#startedAtMs = options.startedAtMs;
  }

  /** The current mode. */
  get mode(): RelayMode {
    return this.#mode;
  }

  /** The tip and origin of the work last delivered; null before the first delivery. */
  get current(): { readonly tip: TemplateTip; readonly origin: TemplateOrigin } | null {
    return this.#current;
  }

  /** When independent mode began, ms; 0 in passthrough. */
  get independentSinceMs(): number {
    return this.#mode === RelayMode.independent ? this.#independentSinceMs : 0;
  }

  /**
   * A template from the primary arrived.
   *
   * @param heartbeatAtMs the primary's last heartbeat, ms (0 for none yet)
   */
  onPrimaryTemplate(candidate: Candidate<U>, heartbeatAtMs: number): PolicyStep<U> {
    this.#latestPrimary = candidate;
    if (this.#mode === RelayMode.independent) {
      return this.#tryReturn(candidate.atMs, heartbeatAtMs) ??
        skip("independent: waiting for the primary's heartbeat");
    }
    const current = this.#current;
    if (current?.origin === TemplateOrigin.local && candidate.tip.height < current.tip.height) {
      return skip("the primary is behind the local node's tip");
    }
    return this.#deliver(candidate, TemplateOrigin.primary, false, null);
  }

  /** A template from the local bitcoind arrived. */
  onLocalTemplate(candidate: Candidate<U>): PolicyStep<U> {
    this.#latestLocal = candidate;
    const current = this.#current;
    if (this.#mode === RelayMode.independent) {
      if (!this.#localMayReplace(candidate)) {
        return skip("the local node is behind the current work");
      }
      return this.#deliver(candidate, TemplateOrigin.local, false, null);
    }
    if (current === null) return skip("waiting for the primary's first template");
    if (candidate.tip.height > current.tip.height) {
      return this.#deliver(candidate, TemplateOrigin.local, true, null);
    }
    if (current.origin === TemplateOrigin.local && candidate.tip.height === current.tip.height) {
      return this.#deliver(candidate, TemplateOrigin.local, false, null);
    }
    return skip("passthrough: the primary's work is current");
  }

  /**
   * Periodic check of the primary's liveness.
   *
   * @param nowMs the current time
   * @param contactAtMs the primary's last template or heartbeat, ms (0 for none yet)
   * @param heartbeatAtMs the primary's last heartbeat, ms (0 for none yet)
   */
  check(nowMs: number, contactAtMs: number, heartbeatAtMs: number): PolicyStep<U> {
    if (this.#mode === RelayMode.passthrough) {
      const since = Math.max(contactAtMs, this.#startedAtMs);
      if (nowMs - since < this.#thresholdMs) return NOTHING_STEP;
      this.#mode = RelayMode.independent;
      this.#independentSinceMs = nowMs;
      const local = this.#latestLocal;
      if (local === null) return { ...NOTHING, modeChange: RelayMode.independent, skipped: null };
      const current = this.#current;
      const alreadyCurrent = current?.origin === TemplateOrigin.local &&
        current.tip.prevHash === local.tip.prevHash;
      if (alreadyCurrent || !this.#localMayReplace(local)) {
        return { ...NOTHING, modeChange: RelayMode.independent, skipped: null };
      }
      return this.#deliver(local, TemplateOrigin.local, false, RelayMode.independent);
    }
    return this.#tryReturn(nowMs, heartbeatAtMs) ?? NOTHING_STEP;
  }

  #localMayReplace(candidate: Candidate<U>): boolean {
    const current = this.#current;
    return current === null || current.origin === TemplateOrigin.local ||
      candidate.tip.height >= current.tip.height;
  }

  #tryReturn(nowMs: number, heartbeatAtMs: number): PolicyStep<U> | null {
    const since = this.#independentSinceMs;
    const template = this.#latestPrimary;
    if (template === null || template.atMs <= since) return null;
    if (heartbeatAtMs <= since || nowMs - heartbeatAtMs >= this.#thresholdMs) return null;
    const current = this.#current;
    if (current !== null && template.tip.height < current.tip.height) return null;
    this.#mode = RelayMode.passthrough;
    this.#independentSinceMs = 0;
    return this.#deliver(template, TemplateOrigin.primary, false, RelayMode.passthrough);
  }

  #deliver(
    candidate: Candidate<U>,
    origin: TemplateOrigin,
    preemptive: boolean,
    modeChange: RelayMode | null,
  ): PolicyStep<U> {
    this.#current = { tip: candidate.tip, origin };
    return { deliver: { candidate, origin }, preemptive, modeChange, skipped: null };
  }
}

const NOTHING_STEP: PolicyStep<never> = { ...NOTHING, skipped: null };

function skip(why: string): PolicyStep<never> {
  return { ...NOTHING, skipped: why };
}
