/**
 * Polls the active bitcoind for what the "Bitcoin Core" dashboard shows beyond the templates:
 * getmempoolinfo (mempool transactions and bytes) and getnetworkinfo (peer connections).
 *
 * Invariants:
 * - At most one poll is in flight: the next is scheduled only after the previous one finished,
 *   so a slow node is never asked faster than it answers.
 * - Each call has its own timeout (`timeoutMs`, below the interval), and `stop()` aborts a poll in
 *   flight, so the poller never outlives its service.
 * - A failed poll is reported to `onFailure` and never throws out of the timer. It goes through
 *   the `btcd[]` pool, so an unreachable node is marked failed there and `pool.connected` (the
 *   source of `ckpool_bitcoin_connected`) turns false; a mempool answer of an unexpected shape
 *   is a failed poll but leaves the node's standing alone.
 *
 * @module
 */
import { PollLoop } from "../service/poll_loop.ts";
import type { BitcoindPool, PoolCallOptions } from "./node_pool.ts";
import { RpcTransportError, TransportFailure } from "./rpc_client.ts";

/** What one poll of the node learned. */
export interface NodeStats {
  /** Transactions in the mempool (getmempoolinfo `size`). */
  readonly mempoolTxs: number;
  /** Virtual size of the mempool in bytes (getmempoolinfo `bytes`). */
  readonly mempoolBytes: number;
  /** Peer connections (getnetworkinfo `connections`). */
  readonly peers: number;
}

/** The fields of getmempoolinfo the poller reads. */
export interface MempoolInfo {
  /** Transactions in the mempool. */
  readonly size: number;
  /** Sum of their virtual sizes, bytes. */
  readonly bytes: number;
}

/** The part of {@link BitcoindPool} the poller uses. */
export type NodeStatsSource = Pick<BitcoindPool, "call" | "getNetworkInfo">;

/** Options of {@link NodeStatsPoller}. */
export interface NodeStatsPollerOptions {
  /** The `btcd[]` pool; calls go to its active node. */
  readonly pool: NodeStatsSource;
  /** Milliseconds between the end of one poll and the start of the next; positive. */
  readonly intervalMs: number;
  /** Timeout of each call, ms; default the smaller of `intervalMs` and 5,000. */
  readonly timeoutMs?: number;
  /** Receives each successful poll's result. */
  readonly onStats: (stats: NodeStats) => void;
  /** Receives each failed poll's error (for logging). */
  readonly onFailure?: (error: unknown) => void;
}

const DEFAULT_MAX_TIMEOUT_MS = 5_000;

/**
 * Reads getmempoolinfo's result.
 *
 * @param url the node, for the error message
 * @throws {RpcTransportError} (malformed) unless `size` and `bytes` are non-negative integers
 */
export function parseMempoolInfo(result: unknown, url: string): MempoolInfo {
  if (typeof result === "object" && result !== null && !Array.isArray(result)) {
    const { size, bytes } = result as { size?: unknown; bytes?: unknown };
    if (isCount(size) && isCount(bytes)) return { size, bytes };
  }
  throw new RpcTransportError(
    url,
    "getmempoolinfo",
    TransportFailure.malformed,
    "unexpected result shape (expected size and bytes as non-negative integers)",
  );
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Polls mempool and peer figures from the active node at a fixed pace. */
export class NodeStatsPoller {
  readonly #pool: NodeStatsSource;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #onStats: (stats: NodeStats) => void;
  readonly #onFailure: (error: unknown) => void;
  readonly #loop: PollLoop;

  /**
   * @param options the pool, pace and receivers
   * @throws {RangeError} when `intervalMs` or `timeoutMs` is not a positive number
   */
  constructor(options: NodeStatsPollerOptions) {
    this.#pool = options.pool;
    this.#intervalMs = options.intervalMs;
    this.#timeoutMs = options.timeoutMs ?? Math.min(options.intervalMs, DEFAULT_MAX_TIMEOUT_MS);
    for (
      const [name, value] of [["intervalMs", this.#intervalMs], ["timeoutMs", this.#timeoutMs]]
    ) {
      if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
        throw new RangeError(`Cannot create node stats poller: ${name} must be positive`);
      }
    }
    this.#onStats = options.onStats;
    this.#onFailure = options.onFailure ?? (() => {});
    this.#loop = new PollLoop(this.#intervalMs, () => this.pollOnce());
  }

  /** Polls at once, then every `intervalMs` after the previous poll ends, until {@link stop}. */
  start(): void {
    this.#loop.start();
  }

  /** Stops the timer and aborts a poll in flight; resolves once it has ended. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /**
   * One poll: getmempoolinfo and getnetworkinfo in parallel on the active node.
   *
   * @returns true when both answered (and `onStats` was called), false otherwise
   */
  async pollOnce(): Promise<boolean> {
    const options: PoolCallOptions = { timeoutMs: this.#timeoutMs, signal: this.#loop.signal };
    try {
      // Parsed outside the pool's call: an answer of an unexpected shape is this poller's
      // problem, not the node being down, so it must not make the pool fail over.
      let url = "";
      const [rawMempool, network] = await Promise.all([
        this.#pool.call("getmempoolinfo", (rpc, o) => {
          url = rpc.url;
          return rpc.call("getmempoolinfo", [], o);
        }, options),
        this.#pool.getNetworkInfo(options),
      ]);
      const mempool = parseMempoolInfo(rawMempool, url);
      this.#onStats({
        mempoolTxs: mempool.size,
        mempoolBytes: mempool.bytes,
        peers: network.connections,
      });
      return true;
    } catch (error) {
      if (!this.#loop.signal.aborted) this.#onFailure(error);
      return false;
    }
  }
}
