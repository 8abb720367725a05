/**
 * Exponentially decaying share-rate meters (ckpool's dsps1/dsps5/dsps60 idea): credited difficulty
 * per second, smoothed over 1 minute, 5 minutes and 1 hour, converted to hashes per second.
 */

const HASHES_PER_DIFF = 4_294_967_296;
const WINDOWS_S = [60, 300, 3600] as const;

/** Decaying averages of credited difficulty for one worker or session. */
export class HashrateMeter {
  readonly #rates = new Float64Array(WINDOWS_S.length);
  #lastMs: number;
  #startedMs: number;
  /** Shares credited in the current minute bucket (for shares_1m). */
  #minuteShares = 0;
  #minuteStartMs: number;
  #lastMinuteShares = 0;

  /** @param nowMs start of measurement. */
  constructor(nowMs: number) {
    this.#lastMs = nowMs;
    this.#startedMs = nowMs;
    this.#minuteStartMs = nowMs;
  }

  /** Credits an accepted share of difficulty `diff`. */
  add(diff: number, nowMs: number): void {
    this.#decay(nowMs);
    for (let i = 0; i < WINDOWS_S.length; i++) this.#rates[i]! += diff / WINDOWS_S[i]!;
    this.#minuteShares++;
  }

  /** Hashrates (H/s) over 1 m, 5 m, 1 h, corrected for a meter younger than the window. */
  hashrates(nowMs: number): { h1m: number; h5m: number; h1h: number; shares1m: number } {
    this.#decay(nowMs);
    const ageS = Math.max(1, (nowMs - this.#startedMs) / 1000);
    const out = WINDOWS_S.map((w, i) => {
      // A young meter has not filled its window yet; scale up by the filled fraction.
      const fill = 1 - Math.exp(-ageS / w);
      return (this.#rates[i]! / fill) * HASHES_PER_DIFF;
    });
    return { h1m: out[0]!, h5m: out[1]!, h1h: out[2]!, shares1m: this.#lastMinuteShares };
  }

  #decay(nowMs: number): void {
    const dtS = (nowMs - this.#lastMs) / 1000;
    if (dtS > 0) {
      for (let i = 0; i < WINDOWS_S.length; i++) this.#rates[i]! *= Math.exp(-dtS / WINDOWS_S[i]!);
      this.#lastMs = nowMs;
    }
    if (nowMs - this.#minuteStartMs >= 60_000) {
      this.#lastMinuteShares = this.#minuteShares;
      this.#minuteShares = 0;
      this.#minuteStartMs = nowMs;
    }
  }
}
