/**
 * Serialises responses and notifications as single newline-terminated JSON lines.
 * Strings built here are sent as-is, so every function returns a complete line.
 */
import type { StratumWireError } from "./errors.ts";
import { type NotifyParams, type RequestId, ServerMethod } from "./messages.ts";

/** A response line for request `id`. */
export function encodeResult(id: RequestId, result: unknown): string {
  // `true` answers every accepted share and authorize: skip the generic serializer for it.
  const json = result === true ? "true" : JSON.stringify(result);
  return `{"id":${encodeId(id)},"result":${json},"error":null}\n`;
}

/** An error response line for request `id`. */
export function encodeError(id: RequestId, error: StratumWireError): string {
  // Written out rather than JSON.stringify(error): the same text, without walking the array.
  return `{"id":${encodeId(id)},"result":null,"error":[${error[0]},${
    JSON.stringify(error[1])
  },null]}\n`;
}

/** JSON of a request id; ids come from JSON.parse, so numbers are finite. */
function encodeId(id: RequestId): string {
  return typeof id === "number" && Number.isFinite(id) ? `${id}` : JSON.stringify(id);
}

/** A server notification line (`id` null). */
export function encodeNotification(method: ServerMethod, params: readonly unknown[]): string {
  return `{"id":null,"method":"${method}","params":${JSON.stringify(params)}}\n`;
}

/** The mining.notify line for one job. */
export function encodeNotify(p: NotifyParams): string {
  return encodeNotification(ServerMethod.notify, [
    p.jobId,
    p.prevHash,
    p.coinb1,
    p.coinb2,
    p.merkleBranch,
    p.version,
    p.nbits,
    p.ntime,
    p.cleanJobs,
  ]);
}

/** The mining.set_difficulty line; fractional difficulties are sent as JSON numbers. */
export function encodeSetDifficulty(difficulty: number): string {
  return encodeNotification(ServerMethod.setDifficulty, [difficulty]);
}

/** Big-endian 8-char hex of a 32-bit unsigned value, as Stratum carries version, nbits and ntime. */
export function u32Hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}
