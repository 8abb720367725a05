/**
 * A batch's `summary_deltas` row (migration 007): one entry per (user, worker, hour) carrying what
 * the batch adds to that `worker_hourly` row and to the worker's `miners` row, as one PostgreSQL
 * array literal per field. The literals travel as text parameters; the INSERT parses them once and
 * the fold reads the arrays with `unnest()`.
 *
 * @module
 */
import { type BatchAggregates, MICROS_PER_HOUR } from "./aggregates.ts";

/** Digits of the zero-padded µs prefix of `ln` and `g`: every safe integer fits in 16. */
export const SORT_KEY_DIGITS = 16;

/** Field name → array literal, in the column order of `summary_deltas`. */
export interface SummaryDeltaArrays {
  /** Users. */
  readonly u: string;
  /** Workers. */
  readonly w: string;
  /** Hour starts, µs. */
  readonly h: string;
  /** Accepted shares in the hour. */
  readonly a: string;
  /** Rejected shares in the hour. */
  readonly r: string;
  /** Sum of accepted shares' pool_diff in the hour. */
  readonly d: string;
  /** Best accepted share_diff in the hour, 0 when none. */
  readonly hb: string;
  /** Worker's earliest event time, µs. */
  readonly f: string;
  /** Worker's latest event time (16 digits of µs) followed by its region. */
  readonly ln: string;
  /** Worker's latest share time, µs, or NULL. */
  readonly s: string;
  /** Worker's best share_diff or best-diff report, 0 when none. */
  readonly mb: string;
  /** Latest connect (16 digits of µs) followed by its user agent, or NULL. */
  readonly g: string;
}

const ARRAY_SPECIAL = /["\\]/;
const ARRAY_SPECIAL_ALL = /["\\]/g;

/**
 * One element of a text array literal: always double-quoted, `"` and `\` escaped, so any text
 * (braces, commas, spaces, `NULL`) reads back as itself.
 */
function quoted(value: string): string {
  return `"${ARRAY_SPECIAL.test(value) ? value.replace(ARRAY_SPECIAL_ALL, "\\$&") : value}"`;
}

function sortKey(us: number, text: string): string {
  if (!Number.isSafeInteger(us) || us < 0) {
    throw new RangeError(`Cannot build a summary delta: time ${us} is not a non-negative integer`);
  }
  return String(us).padStart(SORT_KEY_DIGITS, "0") + text;
}

/**
 * The batch's delta as array literals, or `null` when it adds nothing to `miners` (only blocks
 * or network events).
 *
 * @param aggregates {@link aggregateBatch}'s output: miners sorted by (user, worker), worker-hours
 *   by (user, worker, hour).
 * @returns One literal per `summary_deltas` column; the entries follow the miners' order.
 * @throws {RangeError} If a time is not a non-negative safe integer.
 */
export function summaryDeltaArrays(aggregates: BatchAggregates): SummaryDeltaArrays | null {
  const { miners, workerHours } = aggregates;
  if (miners.length === 0) return null;
  const u: string[] = [];
  const w: string[] = [];
  const h: number[] = [];
  const a: number[] = [];
  const r: number[] = [];
  const d: number[] = [];
  const hb: number[] = [];
  const f: number[] = [];
  const ln: string[] = [];
  const s: string[] = [];
  const mb: number[] = [];
  const g: string[] = [];
  let next = 0;
  for (const miner of miners) {
    const user = quoted(miner.user);
    const worker = quoted(miner.worker);
    const latest = quoted(sortKey(miner.lastSeenUs, miner.region));
    const share = miner.lastShareUs === null ? "NULL" : String(miner.lastShareUs);
    const best = miner.bestDiff ?? 0;
    const agent = miner.userAgent === null
      ? "NULL"
      : quoted(sortKey(miner.userAgentUs, miner.userAgent));
    const push = (
      hourUs: number,
      accepted: number,
      rejected: number,
      diff: number,
      hourBest: number,
    ) => {
      u.push(user);
      w.push(worker);
      h.push(hourUs);
      a.push(accepted);
      r.push(rejected);
      d.push(diff);
      hb.push(hourBest);
      f.push(miner.firstSeenUs);
      ln.push(latest);
      s.push(share);
      mb.push(best);
      g.push(agent);
    };
    let hours = 0;
    while (next < workerHours.length) {
      const hour = workerHours[next]!;
      if (hour.user !== miner.user || hour.worker !== miner.worker) break;
      push(
        hour.hourUs,
        hour.sharesAccepted,
        hour.sharesRejected,
        hour.diffAccepted,
        hour.bestDiff ?? 0,
      );
      next++;
      hours++;
    }
    if (hours === 0) {
      push(miner.lastSeenUs - (miner.lastSeenUs % MICROS_PER_HOUR), 0, 0, 0, 0);
    }
  }
  if (next !== workerHours.length) {
    throw new Error("Cannot build a summary delta: worker-hours not in the order of the miners");
  }
  const list = (values: readonly (string | number)[]) => `{${values.join(",")}}`;
  return {
    u: list(u),
    w: list(w),
    h: list(h),
    a: list(a),
    r: list(r),
    d: list(d),
    hb: list(hb),
    f: list(f),
    ln: list(ln),
    s: list(s),
    mb: list(mb),
    g: list(g),
  };
}
