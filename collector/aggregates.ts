/**
 * Per-batch summaries written beside the raw events: `blocks` rows, `miners` upserts per
 * (user, worker) and `worker_hourly` upserts per (user, worker, hour).
 *
 * Only events that were newly inserted into `mining_events` in the same transaction are summed,
 * so a redelivered event never counts twice. Rows come out sorted by key, so concurrent
 * transactions (several collectors) lock the same rows in the same order and cannot deadlock
 * on each other.
 *
 * @module
 */
import type { BlockFound, EventOf, MiningEvent } from "@tbg/shared/events";

/** Microseconds in an hour. */
export const MICROS_PER_HOUR = 3_600_000_000;

/** What one batch adds to a `miners` row. */
export interface MinerDelta {
  /** Payout address. */
  readonly user: string;
  /** Worker name, `""` for a bare address. */
  readonly worker: string;
  /** Earliest event time in the batch, µs since the epoch. */
  firstSeenUs: number;
  /** Latest event time in the batch, µs since the epoch. */
  lastSeenUs: number;
  /** Latest share time, µs; `null` when the batch has no share of this worker. */
  lastShareUs: number | null;
  /** Accepted shares in the batch. */
  sharesAccepted: number;
  /** Rejected shares in the batch. */
  sharesRejected: number;
  /** Best accepted share or best-difficulty report; `null` when none. */
  bestDiff: number | null;
  /** User agent of the latest connect in the batch; `null` when none. */
  userAgent: string | null;
  /** Region of the latest event. */
  region: string;
  /** Time of the connect that set {@link userAgent}. */
  userAgentUs: number;
}

/** What one batch adds to a `worker_hourly` row. */
export interface WorkerHourDelta {
  /** Payout address. */
  readonly user: string;
  /** Worker name. */
  readonly worker: string;
  /** Start of the UTC hour, µs since the epoch. */
  readonly hourUs: number;
  /** Accepted shares in that hour. */
  sharesAccepted: number;
  /** Rejected shares in that hour. */
  sharesRejected: number;
  /** Sum of the pool difficulty of accepted shares (the work credited). */
  diffAccepted: number;
  /** Best accepted share difficulty; `null` when no share was accepted. */
  bestDiff: number | null;
}

/** One `blocks` row. */
export interface BlockRow {
  /** Block hash, display order hex. */
  readonly hash: string;
  /** Block height. */
  readonly height: number;
  /** Finder's payout address. */
  readonly user: string;
  /** Finder's worker name. */
  readonly worker: string;
  /** Coinbase value paid to the finder. */
  readonly rewardSats: number;
  /** Region in the payload (where the block was found). */
  readonly region: string;
  /** A node accepted the block. */
  readonly accepted: boolean;
  /** The node's rejection text, when not accepted. */
  readonly rejectReason: string | null;
  /** Event time, µs since the epoch. */
  readonly foundAtUs: number;
  /** The block_found event. */
  readonly eventId: string;
}

/** Everything a batch adds besides the raw events. */
export interface BatchAggregates {
  /** Sorted by hash. */
  readonly blocks: BlockRow[];
  /** Sorted by (user, worker). */
  readonly miners: MinerDelta[];
  /** Sorted by (user, worker, hour). */
  readonly workerHours: WorkerHourDelta[];
}

function maxOrNull(a: number | null, b: number): number {
  return a === null || b > a ? b : a;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function minerOf(
  miners: Map<string, MinerDelta>,
  event: MiningEvent & { data: { user: string; worker: string } },
): MinerDelta {
  const { user, worker } = event.data;
  // The user is letters and digits only, so a NUL separator cannot make two keys collide.
  const key = `${user}\u0000${worker}`;
  let miner = miners.get(key);
  if (miner === undefined) {
    miner = {
      user,
      worker,
      firstSeenUs: event.timestamp,
      lastSeenUs: event.timestamp,
      lastShareUs: null,
      sharesAccepted: 0,
      sharesRejected: 0,
      bestDiff: null,
      userAgent: null,
      region: event.region,
      userAgentUs: -1,
    };
    miners.set(key, miner);
    return miner;
  }
  if (event.timestamp < miner.firstSeenUs) miner.firstSeenUs = event.timestamp;
  if (event.timestamp >= miner.lastSeenUs) {
    miner.lastSeenUs = event.timestamp;
    miner.region = event.region;
  }
  return miner;
}

function blockRow(event: EventOf<"block_found">): BlockRow {
  const data: BlockFound = event.data;
  return {
    hash: data.hash,
    height: data.height,
    user: data.user,
    worker: data.worker,
    rewardSats: data.reward_sats,
    region: data.region,
    accepted: data.accepted,
    rejectReason: data.reject_reason ?? null,
    foundAtUs: event.timestamp,
    eventId: event.event_id,
  };
}

/**
 * Sums the newly inserted events of one batch.
 *
 * @param events Events that `INSERT … RETURNING` reported as new, each at most once.
 * @returns Block rows and the miner and worker-hour deltas, sorted by key.
 */
export function aggregateBatch(events: readonly MiningEvent[]): BatchAggregates {
  const blocks: BlockRow[] = [];
  const miners = new Map<string, MinerDelta>();
  const hours = new Map<string, WorkerHourDelta>();
  for (const event of events) {
    if (event.event === "new_block_network") continue;
    const miner = minerOf(miners, event);
    switch (event.event) {
      case "share_submitted": {
        const share = event.data;
        miner.lastShareUs = Math.max(miner.lastShareUs ?? 0, event.timestamp);
        const hourUs = event.timestamp - (event.timestamp % MICROS_PER_HOUR);
        const key = `${share.user}\u0000${share.worker}\u0000${hourUs}`;
        let hour = hours.get(key);
        if (hour === undefined) {
          hour = {
            user: share.user,
            worker: share.worker,
            hourUs,
            sharesAccepted: 0,
            sharesRejected: 0,
            diffAccepted: 0,
            bestDiff: null,
          };
          hours.set(key, hour);
        }
        if (share.accepted) {
          miner.sharesAccepted++;
          miner.bestDiff = maxOrNull(miner.bestDiff, share.share_diff);
          hour.sharesAccepted++;
          hour.diffAccepted += share.pool_diff;
          hour.bestDiff = maxOrNull(hour.bestDiff, share.share_diff);
        } else {
          miner.sharesRejected++;
          hour.sharesRejected++;
        }
        break;
      }
      case "share_best_diff":
        miner.bestDiff = maxOrNull(miner.bestDiff, event.data.best_diff);
        break;
      case "miner_connected":
        if (event.timestamp >= miner.userAgentUs) {
          miner.userAgent = event.data.user_agent;
          miner.userAgentUs = event.timestamp;
        }
        break;
      case "block_found":
        blocks.push(blockRow(event));
        break;
      default:
        break;
    }
  }
  blocks.sort((a, b) => compareText(a.hash, b.hash));
  const minerRows = [...miners.values()].sort((a, b) =>
    compareText(a.user, b.user) || compareText(a.worker, b.worker)
  );
  const hourRows = [...hours.values()].sort((a, b) =>
    compareText(a.user, b.user) || compareText(a.worker, b.worker) || a.hourUs - b.hourUs
  );
  return { blocks, miners: minerRows, workerHours: hourRows };
}
