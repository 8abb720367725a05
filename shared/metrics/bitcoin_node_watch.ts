/**
 * Wires a service's `btcd[]` pool to {@linkcode BitcoinNodeMetrics}: every RPC call timed into
 * `bitcoin_rpc_latency_ms`, and mempool and peer figures polled at `node_stats_poll_ms`.
 *
 * @module
 */
import type { BitcoindPool } from "../bitcoind/node_pool.ts";
import { NodeStatsPoller, type NodeStatsSource } from "../bitcoind/node_stats_poller.ts";
import type { StructuredLogger } from "../log/logger.ts";
import { BitcoinNodeMetrics } from "./bitcoin_node_metrics.ts";
import type { MetricRegistry } from "./registry.ts";

/** What {@linkcode watchBitcoinNode} needs. */
export interface BitcoinNodeWatchOptions {
  /** The service's `btcd[]` pool. */
  readonly pool: NodeStatsSource & Pick<BitcoindPool, "onRpcCall">;
  /** The service's registry, where the node metrics join. */
  readonly registry: MetricRegistry;
  /** `node_stats_poll_ms`: milliseconds between polls; 0 turns polling off (timing stays). */
  readonly pollIntervalMs: number;
  /** Where failed polls are logged (at most one line per change of state). */
  readonly log: StructuredLogger;
}

/** A running watch; {@linkcode BitcoinNodeWatch.stop} ends it. */
export interface BitcoinNodeWatch {
  /** The node metrics on the registry. */
  readonly metrics: BitcoinNodeMetrics;
  /** Stops polling (aborting a poll in flight) and timing. */
  stop(): Promise<void>;
}

/**
 * Registers the node metrics, times every call the pool makes, and starts the poller.
 *
 * @throws {Error} when the registry already holds the node metrics
 */
export function watchBitcoinNode(options: BitcoinNodeWatchOptions): BitcoinNodeWatch {
  const metrics = new BitcoinNodeMetrics(options.registry);
  const unobserve = options.pool.onRpcCall((call) =>
    metrics.observeRpc(call.method, call.durationMs, call.ok)
  );
  // A node that stays down would otherwise log every poll: log the first failure and recovery.
  let failing = false;
  const poller = options.pollIntervalMs === 0 ? null : new NodeStatsPoller({
    pool: options.pool,
    intervalMs: options.pollIntervalMs,
    onStats: (stats) => {
      metrics.noteStats(stats);
      if (failing) options.log.info("bitcoind node stats poll answers again");
      failing = false;
    },
    onFailure: (error) => {
      if (!failing) {
        options.log.warn("bitcoind node stats poll failed", { error: String(error) });
      }
      failing = true;
    },
  });
  poller?.start();
  return {
    metrics,
    async stop(): Promise<void> {
      await poller?.stop();
      unobserve();
    },
  };
}
