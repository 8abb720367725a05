/**
 * The accept loop every TCP listener of the services runs. A failed accept (EMFILE or ENFILE when
 * the process or host is out of descriptors, ENOBUFS, ECONNABORTED) is retried after a pause that
 * doubles per consecutive failure, so a descriptor shortage cannot turn the loop into a busy spin
 * that starves the event loop, and each burst of failures is reported once, not per retry.
 *
 * @module
 */

/** First pause after a failed accept. */
export const ACCEPT_BACKOFF_MIN_MS = 10;
/** Longest pause between accept attempts while they keep failing. */
export const ACCEPT_BACKOFF_MAX_MS = 1_000;

/** What the loop needs of a listener (a `Deno.Listener` has it). */
export interface AcceptSource<C> {
  accept(): Promise<C>;
}

/** A burst of accept failures, reported once when it starts. */
export interface AcceptFailure {
  /** The first error of the burst. */
  readonly error: unknown;
  /** Pause before the next attempt. */
  readonly backoffMs: number;
}

/** Settings and seams of {@linkcode runAcceptLoop}. */
export interface AcceptLoopOptions<C> {
  /** Called with each accepted connection; must not throw (the loop does not await it). */
  readonly onConnection: (conn: C) => void;
  /** False once the owner closed the listener: the loop then ends without reporting. */
  readonly isOpen: () => boolean;
  /** Told once per burst of consecutive failures (the first failure after a success). */
  readonly onFailure: (failure: AcceptFailure) => void;
  /** Told when a burst ends, with how many accepts failed in it. */
  readonly onRecovered?: (failures: number) => void;
  /** Waits `ms` (a seam for tests; a timer otherwise). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const timerSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The pause after the `failures`-th consecutive failed accept (1-based). */
export function acceptBackoffMs(failures: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 16);
  return Math.min(ACCEPT_BACKOFF_MIN_MS * 2 ** exponent, ACCEPT_BACKOFF_MAX_MS);
}

/**
 * Accepts connections until the listener is closed. Ends when accept fails with the listener
 * closed (`isOpen()` false, or `Deno.errors.BadResource`); any other failure pauses the loop
 * ({@linkcode acceptBackoffMs}) and tries again.
 *
 * @returns a promise that settles when the loop has ended.
 */
export async function runAcceptLoop<C>(
  listener: AcceptSource<C>,
  options: AcceptLoopOptions<C>,
): Promise<void> {
  const sleep = options.sleep ?? timerSleep;
  let failures = 0;
  while (true) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (error: unknown) {
      if (!options.isOpen() || error instanceof Deno.errors.BadResource) return;
      failures += 1;
      const backoffMs = acceptBackoffMs(failures);
      if (failures === 1) options.onFailure({ error, backoffMs });
      await sleep(backoffMs);
      if (!options.isOpen()) return;
      continue;
    }
    if (failures > 0) {
      options.onRecovered?.(failures);
      failures = 0;
    }
    options.onConnection(conn);
  }
}
