/**
 * Share and connect events stamped at a chosen time, for the tests of the collector's per-worker
 * aggregation (aggregates_test, summary_delta_test) and of the PostgreSQL fold
 * (tests/summary_fold_test.ts).
 *
 * @module
 */
import { EventType, makeEvent, type MiningEvent } from "@tbg/shared/events";

/** A `share_submitted` from `stratum-<region>-1`; a rejected one is "stale". */
export function shareEventAt(
  user: string,
  worker: string,
  timestampUs: number,
  accepted: boolean,
  shareDiff: number,
  region = "eu",
): MiningEvent {
  return {
    ...makeEvent(EventType.ShareSubmitted, region, `stratum-${region}-1`, {
      user,
      worker,
      session_id: "0a",
      job_id: "1",
      share_diff: shareDiff,
      pool_diff: 256,
      accepted,
      ...(accepted ? {} : { reject_reason: "stale" as const }),
      block_candidate: false,
    }),
    timestamp: timestampUs,
  };
}

/** A `miner_connected` from `stratum-<region>-1` with user agent `agent`. */
export function connectEventAt(
  user: string,
  worker: string,
  timestampUs: number,
  agent: string,
  region = "eu",
): MiningEvent {
  return {
    ...makeEvent(EventType.MinerConnected, region, `stratum-${region}-1`, {
      user,
      worker,
      session_id: "0b",
      ip: "10.0.0.1",
      user_agent: agent,
      resumed: false,
    }),
    timestamp: timestampUs,
  };
}
