/**
 * Minimal bitcoind JSON-RPC client (HTTP basic auth, JSON-RPC 1.0 request shape) for the
 * support miner and tests.
 *
 * @module
 */

/** Where and how to reach a node. */
export interface RpcEndpoint {
  readonly url: string;
  readonly user: string;
  readonly password: string;
}

/** A JSON-RPC error returned by the node. */
export class RpcCallError extends Error {
  override readonly name = "RpcCallError";

  /** Wraps the node's error object and the HTTP status it came with. */
  constructor(readonly code: number, message: string, readonly httpStatus: number) {
    super(message);
  }
}

let nextId = 1;

/**
 * Calls one method.
 *
 * @throws {RpcCallError} when the node answers with an error object.
 * @throws {Error} on HTTP errors without a JSON-RPC body (e.g. 401) or connection failures.
 */
export async function rpcCall<T>(
  endpoint: RpcEndpoint,
  method: string,
  params: unknown[] = [],
  signal?: AbortSignal,
): Promise<T> {
  const response = await fetch(endpoint.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${btoa(`${endpoint.user}:${endpoint.password}`)}`,
    },
    body: JSON.stringify({ jsonrpc: "1.0", id: nextId++, method, params }),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  let body: { result?: unknown; error?: { code: number; message: string } | null };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`Cannot call ${method}: HTTP ${response.status} without JSON body`);
  }
  if (body.error) throw new RpcCallError(body.error.code, body.error.message, response.status);
  return body.result as T;
}
