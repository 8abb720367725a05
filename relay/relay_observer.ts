/**
 * Connects the failover source's observer hooks to the relay's Prometheus cells.
 *
 * @module
 */
import type { TemplateUpdate } from "@tbg/shared/bitcoind";
import type { PoolMetrics, RelayMetrics } from "@tbg/shared/metrics";
import { RelayMode } from "./failover_policy.ts";
import type { FailoverObserver } from "./failover_source.ts";
import { SubmitOutcome, SubmitPath } from "./dual_submit.ts";

/**
 * The primary's send stamp of a template, if the update carries one (live NATS templates do;
 * replayed or local ones do not).
 */
export type SentAtOf = (update: TemplateUpdate) => number | undefined;

/**
 * A {@link FailoverObserver} writing to `relay` (mode, preemptive clean_jobs, template latency,
 * per-path block submissions) and to the pool's `block_submit_failures_total{target="primary"}`.
 *
 * @param relay the relay's metrics
 * @param pool the pool metrics of the same registry
 * @param sentAtOf reads the primary's send stamp from an update (receipt is `receivedAtMs`)
 */
export function relayMetricsObserver(
  relay: RelayMetrics,
  pool: PoolMetrics,
  sentAtOf: SentAtOf,
): FailoverObserver {
  return {
    modeChanged(mode) {
      const independent = mode === RelayMode.independent;
      if (independent && relay.independentMode.value !== 1) relay.independentActivations.inc();
      relay.independentMode.setBoolean(independent);
    },
    preemptiveCleanJobs() {
      relay.preemptiveCleanJobs.inc();
    },
    primaryTemplate(update) {
      const sentAtMs = sentAtOf(update);
      if (sentAtMs !== undefined) relay.noteTemplateFromPrimary(sentAtMs, update.receivedAtMs);
      else relay.templatesReceived.inc();
    },
    blockSubmitPath(path, outcome, ms) {
      relay.noteBlockSubmit(path, outcome, ms);
      if (path === SubmitPath.primary && outcome !== SubmitOutcome.accepted) {
        pool.blockSubmitFailures.primary.inc();
      }
    },
  };
}
