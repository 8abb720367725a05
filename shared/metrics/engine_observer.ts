/**
 * Connects the engine's observer hooks to the pool's Prometheus cells. The hooks run on the share
 * path, so each is a field access and an increment.
 */
import type { EngineObserver } from "../engine/engine.ts";
import { RejectReason } from "../engine/share.ts";
import type { PoolMetrics } from "./pool_metrics.ts";

const REASONS = new Set<string>(Object.values(RejectReason));

/** An EngineObserver that records into `metrics`. */
export function metricsObserver(metrics: PoolMetrics): EngineObserver {
  return {
    connections: (count) => metrics.connectedMiners.set(count),
    share: (accepted, reason, handlingUs) => {
      if (accepted) metrics.sharesValid.inc();
      else {
        const key =
          (reason !== null && REASONS.has(reason) ? reason : RejectReason.invalid) as RejectReason;
        metrics.sharesRejected[key].inc();
      }
      if (handlingUs > 0) metrics.submitLatencyUs.observe(handlingUs);
    },
    blockSubmitted: (accepted) => {
      if (accepted) metrics.blocksFound.inc();
      else metrics.blockSubmitFailures.bitcoind.inc();
    },
    rateLimited: (rule) => metrics.rateLimitRejections.inc(rule),
    protocolError: (kind) => metrics.protocolErrors.inc(kind),
    hashrate: (totalHs) => metrics.hashrateHps.set(totalHs),
    notifyBroadcast: (ms, _sessions, cleanJobs) => {
      if (cleanJobs) metrics.notifyBroadcastMs.observe(ms);
    },
  };
}
