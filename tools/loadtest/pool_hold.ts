/**
 * How long the pools' measured hold lasts.
 *
 * @module
 */
import type { LoadtestOptions } from "./loadtest_options.ts";

/** The pools' hold ends this long before the generator's window (closing is not in it). */
export const POOL_WINDOW_TRIM_S = 1;

/**
 * How long the pools' hold lasts from `openedAtEpochMs`: the duration less the trim, and never
 * past the trim before the first generator process ends its window. A process that was ready
 * before the others ends before them and closes its connections then; a pools' sample taken
 * while they close (garbage of thousands of closes) is not the held miners' memory.
 */
export function poolHoldMs(
  options: Pick<LoadtestOptions, "durationS" | "warmupS">,
  firstReadyEpochMs: number,
  openedAtEpochMs: number,
): number {
  const trimMs = POOL_WINDOW_TRIM_S * 1000;
  const full = options.durationS * 1000 - trimMs;
  const firstEndEpochMs = firstReadyEpochMs + (options.warmupS + options.durationS) * 1000;
  const beforeFirstEnd = firstReadyEpochMs > 0 ? firstEndEpochMs - trimMs - openedAtEpochMs : full;
  return Math.max(0, Math.min(full, beforeFirstEnd));
}
