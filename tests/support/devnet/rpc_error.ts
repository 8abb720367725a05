/**
 * JSON-RPC error codes Bitcoin Core uses, and the error type RPC handlers throw.
 *
 * @module
 */

/** Core's RPC error codes (src/rpc/protocol.h) that the devnet produces. */
export const RpcCode = {
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  PARSE_ERROR: -32700,
  MISC_ERROR: -1,
  TYPE_ERROR: -3,
  INVALID_ADDRESS_OR_KEY: -5,
  INVALID_PARAMETER: -8,
  CLIENT_NOT_CONNECTED: -9,
  CLIENT_IN_INITIAL_DOWNLOAD: -10,
  DESERIALIZATION_ERROR: -22,
  VERIFY_ERROR: -25,
} as const;
/** One of {@link RpcCode}. */
export type RpcCode = typeof RpcCode[keyof typeof RpcCode];

/** An error that becomes a JSON-RPC error object `{code, message}`. */
export class RpcError extends Error {
  override readonly name = "RpcError";

  /** Creates an error with Core's code (or a dialect's) and message. */
  constructor(readonly code: RpcCode | number, message: string) {
    super(message);
  }
}
