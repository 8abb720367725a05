/**
 * Metrics of the bitcoind node a pool or relay talks to (seed Phase 5 §5.2, dashboard "Bitcoin
 * Core"): mempool size and peers from cheap polls, and the latency of every RPC call the process
 * makes. The tip height and reachability are `ckpool_bitcoin_height` and
 * `ckpool_bitcoin_connected` in {@linkcode PoolMetrics}, fed by the templates already fetched.
 *
 * ```ts
 * const node = new BitcoinNodeMetrics(metrics.registry);
 * pool.onRpcCall((call) => node.observeRpc(call.method, call.durationMs, call.ok));
 * node.noteStats({ mempoolTxs: 3_412, mempoolBytes: 1_912_004, peers: 10 });
 * ```
 *
 * @module
 */
import { CellCounter, type CounterCell } from "./counter.ts";
import { CellGauge, type GaugeCell } from "./gauge.ts";
import { CellHistogram, type HistogramCell } from "./histogram.ts";
import type { MetricRegistry } from "./registry.ts";
import type { NodeStats } from "../bitcoind/node_stats_poller.ts";

/**
 * The RPC methods the services call; their series exist from the start. Any other method is
 * counted under {@linkcode OTHER_RPC_METHOD}, so the label's values stay a fixed, small set.
 */
export const BITCOIN_RPC_METHODS: readonly string[] = Object.freeze([
  "getblocktemplate",
  "getbestblockhash",
  "getblockchaininfo",
  "getblockcount",
  "getblockheader",
  "getmempoolinfo",
  "getnetworkinfo",
  "submitblock",
  "validateaddress",
]);

/** The `method` label of a call to a method outside {@linkcode BITCOIN_RPC_METHODS}. */
export const OTHER_RPC_METHOD = "other";

/**
 * Bucket bounds of `bitcoin_rpc_latency_ms`: loopback calls take about a millisecond,
 * getblocktemplate of a full mempool a few hundred, a call that times out ten seconds.
 */
export const RPC_LATENCY_MS_BUCKETS: readonly number[] = Object.freeze([
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
]);

interface MethodCells {
  readonly latency: HistogramCell;
  readonly errors: CounterCell;
}

/** The node's metrics on a service's registry. */
export class BitcoinNodeMetrics {
  /** `bitcoin_mempool_size`: transactions in the active node's mempool. */
  readonly mempoolSize: GaugeCell;
  /** `bitcoin_mempool_bytes`: virtual size of the active node's mempool. */
  readonly mempoolBytes: GaugeCell;
  /** `bitcoin_peer_count`: the active node's peer connections. */
  readonly peerCount: GaugeCell;
  readonly #methods = new Map<string, MethodCells>();

  /**
   * Registers the metrics on `registry`.
   *
   * @throws {Error} when the registry already holds one of these names.
   */
  constructor(registry: MetricRegistry) {
    this.mempoolSize = new CellGauge({
      registry,
      name: "bitcoin_mempool_size",
      help: "Transactions in the active bitcoind's mempool (getmempoolinfo size), last poll.",
    }).child();
    this.mempoolBytes = new CellGauge({
      registry,
      name: "bitcoin_mempool_bytes",
      help: "Virtual size of the active bitcoind's mempool in bytes (getmempoolinfo bytes).",
    }).child();
    this.peerCount = new CellGauge({
      registry,
      name: "bitcoin_peer_count",
      help: "Peer connections of the active bitcoind (getnetworkinfo connections), last poll.",
    }).child();
    const latency = new CellHistogram<"method">({
      registry,
      name: "bitcoin_rpc_latency_ms",
      help: "Duration of bitcoind JSON-RPC calls (every node, failed calls too), in milliseconds.",
      labelNames: ["method"],
      buckets: RPC_LATENCY_MS_BUCKETS,
    });
    const errors = new CellCounter<"method">({
      registry,
      name: "bitcoin_rpc_errors_total",
      help: "bitcoind JSON-RPC calls that failed (transport, timeout or an RPC error), by method.",
      labelNames: ["method"],
    });
    for (const method of [...BITCOIN_RPC_METHODS, OTHER_RPC_METHOD]) {
      this.#methods.set(method, {
        latency: latency.child({ method }),
        errors: errors.child({ method }),
      });
    }
  }

  /**
   * Records one finished RPC call.
   *
   * @param method the JSON-RPC method; one outside {@linkcode BITCOIN_RPC_METHODS} counts as
   *   {@linkcode OTHER_RPC_METHOD}
   * @param durationMs how long it took; negative or non-finite durations are ignored
   * @param ok false when the call failed
   */
  observeRpc(method: string, durationMs: number, ok: boolean): void {
    const cells = this.#methods.get(method) ?? this.#methods.get(OTHER_RPC_METHOD)!;
    if (Number.isFinite(durationMs) && durationMs >= 0) cells.latency.observe(durationMs);
    if (!ok) cells.errors.inc();
  }

  /** Records what a poll of the node learned. */
  noteStats(stats: NodeStats): void {
    this.mempoolSize.set(stats.mempoolTxs);
    this.mempoolBytes.set(stats.mempoolBytes);
    this.peerCount.set(stats.peers);
  }
}
