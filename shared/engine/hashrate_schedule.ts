/**
 * When each worker's `hashrate_update` is due. Every worker reports once per interval, but not all
 * in the same tick: each gets one of `interval ÷ 1 s` slots when it authorizes, and a tick reports
 * the slots of the seconds that passed since the one before. With 17,000 miners on a process,
 * reporting them all in one tick queued every share behind 17,000 event encodings once a minute;
 * spread over 60 slots a tick encodes about 280.
 *
 * @module
 */

const SLOT_MS = 1000;

/** The per-second slots of the hashrate reports. */
export class HashrateSchedule {
  readonly #slots: number;
  #nextSlot = 0;
  /** The last second (ms ÷ 1000, floored) whose slot was reported; null before the first tick. */
  #lastSecond: number | null = null;
  /** The slots due in the current tick: from `#dueFrom`, `#dueCount` of them (wrapping). */
  #dueFrom = 0;
  #dueCount = 0;

  /**
   * @param intervalMs how often each worker reports (at least one second)
   * @throws {RangeError} when the interval is not a finite number of at least 1,000 ms
   */
  constructor(intervalMs: number) {
    if (!(Number.isFinite(intervalMs) && intervalMs >= SLOT_MS)) {
      throw new RangeError(
        `Cannot schedule hashrate reports: interval ${intervalMs} ms is not at least ${SLOT_MS} ms`,
      );
    }
    this.#slots = Math.round(intervalMs / SLOT_MS);
  }

  /** Number of slots (seconds in an interval). */
  get slots(): number {
    return this.#slots;
  }

  /** The slot for a newly authorized worker: round robin, so the slots fill evenly. */
  assign(): number {
    const slot = this.#nextSlot;
    this.#nextSlot = (slot + 1) % this.#slots;
    return slot;
  }

  /**
   * Starts a tick at `nowMs`: the slots of every second since the last tick become due (all of
   * them when a whole interval passed, none when the clock did not reach a new second or went
   * back). The first tick makes only the current second's slot due.
   */
  beginTick(nowMs: number): void {
    const second = Math.floor(nowMs / SLOT_MS);
    const last = this.#lastSecond ?? second - 1;
    const passed = second - last;
    if (passed <= 0) {
      this.#dueCount = 0;
      return;
    }
    this.#lastSecond = second;
    this.#dueCount = Math.min(passed, this.#slots);
    this.#dueFrom = (((last + 1) % this.#slots) + this.#slots) % this.#slots;
  }

  /** Whether `slot` reports in the tick begun last. */
  isDue(slot: number): boolean {
    const offset = (slot - this.#dueFrom + this.#slots) % this.#slots;
    return offset < this.#dueCount;
  }
}
