/**
 * The pace of a background poll (node statistics, a server's monitoring port): once at start, then
 * `intervalMs` after the previous poll ends, never two at a time, until stopped. Stopping aborts
 * the poll in flight through the loop's signal and waits for it to end.
 *
 * @module
 */

/** Runs one poll; reports its own failures (a rejection is ignored, the loop goes on). */
export type Poll = () => Promise<unknown>;

/** A poll repeated at a fixed pace between start() and stop(). */
export class PollLoop {
  readonly #poll: Poll;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<unknown> | undefined;
  #stop = new AbortController();
  #started = false;

  /**
   * @param intervalMs milliseconds from the end of one poll to the start of the next
   * @param poll the poll; it should honour {@link signal}
   * @throws {RangeError} when `intervalMs` is not a positive finite number
   */
  constructor(intervalMs: number, poll: Poll) {
    if (!(intervalMs > 0 && Number.isFinite(intervalMs))) {
      throw new RangeError(
        `Cannot create poll loop: intervalMs must be positive, got ${intervalMs}`,
      );
    }
    this.#intervalMs = intervalMs;
    this.#poll = poll;
  }

  /** Aborted by {@link stop}: polls pass it to what they wait on. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** Polls at once, then every `intervalMs` after the previous poll ends. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#stop = new AbortController();
    this.#run();
  }

  /** Stops the timer and aborts a poll in flight; resolves once it has ended. */
  async stop(): Promise<void> {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stop.abort();
    await this.#running;
  }

  #run(): void {
    this.#running = this.#poll().catch(() => {}).finally(() => {
      if (!this.#started) return;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#run();
      }, this.#intervalMs);
    });
  }
}
