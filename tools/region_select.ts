/**
 * The region-selection policy of the GeoDNS layer (Phase 4 §5), as pure functions, so it can be
 * tested here where there is no DNS provider: a miner is sent to the nearest healthy region,
 * and to the next-nearest while that one fails its health checks.
 *
 * - Health follows Route53's checks (§5.3): a region turns unhealthy after `failureThreshold`
 *   consecutive failed probes (3 at a 10 s interval: 30 s) and healthy again after as many
 *   consecutive passing probes, so one lost probe does not move miners.
 * - "Nearest" is the lowest measured round-trip time from the miner's vantage point; a region
 *   with no RTT (unreachable) is never chosen. Near-ties (within `tieMs`) go to the lower
 *   priority number, then the name, so the answer is stable.
 * - When no region is healthy, the answer fails open to the nearest reachable region, as Route53
 *   does when every record in a set is unhealthy: better a region that may work than no answer.
 *
 * `tools/region_probe.ts` measures RTT and health and applies this policy.
 *
 * @module
 */

/** Health of one region as the checks see it over time. */
export interface RegionHealthState {
  /** Whether the region is considered healthy now. */
  readonly healthy: boolean;
  /** Consecutive probes that disagreed with {@link healthy} (failures while healthy, passes while not). */
  readonly streak: number;
}

/** A region that was never probed: healthy until the checks say otherwise (Route53's start). */
export const INITIAL_HEALTH: RegionHealthState = { healthy: true, streak: 0 };

/** Route53's default failure threshold (§5.3: 3 failures at a 10 s interval). */
export const DEFAULT_FAILURE_THRESHOLD = 3;

/**
 * The health after one more probe.
 *
 * @param state Health before the probe.
 * @param probeOk Whether the probe passed (HTTP 200 from `/health`, Stratum port accepting).
 * @param threshold Consecutive contrary probes that flip the state (≥ 1).
 * @returns The new state.
 * @throws {RangeError} If `threshold` is not a positive integer.
 */
export function nextHealth(
  state: RegionHealthState,
  probeOk: boolean,
  threshold: number = DEFAULT_FAILURE_THRESHOLD,
): RegionHealthState {
  if (!(Number.isInteger(threshold) && threshold >= 1)) {
    throw new RangeError(`Cannot track health: threshold must be an integer ≥ 1, got ${threshold}`);
  }
  if (probeOk === state.healthy) return { healthy: state.healthy, streak: 0 };
  const streak = state.streak + 1;
  return streak >= threshold ? { healthy: probeOk, streak: 0 } : { healthy: state.healthy, streak };
}

/** One region as a client sees it. */
export interface RegionCandidate {
  /** Region slug. */
  readonly region: string;
  /** Measured round-trip time from the client, ms; `undefined` when unreachable. */
  readonly rttMs: number | undefined;
  /** Whether the health checks consider it healthy. */
  readonly healthy: boolean;
  /** Preference on near-ties, lower first (the primary region 0). Default 100. */
  readonly priority?: number;
}

/** Why a region was chosen. */
export const SelectionReason = {
  /** The nearest healthy region. */
  NearestHealthy: "nearest_healthy",
  /** No region is healthy: the nearest reachable one (fail open). */
  FailOpen: "fail_open",
  /** No region is reachable. */
  NoneReachable: "none_reachable",
} as const;
/** Why a region was chosen. */
export type SelectionReason = typeof SelectionReason[keyof typeof SelectionReason];

/** The policy's answer. */
export interface RegionSelection {
  /** The chosen region, or `null` when none is reachable. */
  readonly region: string | null;
  readonly reason: SelectionReason;
  /** Eligible regions in order of preference (the failover order). */
  readonly ranked: readonly string[];
}

/** Options of {@link selectRegion}. */
export interface SelectOptions {
  /** RTTs closer than this are a tie, ms (default 2: probe noise). */
  readonly tieMs?: number;
}

function checkCandidate(candidate: RegionCandidate): void {
  const rtt = candidate.rttMs;
  if (rtt !== undefined && !(Number.isFinite(rtt) && rtt >= 0)) {
    throw new RangeError(`Cannot select a region: RTT of ${candidate.region} is ${rtt}`);
  }
  const priority = candidate.priority;
  if (priority !== undefined && !Number.isFinite(priority)) {
    throw new RangeError(`Cannot select a region: priority of ${candidate.region} is ${priority}`);
  }
}

function rank(candidates: readonly RegionCandidate[], tieMs: number): RegionCandidate[] {
  return [...candidates].sort((a, b) => {
    const difference = (a.rttMs as number) - (b.rttMs as number);
    if (Math.abs(difference) >= tieMs) return difference;
    const priority = (a.priority ?? 100) - (b.priority ?? 100);
    if (priority !== 0) return priority;
    return a.region < b.region ? -1 : a.region > b.region ? 1 : 0;
  });
}

/**
 * Picks the region a client should be sent to.
 *
 * @param candidates Every region with the client's RTT to it and its health.
 * @param options Tie width.
 * @returns The choice, why, and the failover order behind it.
 * @throws {RangeError} If a region repeats, or an RTT or priority is not a finite number ≥ 0.
 */
export function selectRegion(
  candidates: readonly RegionCandidate[],
  options: SelectOptions = {},
): RegionSelection {
  const tieMs = options.tieMs ?? 2;
  if (!(Number.isFinite(tieMs) && tieMs >= 0)) {
    throw new RangeError(`Cannot select a region: tieMs must be ≥ 0, got ${tieMs}`);
  }
  const seen = new Set<string>();
  for (const candidate of candidates) {
    if (seen.has(candidate.region)) {
      throw new RangeError(`Cannot select a region: "${candidate.region}" is listed twice`);
    }
    seen.add(candidate.region);
    checkCandidate(candidate);
  }
  const reachable = candidates.filter((c) => c.rttMs !== undefined);
  const healthy = rank(reachable.filter((c) => c.healthy), tieMs);
  if (healthy.length > 0) {
    return {
      region: (healthy[0] as RegionCandidate).region,
      reason: SelectionReason.NearestHealthy,
      ranked: healthy.map((c) => c.region),
    };
  }
  const open = rank(reachable, tieMs);
  if (open.length > 0) {
    return {
      region: (open[0] as RegionCandidate).region,
      reason: SelectionReason.FailOpen,
      ranked: open.map((c) => c.region),
    };
  }
  return { region: null, reason: SelectionReason.NoneReachable, ranked: [] };
}
