/**
 * The gates of a zero-downtime upgrade (tools/upgrade.ts): what the processes that took the
 * miners over must show over the soak before the upgrade counts as done. Pure: counters in,
 * verdicts out; the tool scrapes, this decides.
 *
 * @module
 */
import { parsePromText } from "../tests/support/sim/prom_text.ts";

/** What one pool process's /metrics says, summed over labels. */
export interface PoolCounters {
  /** Shares answered (`ckpool_shares_total`, accepted and rejected). */
  readonly shares: number;
  /** Shares rejected (`ckpool_shares_total{valid="false"}`). */
  readonly rejected: number;
  /** Protocol errors and failed block submissions. */
  readonly errors: number;
  /** Events dropped (`ckpool_events_dropped_total`): must never grow. */
  readonly dropped: number;
  /** Miners connected now (`ckpool_connected_miners`). */
  readonly miners: number;
}

/** Limits of {@link evaluateGates}. */
export interface GateLimits {
  /** Shares the new processes must answer over the soak, together. */
  readonly minShares: number;
  /** Highest rejected / answered over the soak (0–1). */
  readonly maxRejectRatio: number;
  /** Highest (protocol errors + failed block submissions) / answered over the soak (0–1). */
  readonly maxErrorRatio: number;
}

/** One gate's verdict. */
export interface GateResult {
  readonly gate: string;
  readonly ok: boolean;
  /** The figures it was decided on, for the operator. */
  readonly detail: string;
}

/**
 * Reads the counters a gate needs from a Prometheus exposition.
 *
 * @param text a pool process's /metrics body
 * @returns the sums; a metric the process does not export counts 0
 */
export function countersFromMetrics(text: string): PoolCounters {
  let shares = 0, rejected = 0, errors = 0, dropped = 0, miners = 0;
  for (const sample of parsePromText(text)) {
    switch (sample.name) {
      case "ckpool_shares_total":
        shares += sample.value;
        if (sample.labels.valid === "false") rejected += sample.value;
        break;
      case "ckpool_protocol_errors_total":
      case "ckpool_block_submit_failures_total":
        errors += sample.value;
        break;
      case "ckpool_events_dropped_total":
        dropped += sample.value;
        break;
      case "ckpool_connected_miners":
        miners += sample.value;
        break;
    }
  }
  return { shares, rejected, errors, dropped, miners };
}

const ratio = (part: number, whole: number): number => whole === 0 ? 0 : part / whole;
const percent = (value: number): string => `${(value * 100).toFixed(2)} %`;

/**
 * Decides the gates over a soak: `before` and `after` are the new processes' counters at its
 * start and end (same order), `unhealthy` every /health failure seen during it.
 *
 * @param before counters at the start of the soak, one per process
 * @param after counters at its end, one per process (a restarted process counts from 0)
 * @param unhealthy one line per failed /health poll ("instance 2: template_fresh")
 * @param limits thresholds
 * @returns one verdict per gate: health, shares, reject ratio, error ratio, events dropped
 * @throws {RangeError} when `before` and `after` differ in length or a limit is out of range
 */
export function evaluateGates(
  before: readonly PoolCounters[],
  after: readonly PoolCounters[],
  unhealthy: readonly string[],
  limits: GateLimits,
): GateResult[] {
  if (before.length !== after.length) {
    throw new RangeError(
      `Cannot evaluate gates: ${before.length} processes before the soak, ${after.length} after`,
    );
  }
  for (const key of ["maxRejectRatio", "maxErrorRatio"] as const) {
    if (!(limits[key] >= 0 && limits[key] <= 1)) {
      throw new RangeError(`Cannot evaluate gates: ${key} ${limits[key]} is not within 0–1`);
    }
  }
  // A counter that went down means the process restarted: its whole count is the soak's.
  const delta = (key: keyof PoolCounters): number =>
    after.reduce((sum, a, i) => {
      const b = before[i]![key];
      return sum + (a[key] >= b ? a[key] - b : a[key]);
    }, 0);
  const shares = delta("shares");
  const rejected = delta("rejected");
  const errors = delta("errors");
  const dropped = delta("dropped");
  const rejectRatio = ratio(rejected, shares);
  const errorRatio = ratio(errors, shares);
  return [
    {
      gate: "health",
      ok: unhealthy.length === 0,
      detail: unhealthy.length === 0
        ? "every /health poll ok"
        : `${unhealthy.length} failed polls, first: ${unhealthy[0]}`,
    },
    {
      gate: "shares",
      ok: shares >= limits.minShares,
      detail: `${shares} answered (at least ${limits.minShares})`,
    },
    {
      gate: "reject_ratio",
      ok: rejectRatio <= limits.maxRejectRatio,
      detail: `${rejected}/${shares} = ${percent(rejectRatio)} (at most ${
        percent(limits.maxRejectRatio)
      })`,
    },
    {
      gate: "error_ratio",
      ok: errorRatio <= limits.maxErrorRatio,
      detail: `${errors}/${shares} = ${percent(errorRatio)} (at most ${
        percent(limits.maxErrorRatio)
      })`,
    },
    { gate: "events_dropped", ok: dropped === 0, detail: `${dropped} dropped (none allowed)` },
  ];
}
