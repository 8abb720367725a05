/**
 * Exponentially decaying share-rate meters (ckpool's dsps1/dsps5/dsps60 idea): credited difficulty
 * per second, smoothed over 1 minute, 5 minutes and 1 hour, converted to hashes per second.
 *
 * One meter per authorized connection, read by the engine's once-a-second tick: plain number
 * fields (no typed array) keep it small, and the 5-minute reading used for the pool total
 * allocates nothing.
 */

const HASHES_PER_DIFF = 4_294_967_296;
const W1M_S = 60;
const W5M_S = 300;
const W1H_S = 3600;

/** Decaying averages of credited difficulty for one worker or session. */
export class HashrateMeter {
  #rate1m = 0;
  #rate5m = 0;
  #rate1h = 0;
  #lastMs: number;
  #startedMs: number;
  /** Shares credited in the current minute bucket (for shares_1m). */
  #minuteShares = 0;
  #minuteStartMs: number;
  #lastMinuteShares = 0;
  /** The second of the report interval in which this worker's hashrate_update goes out. */
  reportSlot = 0;

  /** @param nowMs start of measurement. */
  constructor(nowMs: number) {
    this.#lastMs = nowMs;
    this.#startedMs = nowMs;
    this.#minuteStartMs = nowMs;
  }

  /** Credits an accepted share of difficulty `diff`. */
  add(diff: number, nowMs: number): void {
    this.#decay(nowMs);
    this.#rate1m += diff / W1M_S;
    this.#rate5m += diff / W5M_S;
    this.#rate1h += diff / W1H_S;
    this.#minuteShares++;
  }

  /** Hashrates (H/s) over 1 m, 5 m, 1 h, corrected for a meter younger than the window. */
  hashrates(nowMs: number): { h1m: number; h5m: number; h1h: number; shares1m: number } {
    this.#decay(nowMs);
    const ageS = this.#ageS(nowMs);
    return {
      h1m: scaled(this.#rate1m, ageS, W1M_S),
      h5m: scaled(this.#rate5m, ageS, W5M_S),
      h1h: scaled(this.#rate1h, ageS, W1H_S),
      shares1m: this.#lastMinuteShares,
    };
  }

  /** The 5-minute hashrate (H/s) alone, as {@linkcode HashrateMeter.hashrates} reports it. */
  hashrate5m(nowMs: number): number {
    this.#decay(nowMs);
    return scaled(this.#rate5m, this.#ageS(nowMs), W5M_S);
  }

  #ageS(nowMs: number): number {
    return Math.max(1, (nowMs - this.#startedMs) / 1000);
  }

  #decay(nowMs: number): void {
    const dtS = (nowMs - this.#lastMs) / 1000;
    if (dtS > 0) {
      this.#rate1m *= Math.exp(-dtS / W1M_S);
      this.#rate5m *= Math.exp(-dtS / W5M_S);
      this.#rate1h *= Math.exp(-dtS / W1H_S);
      this.#lastMs = nowMs;
    }
    if (nowMs - this.#minuteStartMs >= 60_000) {
      this.#lastMinuteShares = this.#minuteShares;
      this.#minuteShares = 0;
      this.#minuteStartMs = nowMs;
    }
  }
}

/** A young meter has not filled its window yet; scale up by the filled fraction. */
function scaled(rate: number, ageS: number, windowS: number): number {
  const fill = 1 - Math.exp(-ageS / windowS);
  return (rate / fill) * HASHES_PER_DIFF;
}
