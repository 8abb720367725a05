/**
 * Regression detection (seed Phase 5 §7.3): each row of this run against the same row of the
 * previous run. A row is flagged when it moved the wrong way by more than the margin (percent
 * of the previous value) and by more than the row's noise floor, an absolute amount below which
 * a change means nothing (a stale rate going from 0 to 0.001 % is infinitely worse in relative
 * terms and says nothing).
 */
import type { Better, RowKey, Verdict } from "./expected_results.ts";

/** The parts of a judged row a comparison needs (what a saved result keeps). */
export interface ComparableRow {
  readonly key: RowKey;
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
  readonly value: number | null;
  readonly verdict: Verdict;
}

/** One row's comparison. */
export interface RowComparison {
  readonly key: RowKey;
  readonly metric: string;
  readonly unit: string;
  readonly previous: number | null;
  readonly current: number | null;
  /** Change in percent of the previous value (null when either side is missing or it was 0). */
  readonly changePct: number | null;
  /** Moved the wrong way by more than the margin and the noise floor. */
  readonly regressed: boolean;
  /** Moved the right way by more than the margin and the noise floor. */
  readonly improved: boolean;
}

/** Changes smaller than this (in the row's unit) are noise, whatever their percentage. */
export const NOISE_FLOOR: Readonly<Record<RowKey, number>> = Object.freeze({
  connections: 0,
  shareRate: 1,
  p99ShareRtt: 1,
  cpu: 2,
  memory: 20e6,
  emissionP99: 0.05,
  staleRate: 0.02,
  connectionErrorRate: 0.005,
});

/** Compares `current` with `previous` row by row (rows missing from `previous` compare as null). */
export function compareRuns(
  previous: readonly ComparableRow[],
  current: readonly ComparableRow[],
  marginPct: number,
): RowComparison[] {
  const before = new Map(previous.map((r) => [r.key, r]));
  return current.map((row) => {
    const old = before.get(row.key)?.value ?? null;
    const now = row.value;
    if (old === null || now === null) {
      return {
        key: row.key,
        metric: row.metric,
        unit: row.unit,
        previous: old,
        current: now,
        changePct: null,
        regressed: false,
        improved: false,
      };
    }
    const delta = now - old;
    const changePct = old === 0 ? null : (delta / Math.abs(old)) * 100;
    const beyondMargin = changePct === null ? delta !== 0 : Math.abs(changePct) > marginPct;
    const significant = beyondMargin && Math.abs(delta) > NOISE_FLOOR[row.key];
    const worse = row.better === "higher" ? delta < 0 : delta > 0;
    return {
      key: row.key,
      metric: row.metric,
      unit: row.unit,
      previous: old,
      current: now,
      changePct,
      regressed: significant && worse,
      improved: significant && !worse,
    };
  });
}
