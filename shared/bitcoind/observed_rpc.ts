/**
 * A {@link BitcoindRpc} that reports the duration and outcome of every call it makes, for the
 * `bitcoin_rpc_latency_ms` histogram. Every typed method (`getBlockTemplate`, `submitBlock`, …)
 * goes through `call()`, so overriding it times them all without touching their parsing.
 *
 * @module
 */
import {
  BitcoindRpc,
  type BitcoindRpcOptions,
  longPollParams,
  type RpcCallOptions,
} from "./rpc_client.ts";

/** One finished RPC call. */
export interface RpcCallRecord {
  /** The JSON-RPC method, e.g. `getblocktemplate`. */
  readonly method: string;
  /** From sending the request to the parsed answer or the failure, in milliseconds. */
  readonly durationMs: number;
  /** False when the call threw (transport failure, timeout or an RPC error object). */
  readonly ok: boolean;
}

/**
 * Receives every finished call (except those its caller aborted); runs on the caller's path, so
 * it must be cheap and not throw.
 */
export type RpcCallObserver = (record: RpcCallRecord) => void;

/** A {@link BitcoindRpc} whose every call is reported to an observer. */
export class ObservedBitcoindRpc extends BitcoindRpc {
  readonly #observe: RpcCallObserver;

  /**
   * @param options node address and credentials
   * @param observe told of every finished call
   * @throws {TypeError} when the url is malformed
   */
  constructor(options: BitcoindRpcOptions, observe: RpcCallObserver) {
    super(options);
    this.#observe = observe;
  }

  /**
   * {@link BitcoindRpc.longPollBlockTemplate}, not reported: a long poll lasts as long as the node
   * waits for a new template (up to minutes), so timing it as getblocktemplate would bury the
   * latency of the real template fetches.
   */
  override longPollBlockTemplate(
    longPollId: string,
    options: RpcCallOptions = {},
  ): Promise<unknown> {
    return super.call("getblocktemplate", longPollParams(longPollId), options);
  }

  /** {@link BitcoindRpc.call}, timed and reported. */
  override async call(
    method: string,
    params: readonly unknown[] = [],
    options: RpcCallOptions = {},
  ): Promise<unknown> {
    const startedAt = performance.now();
    let ok = false;
    try {
      const result = await super.call(method, params, options);
      ok = true;
      return result;
    } finally {
      // A call its caller aborted (shutdown) says nothing about the node: not reported.
      if (options.signal?.aborted !== true) {
        this.#observe({ method, durationMs: performance.now() - startedAt, ok });
      }
    }
  }
}
