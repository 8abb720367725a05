/**
 * The seed's "Expected Results" table (Phase 5 §3.4) as data, and the verdict of a measured
 * value against it: "target", "acceptable" or "miss" ("n/a" when nothing was measured).
 *
 * Two rows scale with the run: the seed's 100,000 connections and 10,000 shares/s are its
 * profile (100,000 miners, one share per 10 s); here the target is the run's own miners and
 * offered rate, with the seed's ratios for "acceptable" (95 % and 80 %), so a run of the seed's
 * profile is judged exactly by the seed's numbers. The CPU row is the pools' share of the
 * host's cores (the seed says 8 cores; this is whatever the host has). Memory is bytes, with
 * GB = 10^9 as the seed writes it.
 */

/** A row's key (stable in saved results, used to compare runs). */
export type RowKey =
  | "connections"
  | "shareRate"
  | "p99ShareRtt"
  | "cpu"
  | "memory"
  | "emissionP99"
  | "staleRate"
  | "connectionErrorRate";

/** The verdict of one row. */
export type Verdict = "target" | "acceptable" | "miss" | "n/a";

/** Which way is better. */
export type Better = "higher" | "lower";

/** One row of the seed table for a given run. */
export interface ExpectedRow {
  readonly key: RowKey;
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
  /** Bounds in the row's unit: at or past `target` is "target", past `acceptable` "acceptable". */
  readonly target: number;
  readonly acceptable: number;
  /** The seed's wording, for the printed table. */
  readonly targetText: string;
  readonly acceptableText: string;
}

/** A row with its measured value and verdict. */
export interface JudgedRow extends ExpectedRow {
  /** Null when the run could not measure it. */
  readonly value: number | null;
  readonly verdict: Verdict;
}

/** The run's size, which two rows scale with. */
export interface RunProfile {
  readonly miners: number;
  /** Shares per second offered in total. */
  readonly offeredPerS: number;
}

const GB = 1e9;

function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** The seed's rows for `profile`, in the seed's order. */
export function expectedRows(profile: RunProfile): ExpectedRow[] {
  return [
    {
      key: "connections",
      metric: "Connections established",
      unit: "connections",
      better: "higher",
      target: profile.miners,
      acceptable: profile.miners * 0.95,
      targetText: count(profile.miners),
      acceptableText: `>${count(profile.miners * 0.95)}`,
    },
    {
      key: "shareRate",
      metric: "Share processing rate",
      unit: "shares/s",
      better: "higher",
      // Answered shares are counted over the window, so a run at exactly the offered rate
      // lands a fraction of a percent either side of it.
      target: profile.offeredPerS * 0.99,
      acceptable: profile.offeredPerS * 0.8,
      targetText: `${count(profile.offeredPerS)}/s`,
      acceptableText: `>${count(profile.offeredPerS * 0.8)}/s`,
    },
    {
      key: "p99ShareRtt",
      metric: "P99 share RTT",
      unit: "ms",
      better: "lower",
      target: 10,
      acceptable: 50,
      targetText: "<10ms",
      acceptableText: "<50ms",
    },
    {
      key: "cpu",
      metric: "CPU usage (pools, share of host cores)",
      unit: "%",
      better: "lower",
      target: 60,
      acceptable: 80,
      targetText: "<60%",
      acceptableText: "<80%",
    },
    {
      key: "memory",
      metric: "Memory usage (pools, PSS)",
      unit: "bytes",
      better: "lower",
      target: 2 * GB,
      acceptable: 4 * GB,
      targetText: "<2GB",
      acceptableText: "<4GB",
    },
    {
      key: "emissionP99",
      metric: "Event emission latency (P99)",
      unit: "ms",
      better: "lower",
      target: 1,
      acceptable: 5,
      targetText: "<1ms",
      acceptableText: "<5ms",
    },
    {
      key: "staleRate",
      metric: "Stale share rate",
      unit: "%",
      better: "lower",
      target: 0.1,
      acceptable: 0.5,
      targetText: "<0.1%",
      acceptableText: "<0.5%",
    },
    {
      key: "connectionErrorRate",
      metric: "Connection error rate",
      unit: "%",
      better: "lower",
      target: 0.01,
      acceptable: 0.1,
      targetText: "<0.01%",
      acceptableText: "<0.1%",
    },
  ];
}

/**
 * The verdict of `value` in `row`: "higher" rows meet the target at or above it and are
 * acceptable strictly above the acceptable bound; "lower" rows meet it strictly below.
 */
export function verdictOf(row: ExpectedRow, value: number | null): Verdict {
  if (value === null || !Number.isFinite(value)) return "n/a";
  if (row.better === "higher") {
    if (value >= row.target) return "target";
    return value > row.acceptable ? "acceptable" : "miss";
  }
  if (value < row.target) return "target";
  return value < row.acceptable ? "acceptable" : "miss";
}

/** Judges measured values (missing keys are "n/a"). */
export function judgeRows(
  profile: RunProfile,
  values: Readonly<Partial<Record<RowKey, number | null>>>,
): JudgedRow[] {
  return expectedRows(profile).map((row) => {
    const value = values[row.key] ?? null;
    return { ...row, value, verdict: verdictOf(row, value) };
  });
}
