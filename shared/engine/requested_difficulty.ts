/**
 * Bounds on difficulties that come from outside vardiff: asked for by the miner
 * (`mining.suggest_difficulty`, `mining.configure` minimum-difficulty) or recalled from reconnect
 * memory (which another process, or an older version, may have written).
 *
 * Such a value is clamped to the pool's [mindiff, maxdiff] and never set above the network
 * difficulty: a share harder than a block proves nothing more than the block, and a miner held at
 * an impossible difficulty only has every share rejected. With `maxdiff: 0` (no maximum) the
 * network difficulty is the only thing that stops a request of 1e60.
 *
 * @module
 */

import type { VarDiffOptions } from "./vardiff.ts";

/** The pool settings the bounds come from. */
export interface RequestedDifficultyBounds {
  /** mindiff and maxdiff (0: no maximum), as vardiff has them. */
  readonly vardiff: Pick<VarDiffOptions, "mindiff" | "maxdiff">;
  /**
   * The pool's startdiff: the ceiling while no template (so no network difficulty) is known.
   * The pool opens its listeners only after the first template, so this covers only the moment
   * before it; startdiff is the one value the operator has declared safe for any newcomer.
   */
  readonly startDifficulty: number;
}

/**
 * The highest difficulty a miner may ask for: min(maxdiff, network difficulty), but never below
 * mindiff (on a test network whose difficulty lies under the pool's mindiff, mindiff wins, as
 * it does for vardiff).
 *
 * @param bounds the pool settings.
 * @param networkDifficulty the current template's network difficulty, or null when none is known.
 * @returns the ceiling.
 */
export function requestedDifficultyCeiling(
  bounds: RequestedDifficultyBounds,
  networkDifficulty: number | null,
): number {
  const { mindiff, maxdiff } = bounds.vardiff;
  const network = networkDifficulty ?? bounds.startDifficulty;
  const policy = maxdiff > 0 ? Math.min(maxdiff, network) : network;
  return Math.max(mindiff, policy);
}

/**
 * Clamps a miner-requested or recalled difficulty to [mindiff, ceiling] (see
 * {@linkcode requestedDifficultyCeiling}).
 *
 * @param diff the difficulty asked for; the parser has checked it is a positive finite number.
 * @param bounds the pool settings.
 * @param networkDifficulty the current template's network difficulty, or null when none is known.
 * @returns the difficulty to use.
 */
export function clampRequestedDifficulty(
  diff: number,
  bounds: RequestedDifficultyBounds,
  networkDifficulty: number | null,
): number {
  const ceiling = requestedDifficultyCeiling(bounds, networkDifficulty);
  return Math.min(Math.max(diff, bounds.vardiff.mindiff), ceiling);
}
