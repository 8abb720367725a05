/**
 * Small waiting primitives for the emitter's background loops.
 *
 * @module
 */

/**
 * A level-free wake-up: `wait()` resolves at the next `notify()`. Any number of loops may wait;
 * one `notify()` releases all of them. Spurious wake-ups are expected: waiters re-check their
 * condition. `notify()` with nobody waiting is a null check, so the share path may call it.
 */
export class Wakeup {
  #promise: Promise<void> | null = null;
  #resolve: (() => void) | null = null;

  /** Resolves at the next `notify()`. */
  wait(): Promise<void> {
    if (this.#promise === null) {
      this.#promise = new Promise((resolve) => {
        this.#resolve = resolve;
      });
    }
    return this.#promise;
  }

  /** Releases every current waiter. */
  notify(): void {
    const resolve = this.#resolve;
    if (resolve === null) return;
    this.#resolve = null;
    this.#promise = null;
    resolve();
  }
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (or already has).
 *
 * @param ms delay in milliseconds.
 * @param signal cuts the wait short.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
