/**
 * Variable difficulty (vardiff) for one Stratum connection.
 *
 * The session calls {@linkcode VarDiff.recordShare} for every accepted share and
 * {@linkcode VarDiff.maybeRetarget} after each share and on its periodic tick; when a call
 * returns a new difficulty the session sends `mining.set_difficulty`. Nothing here touches
 * sockets or timers, and the per-share path is a few arithmetic operations with no allocation.
 *
 * Estimate. Time is cut into measurement windows of `retarget_interval` seconds on a fixed
 * grid; a window holds exactly the shares that arrived inside it. When it ends, its sample is
 * the hashrate `credited difficulty × 2^32 / seconds`, computed as
 * `Σ(credit / difficulty in force) × 2^32 / Σ(seconds / difficulty in force)` so that a window
 * in which the difficulty changed is still weighted correctly (with one difficulty throughout
 * the two are the same number). Samples feed an exponential moving average with weight
 * `ema_alpha`. Once an estimate exists, a window without shares is a sample of 0 H/s, so a
 * miner that slows down is followed down.
 *
 * Decision, after each window: ideal = hashrate × target_share_interval / 2^32. Within
 * ±dead_band_percent of the current difficulty nothing changes. Otherwise the difficulty moves
 * `dampening` of the way to the ideal, rounded to {@linkcode DIFFICULTY_SIGNIFICANT_DIGITS}
 * significant digits and clamped to the bounds, provided the shares seen since the current
 * difficulty was set confirm the move (see {@linkcode CONFIRM_Z}). The step aims at whichever
 * of the two estimates (EMA, or the confirming shares) lies nearer the current difficulty, so a
 * noise peak in the short EMA cannot carry a change further than the longer evidence supports.
 *
 * Why the confirmation: at the default settings a window holds about 3 shares, and an EMA with
 * weight 0.3 remembers about 17 shares, so the estimate alone wanders by about ±24 % (1σ) even
 * for a perfectly steady miner. Against a ±20 % dead band that alone would change a correctly
 * set miner's difficulty every third window or so. Requiring the shares since the last change
 * to be off by more than the dead band, and by more than {@linkcode CONFIRM_Z} standard
 * deviations of their Poisson noise, lets large errors through quickly (a 2× error either way
 * is confirmed after about 8 shares) while small ones wait for enough evidence (a 30 % error
 * after about 45 target intervals), which is what keeps a converged miner's difficulty still (ckpool gets the same effect from a
 * 72-share minimum between changes and a 5-minute average).
 *
 * Shortcuts: fast start closes a window early once it holds {@linkcode FAST_START_FACTOR}×
 * the shares a whole window should hold, so a miner started far too low does not flood the pool
 * for a full interval; idle decay halves the difficulty after a long silence, so a miner started
 * far too high is not stuck (see {@linkcode IDLE_DECAY_INTERVALS}).
 *
 * @module
 */

import type { Clock } from "./clock.ts";

/** 2^32: expected hashes per share at difficulty 1. */
export const HASHES_PER_DIFFICULTY = 4_294_967_296;

/**
 * A window that reaches this many times its expected share count is closed early (fast start).
 * With the defaults (30 s windows, 10 s target) that is 12 shares, which a correctly set miner
 * reaches inside one window with probability about 7·10⁻⁵.
 */
export const FAST_START_FACTOR = 4;

/** Fast start never acts on fewer shares than this, whatever the interval settings. */
export const FAST_START_MIN_SHARES = 8;

/**
 * Fast start waits at least this long before acting, so a coarse clock cannot make the elapsed
 * time, and with it the rate, meaningless.
 */
export const FAST_START_MIN_ELAPSED_MS = 100;

/**
 * Idle decay halves the difficulty after this many retarget intervals without a share, but never
 * before {@linkcode IDLE_DECAY_MIN_EXPECTED_SHARES} target intervals: with the defaults that is
 * 120 s, a silence a correctly set miner produces about once in 19 days, where 60 s would
 * strike about once an hour. Each further halving without a share in between waits
 * half as long as the one before (down to one retarget interval): the difficulty has halved, so
 * the same silence is as strong evidence in half the time.
 */
export const IDLE_DECAY_INTERVALS = 2;

/** The shortest first idle wait, in target share intervals (see {@linkcode IDLE_DECAY_INTERVALS}). */
export const IDLE_DECAY_MIN_EXPECTED_SHARES = 12;

/**
 * A change needs the shares since the current difficulty was set to differ from the count
 * expected at the target rate by at least this many standard deviations (Poisson: √expected),
 * as well as by more than the dead band.
 */
export const CONFIRM_Z = 2;

/**
 * The confirming evidence is halved whenever it grows beyond (CONFIRM_Z / dead band)² expected
 * shares (100 at the default 20 %), kept within these bounds. That is the least evidence on
 * which an error just beyond the dead band is significant, and with it the evidence reflects
 * roughly the last 8 to 17 minutes at a 10 s target, so a later change in hashrate still shows
 * (a miner whose hashrate halves after hours at a steady difficulty is followed within about
 * 2 to 20 minutes; a larger drop sooner, through idle decay).
 */
export const CONFIRM_EXPECTED_SHARES_BOUNDS = [25, 400] as const;

/**
 * New difficulties are rounded to this many significant digits: exact enough (0.5 % steps at
 * worst, far inside the dead band) while keeping `mining.set_difficulty` values short, e.g.
 * 1160 rather than 1164.1532 and 0.00233 rather than 0.0023283064. Bounds (mindiff, maxdiff,
 * the miner's floors) are applied after rounding and stay exact.
 */
export const DIFFICULTY_SIGNIFICANT_DIGITS = 3;

/** Vardiff settings: the `vardiff{}` config keys it uses plus the pool's difficulty bounds. */
export interface VarDiffOptions {
  /** Seconds between shares the pool aims for (config default 10). */
  readonly target_share_interval: number;
  /** Seconds per measurement window and retarget decision (config default 30). */
  readonly retarget_interval: number;
  /** EMA weight of the newest window's hashrate sample, in (0, 1] (config default 0.3). */
  readonly ema_alpha: number;
  /** Fraction of the way to the ideal difficulty taken per change, in (0, 1] (default 0.5). */
  readonly dampening: number;
  /** No change while the ideal is within this many percent of the current (default 20). */
  readonly dead_band_percent: number;
  /** Lowest difficulty the pool hands out; may be fractional (e.g. 0.0001). */
  readonly mindiff: number;
  /** Highest difficulty the pool hands out; 0 means no maximum. */
  readonly maxdiff: number;
}

/** A difficulty change the session must announce with `mining.set_difficulty`. */
export interface Retarget {
  /** The new session difficulty. */
  readonly newDiff: number;
}

/**
 * Rounds a difficulty to {@linkcode DIFFICULTY_SIGNIFICANT_DIGITS} significant digits.
 * Fractional values stay fractional: 0.000123456 becomes 0.000123.
 *
 * @param diff a positive finite difficulty.
 * @returns the rounded difficulty.
 */
export function roundDifficulty(diff: number): number {
  return Number(diff.toPrecision(DIFFICULTY_SIGNIFICANT_DIGITS));
}

function isPositiveFinite(x: number): boolean {
  return Number.isFinite(x) && x > 0;
}

/**
 * Checks vardiff settings; the {@linkcode VarDiff} constructor calls it too.
 *
 * @param opts the settings.
 * @throws {RangeError} when a setting is out of range.
 */
export function validateVarDiffOptions(opts: VarDiffOptions): void {
  const fail = (state: string): never => {
    throw new RangeError(`Cannot use vardiff settings: ${state}`);
  };
  if (!isPositiveFinite(opts.target_share_interval)) fail("target_share_interval must be > 0");
  if (!isPositiveFinite(opts.retarget_interval)) fail("retarget_interval must be > 0");
  if (!(opts.ema_alpha > 0 && opts.ema_alpha <= 1)) fail("ema_alpha must be in (0, 1]");
  if (!(opts.dampening > 0 && opts.dampening <= 1)) fail("dampening must be in (0, 1]");
  if (!(opts.dead_band_percent >= 0 && opts.dead_band_percent < 100)) {
    fail("dead_band_percent must be in [0, 100)");
  }
  if (!isPositiveFinite(opts.mindiff)) fail("mindiff must be > 0");
  if (!(Number.isFinite(opts.maxdiff) && opts.maxdiff >= 0)) fail("maxdiff must be >= 0");
  if (opts.maxdiff > 0 && opts.maxdiff < opts.mindiff) fail("maxdiff is below mindiff");
}

/**
 * Vardiff state of one connection.
 *
 * Owned by one session and touched only from that session's request handling and its tick,
 * in order, so no method guards against interleaving.
 */
export class VarDiff {
  readonly #opts: VarDiffOptions;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #fastStartShares: number;
  readonly #idleWaitMs: number;
  readonly #confirmCapShares: number;

  #current: number;
  #previous: number;
  #changedAtMs: number;

  /** Floors set by the miner, 0 when unset. */
  #minimumDifficulty = 0;
  #suggestedDifficulty = 0;

  /** The open measurement window: shares in units of the difficulty in force at arrival. */
  #windowStartMs: number;
  #windowUnits = 0;
  #windowShares = 0;
  /** Σ seconds / difficulty in force over the window, accumulated up to #exposureFromMs. */
  #windowExposure = 0;
  #exposureFromMs: number;

  /** Hashrate EMA in H/s; meaningful only when #hasEstimate. */
  #emaHashrate = 0;
  #hasEstimate = false;
  /** A window closed since the last decision. */
  #pendingDecision = false;

  #lastShareMs: number;
  /** Idle decays since the last share; each halves the next idle wait. */
  #idleStreak = 0;

  /** Shares (in units of the current difficulty) and seconds since it was set, for confirmation. */
  #evidenceUnits = 0;
  #evidenceSeconds = 0;
  #evidenceFromMs: number;

  /**
   * @param opts vardiff settings; shared by all connections and never copied.
   * @param clock time source.
   * @param initialDiff the starting difficulty (startdiff, or the remembered one on reconnect);
   *   clamped to the pool bounds, not rounded.
   * @throws {RangeError} when the settings are invalid or `initialDiff` is not positive.
   */
  constructor(opts: VarDiffOptions, clock: Clock, initialDiff: number) {
    validateVarDiffOptions(opts);
    if (!isPositiveFinite(initialDiff)) {
      throw new RangeError(`Cannot start vardiff: initial difficulty ${initialDiff} is not > 0`);
    }
    this.#opts = opts;
    this.#clock = clock;
    this.#windowMs = opts.retarget_interval * 1000;
    this.#fastStartShares = Math.max(
      FAST_START_MIN_SHARES,
      Math.ceil(FAST_START_FACTOR * opts.retarget_interval / opts.target_share_interval),
    );
    this.#idleWaitMs = 1000 * Math.max(
      IDLE_DECAY_INTERVALS * opts.retarget_interval,
      IDLE_DECAY_MIN_EXPECTED_SHARES * opts.target_share_interval,
    );
    const [capLow, capHigh] = CONFIRM_EXPECTED_SHARES_BOUNDS;
    const capShares = (CONFIRM_Z / (opts.dead_band_percent / 100)) ** 2;
    this.#confirmCapShares = Math.min(capHigh, Math.max(capLow, capShares));
    const now = clock.nowMs();
    this.#current = this.#clamp(initialDiff);
    this.#previous = this.#current;
    this.#changedAtMs = now;
    this.#windowStartMs = now;
    this.#exposureFromMs = now;
    this.#lastShareMs = now;
    this.#evidenceFromMs = now;
  }

  /** The difficulty new work is mined at. */
  get current(): number {
    return this.#current;
  }

  /** The difficulty before the last change (equal to `current` before any change). */
  get previous(): number {
    return this.#previous;
  }

  /** Clock reading of the last change (construction time before any). */
  get changedAtMs(): number {
    return this.#changedAtMs;
  }

  /** The lowest difficulty allowed now: max(mindiff, the miner's floors), capped by maxdiff. */
  get floor(): number {
    return this.#clamp(0);
  }

  /**
   * The estimated hashrate in H/s (the EMA over measurement windows), or 0 until the first
   * window holding a share has closed.
   */
  hashrateEstimate(): number {
    return this.#hasEstimate ? this.#emaHashrate : 0;
  }

  /**
   * Records one accepted share.
   *
   * @param diffOfShareCredit the difficulty the share is credited with: the session difficulty
   *   it was validated against (the previous one during the grace after a retarget).
   */
  recordShare(diffOfShareCredit: number): void {
    const now = this.#clock.nowMs();
    this.#closeElapsedWindows(now);
    this.#lastShareMs = now;
    this.#idleStreak = 0;
    const units = diffOfShareCredit / this.#current;
    this.#evidenceUnits += units;
    if (this.#windowShares + 1 >= this.#fastStartShares) {
      if (now - this.#windowStartMs >= FAST_START_MIN_ELAPSED_MS) {
        // The window ends at this share's arrival, so the share itself stays out of the
        // sample: the shares before it over the elapsed time estimate the rate without bias,
        // while counting the one that ended the window would overstate it.
        this.#closeWindowAt(now);
        return;
      }
    }
    this.#windowUnits += units;
    this.#windowShares += 1;
  }

  /**
   * Decides whether the difficulty should change now. Call after each share and on the
   * session's periodic tick (every few seconds is plenty).
   *
   * @returns the new difficulty to announce, or null when it stays.
   */
  maybeRetarget(): Retarget | null {
    const now = this.#clock.nowMs();
    this.#closeElapsedWindows(now);
    const silentMs = now - Math.max(this.#lastShareMs, this.#changedAtMs);
    const idleWaitMs = Math.max(this.#windowMs, this.#idleWaitMs / 2 ** this.#idleStreak);
    if (silentMs >= idleWaitMs) {
      this.#pendingDecision = false;
      const change = this.#change(roundDifficulty(this.#current / 2), now);
      if (change !== null) this.#idleStreak += 1;
      return change;
    }
    if (!this.#pendingDecision) return null;
    this.#pendingDecision = false;
    if (!this.#hasEstimate) return null;
    const o = this.#opts;
    const ideal = this.#emaHashrate * o.target_share_interval / HASHES_PER_DIFFICULTY;
    if (Math.abs(ideal - this.#current) <= this.#current * o.dead_band_percent / 100) return null;
    const tooLow = ideal > this.#current;
    const ratio = this.#confirmedRatio(tooLow, now);
    if (ratio < 0) return null;
    const confirmedIdeal = this.#current * ratio;
    const aim = tooLow ? Math.min(ideal, confirmedIdeal) : Math.max(ideal, confirmedIdeal);
    return this.#change(roundDifficulty(this.#current + (aim - this.#current) * o.dampening), now);
  }

  /**
   * Applies `mining.suggest_difficulty`: the difficulty moves to the suggestion (within the
   * pool bounds, not rounded), and the suggestion becomes a floor vardiff will not go below,
   * as in ckpool.
   *
   * @param diff the miner's suggested difficulty.
   * @returns the new difficulty to announce, or null when it is unchanged.
   * @throws {RangeError} when `diff` is not positive and finite (the session validates input).
   */
  setSuggested(diff: number): Retarget | null {
    if (!isPositiveFinite(diff)) {
      throw new RangeError(`Cannot apply suggested difficulty: ${diff} is not > 0`);
    }
    const now = this.#clock.nowMs();
    this.#closeElapsedWindows(now);
    this.#suggestedDifficulty = diff;
    return this.#change(diff, now);
  }

  /**
   * Moves to a difficulty remembered from this worker's previous connection (reconnect
   * memory), within the pool and miner bounds. Unlike {@linkcode VarDiff.setSuggested} it sets
   * no floor: vardiff goes on from there in either direction.
   *
   * @param diff the remembered difficulty.
   * @returns the new difficulty to announce, or null when it is unchanged.
   * @throws {RangeError} when `diff` is not positive and finite.
   */
  setRemembered(diff: number): Retarget | null {
    if (!isPositiveFinite(diff)) {
      throw new RangeError(`Cannot apply remembered difficulty: ${diff} is not > 0`);
    }
    const now = this.#clock.nowMs();
    this.#closeElapsedWindows(now);
    return this.#change(diff, now);
  }

  /**
   * Applies the miner's `minimum-difficulty` (from `mining.configure`): vardiff never goes
   * below it, and a current difficulty below it is raised at once.
   *
   * @param diff the miner's minimum difficulty.
   * @returns the new difficulty to announce, or null when it is unchanged.
   * @throws {RangeError} when `diff` is not positive and finite (the session validates input).
   */
  setMinerMinimum(diff: number): Retarget | null {
    if (!isPositiveFinite(diff)) {
      throw new RangeError(`Cannot apply minimum difficulty: ${diff} is not > 0`);
    }
    const now = this.#clock.nowMs();
    this.#closeElapsedWindows(now);
    this.#minimumDifficulty = diff;
    return this.#change(this.#current, now);
  }

  #clamp(diff: number): number {
    const o = this.#opts;
    const low = Math.max(o.mindiff, this.#minimumDifficulty, this.#suggestedDifficulty);
    // The pool's maxdiff is policy and wins over a miner's floor.
    const high = o.maxdiff > 0 ? o.maxdiff : Number.POSITIVE_INFINITY;
    return Math.min(Math.max(diff, low), high);
  }

  /** Moves to `target` within the bounds. Callers have closed elapsed windows up to `now`. */
  #change(target: number, now: number): Retarget | null {
    const next = this.#clamp(target);
    if (next === this.#current) return null;
    this.#windowExposure += (now - this.#exposureFromMs) / 1000 / this.#current;
    this.#exposureFromMs = now;
    this.#previous = this.#current;
    this.#current = next;
    this.#changedAtMs = now;
    this.#evidenceUnits = 0;
    this.#evidenceSeconds = 0;
    this.#evidenceFromMs = now;
    return { newDiff: next };
  }

  /**
   * When the shares since the current difficulty was set show it is too low (or too high) by
   * more than the dead band and by more than CONFIRM_Z standard deviations: their rate
   * relative to the target rate (the ideal difficulty over the current one); otherwise -1.
   */
  #confirmedRatio(tooLow: boolean, now: number): number {
    const o = this.#opts;
    this.#evidenceSeconds += (now - this.#evidenceFromMs) / 1000;
    this.#evidenceFromMs = now;
    let expected = this.#evidenceSeconds / o.target_share_interval;
    if (expected > this.#confirmCapShares) {
      this.#evidenceSeconds /= 2;
      this.#evidenceUnits /= 2;
      expected /= 2;
    }
    const observed = this.#evidenceUnits;
    const band = o.dead_band_percent / 100;
    const beyondBand = tooLow ? observed > expected * (1 + band) : observed < expected * (1 - band);
    const significant = Math.abs(observed - expected) >= CONFIRM_Z * Math.sqrt(expected);
    return beyondBand && significant ? observed / expected : -1;
  }

  /** Ends the open window at `endMs`, turning it into a hashrate sample, and opens the next. */
  #closeWindowAt(endMs: number): void {
    const exposure = this.#windowExposure + (endMs - this.#exposureFromMs) / 1000 / this.#current;
    const sample = this.#windowUnits * HASHES_PER_DIFFICULTY / exposure;
    if (this.#hasEstimate) {
      this.#emaHashrate += this.#opts.ema_alpha * (sample - this.#emaHashrate);
    } else {
      this.#emaHashrate = sample;
      this.#hasEstimate = true;
    }
    this.#pendingDecision = true;
    this.#windowStartMs = endMs;
    this.#exposureFromMs = endMs;
    this.#windowExposure = 0;
    this.#windowUnits = 0;
    this.#windowShares = 0;
  }

  /** Closes every grid window that ended at or before `now`. */
  #closeElapsedWindows(now: number): void {
    if (now - this.#windowStartMs < this.#windowMs) return;
    if (this.#hasEstimate) {
      this.#closeWindowAt(this.#windowStartMs + this.#windowMs);
    } else {
      // Nothing is known yet, so empty time is no sample of its own: the first window
      // stretches over whole intervals until the one holding its first share ends (idle decay
      // acts meanwhile), and its exposure covers all of that time.
      if (this.#windowShares === 0) return;
      const intervals = Math.floor((this.#lastShareMs - this.#windowStartMs) / this.#windowMs) + 1;
      const endMs = this.#windowStartMs + intervals * this.#windowMs;
      if (endMs > now) return;
      this.#closeWindowAt(endMs);
    }
    const empty = Math.floor((now - this.#windowStartMs) / this.#windowMs);
    if (empty > 0) {
      // Whole windows since then without a share: each a sample of 0 H/s.
      this.#emaHashrate *= (1 - this.#opts.ema_alpha) ** empty;
      this.#windowStartMs += empty * this.#windowMs;
      this.#exposureFromMs = this.#windowStartMs;
    }
  }
}
