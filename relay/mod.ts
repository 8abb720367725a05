/**
 * The regional relay: the Stratum engine fed with the primary's templates over NATS, with
 * preemptive clean_jobs and independent mode from the local bitcoind, dual block submission and
 * the relay metrics. `main.ts` is the service entry; this module is for in-process tests.
 *
 * @module
 */
export * from "./dual_submit.ts";
export * from "./failover_policy.ts";
export * from "./failover_source.ts";
export * from "./primary_rtt.ts";
export * from "./relay_observer.ts";
export * from "./relay_runtime.ts";
export * from "./replication_lag.ts";
