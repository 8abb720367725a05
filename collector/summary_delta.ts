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

const ARRAY_SPECIAL_ALL = /["\\]/g;

/**
 * A text array literal: each element double-quoted with `"` and `\` escaped (so braces, commas,
 * spaces and the word NULL read back as text), null as NULL (or `null`: PostgreSQL takes either).
 * `JSON.stringify` writes exactly that between its brackets when it escaped nothing, faster than
 * building the text here; otherwise (a quote, backslash or control character) it is built here.
 */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  const json = JSON.stringify(values);
  if (!json.includes("\\")) return `{${json.slice(1, -1)}}`;
  return `{${
    values.map((v) => v === null ? "NULL" : `"${v.replace(ARRAY_SPECIAL_ALL, "\\$&")}"`).join(",")
  }}`;
}

/**
 * A numeric array literal; null as NULL. Non-finite numbers become NULL, as they did in the JSON
 * deltas of migration 006 (validated events carry none).
 */
export function numberArrayLiteral(values: readonly (number | null)[]): string {
  return `{${JSON.stringify(values).slice(1, -1)}}`;
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
  const s: (number | null)[] = [];
  const mb: number[] = [];
  const g: (string | null)[] = [];
  let next = 0;
  for (const miner of miners) {
    const latest = sortKey(miner.lastSeenUs, miner.region);
    const agent = miner.userAgent === null ? null : sortKey(miner.userAgentUs, miner.userAgent);
    const best = miner.bestDiff ?? 0;
    const start = next;
    for (;;) {
      const hour = workerHours[next];
      const mine = hour !== undefined && hour.user === miner.user && hour.worker === miner.worker;
      if (!mine && next > start) break;
      u.push(miner.user);
      w.push(miner.worker);
      if (mine) {
        h.push(hour.hourUs);
        a.push(hour.sharesAccepted);
        r.push(hour.sharesRejected);
        d.push(hour.diffAccepted);
        hb.push(hour.bestDiff ?? 0);
      } else {
        // A worker without shares in the batch: one entry with zero counts.
        h.push(miner.lastSeenUs - (miner.lastSeenUs % MICROS_PER_HOUR));
        a.push(0);
        r.push(0);
        d.push(0);
        hb.push(0);
      }
      f.push(miner.firstSeenUs);
      ln.push(latest);
      s.push(miner.lastShareUs);
      mb.push(best);
      g.push(agent);
      if (!mine) break;
      next++;
    }
  }
  if (next !== workerHours.length) {
    throw new Error("Cannot build a summary delta: worker-hours not in the order of the miners");
  }
  return {
    u: textArrayLiteral(u),
    w: textArrayLiteral(w),
    h: numberArrayLiteral(h),
    a: numberArrayLiteral(a),
    r: numberArrayLiteral(r),
    d: numberArrayLiteral(d),
    hb: numberArrayLiteral(hb),
    f: numberArrayLiteral(f),
    ln: textArrayLiteral(ln),
    s: numberArrayLiteral(s),
    mb: numberArrayLiteral(mb),
    g: textArrayLiteral(g),
  };
}
