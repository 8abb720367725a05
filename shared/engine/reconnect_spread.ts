/**
 * Spreads `client.reconnect` over a window when a process drains, so the processes that take
 * its miners over (the others on a reuse_port port, or a new version's: tools/upgrade.ts) see a
 * ramp of reconnects instead of every miner at once.
 *
 * @module
 */

/** A miner that can be told to reconnect. */
export interface Reconnectable {
  /** Sends `client.reconnect` (no arguments: the same host and port). */
  sendReconnect(): void;
}

/** Options of {@link spreadReconnects}. */
export interface SpreadReconnectsOptions {
  /** Milliseconds from the first batch to the last; 0 sends every reconnect at once. */
  readonly windowMs: number;
  /** Pause between batches (default 50 ms), so 100,000 miners need no timer each. */
  readonly stepMs?: number;
  /** Whether the miner is still connected (one that left on its own is skipped). */
  readonly isConnected: (miner: Reconnectable) => boolean;
  /** Waits `ms`; tests pass one that advances a fake clock. Default `setTimeout`. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Stops sending when aborted (the drain gave up waiting). */
  readonly signal?: AbortSignal;
}

/** Default pause between batches. */
export const RECONNECT_STEP_MS = 50;

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Tells `miners` to reconnect in equal batches over `windowMs`: the first batch at once, the last
 * at `windowMs`. Miners are taken in the order given (the oldest connections first).
 *
 * @param miners who to tell, snapshotted now (miners connecting later are not told; a draining
 *   engine refuses them anyway)
 * @param options window, step and liveness check
 * @returns the number of miners told
 * @throws {RangeError} when `windowMs` or `stepMs` is negative or not finite
 */
export async function spreadReconnects(
  miners: Iterable<Reconnectable>,
  options: SpreadReconnectsOptions,
): Promise<number> {
  const { windowMs, isConnected } = options;
  const stepMs = options.stepMs ?? RECONNECT_STEP_MS;
  if (!Number.isFinite(windowMs) || windowMs < 0) {
    throw new RangeError(`Cannot spread reconnects: window ${windowMs} ms is not >= 0`);
  }
  if (!Number.isFinite(stepMs) || stepMs <= 0) {
    throw new RangeError(`Cannot spread reconnects: step ${stepMs} ms is not > 0`);
  }
  const sleep = options.sleep ?? defaultSleep;
  const list = [...miners];
  // Batches are `steps` + 1 (one at 0, one at each step up to the window); never more batches
  // than miners.
  const steps = Math.min(Math.floor(windowMs / stepMs), Math.max(list.length - 1, 0));
  let told = 0;
  let next = 0;
  for (let batch = 0; batch <= steps; batch++) {
    if (options.signal?.aborted) break;
    if (batch > 0) await sleep(windowMs / steps);
    if (options.signal?.aborted) break;
    const end = Math.round((list.length * (batch + 1)) / (steps + 1));
    for (; next < end; next++) {
      const miner = list[next]!;
      if (!isConnected(miner)) continue;
      miner.sendReconnect();
      told++;
    }
  }
  return told;
}
